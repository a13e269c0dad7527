/**
 * A test-only stand-in for the scheduler: binds every unscheduled pod to one of the given
 * (simulated) nodes, round robin, through the pods/binding subresource, as a scheduler would.
 * It knows nothing of resources, affinity or taints; tests of the batch controllers need pods
 * to run, not to be placed well.
 */
import type { ApiClient, KObject } from '../../src/client/client.js';
import { resourcePath } from '../../src/client/client.js';
import { R } from '../../src/client/resources.js';
import { Informer, keyOf } from '../../src/controllers/runtime/informer.js';
import { listWatch } from '../../src/client/listwatch.js';

/** Binds pending pods to `nodes`. */
export class TestBinder {
  private readonly pods: Informer;
  private readonly bound = new Set<string>();
  private next = 0;
  /** Pods bound so far, by name ("ns/name" -> node). */
  readonly bindings = new Map<string, string>();

  constructor(private readonly client: ApiClient, private readonly nodes: string[]) {
    this.pods = new Informer(listWatch(client, R.pods));
    this.pods.on({ add: (p) => this.maybeBind(p), update: (_o, p) => this.maybeBind(p) });
  }

  /** Starts watching pods. */
  async start(): Promise<this> {
    this.pods.start();
    await this.pods.synced;
    return this;
  }

  /** Stops watching. */
  stop(): void { this.pods.stop(); }

  private maybeBind(pod: KObject): void {
    if (pod.spec?.nodeName || pod.metadata.deletionTimestamp || this.bound.has(pod.metadata.uid)) return;
    this.bound.add(pod.metadata.uid);
    const node = this.nodes[this.next++ % this.nodes.length];
    const body = { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace }, target: { apiVersion: 'v1', kind: 'Node', name: node } };
    void this.client.request('POST', resourcePath(R.pods, pod.metadata.namespace, pod.metadata.name, 'binding'), body)
      .then(() => this.bindings.set(keyOf(pod), node))
      .catch(() => { this.bound.delete(pod.metadata.uid); });
  }
}
