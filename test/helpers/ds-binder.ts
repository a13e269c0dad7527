/**
 * A test-only stand-in for the default scheduler's handling of DaemonSet pods: a pod pinned
 * to a node by a required node affinity `metadata.name In [node]` (as the DaemonSet
 * controller makes them) is bound to that node through pods/binding once the node exists.
 * Nothing else is placed; tests of the DaemonSet controller need its pods to run, not a
 * scheduler.
 */
import type { ApiClient, KObject } from '../../src/client/client.js';
import { resourcePath } from '../../src/client/client.js';
import { R } from '../../src/client/resources.js';
import { Informer } from '../../src/controllers/runtime/informer.js';
import { listWatch } from '../../src/client/listwatch.js';

/** The node a pod is pinned to by matchFields metadata.name, if any. */
export function pinnedNode(pod: KObject): string | undefined {
  for (const t of pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    const f = (t.matchFields ?? []).find((x: any) => x.key === 'metadata.name' && x.operator === 'In' && x.values?.length === 1);
    if (f) return f.values[0];
  }
  return undefined;
}

/** Binds pinned pods to their nodes. */
export class DaemonPodBinder {
  private readonly pods: Informer;
  private readonly nodes: Informer;
  private readonly inflight = new Set<string>();
  /** Bindings made: "ns/name" -> node. */
  readonly bindings = new Map<string, string>();

  constructor(private readonly client: ApiClient) {
    this.pods = new Informer(listWatch(client, R.pods));
    this.nodes = new Informer(listWatch(client, R.nodes));
    this.pods.on({ add: (p) => this.maybeBind(p), update: (_o, p) => this.maybeBind(p) });
    // A node registering later takes the pods waiting for it.
    this.nodes.on({ add: (n) => { for (const p of this.pods.list()) if (pinnedNode(p) === n.metadata.name) this.maybeBind(p); } });
  }

  /** Starts watching. */
  async start(): Promise<this> {
    this.nodes.start();
    await this.nodes.synced;
    this.pods.start();
    await this.pods.synced;
    return this;
  }

  /** Stops watching. */
  stop(): void { this.pods.stop(); this.nodes.stop(); }

  private maybeBind(pod: KObject): void {
    const node = pinnedNode(pod);
    if (!node || pod.spec?.nodeName || pod.metadata.deletionTimestamp || this.inflight.has(pod.metadata.uid)) return;
    if (!this.nodes.get(node)) return;
    this.inflight.add(pod.metadata.uid);
    const body = { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace }, target: { apiVersion: 'v1', kind: 'Node', name: node } };
    void this.client.request('POST', resourcePath(R.pods, pod.metadata.namespace, pod.metadata.name, 'binding'), body)
      .then(() => this.bindings.set(`${pod.metadata.namespace}/${pod.metadata.name}`, node))
      .catch(() => { this.inflight.delete(pod.metadata.uid); });
  }
}
