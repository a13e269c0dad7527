/**
 * The node agent's own Prometheus metrics (its `/metrics`), named as the kubelet's: the node
 * name; pods with a running sandbox and containers by state (read from the engine when
 * scraped); how long pods took from first sight to Running; pods and containers started; the
 * containers per pod; plus the process metrics of prom-client. Pod events come from the pod
 * informer the agent already runs, so nothing here touches the pod workers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KObject } from '../../client/client.js';
import type { Informer } from '../../controllers/runtime/informer.js';
import type { PodRuntime } from '../runtime.js';

/** kubelet's buckets of pod start durations (seconds). */
const START_BUCKETS = [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600];

/** What the metrics read. */
export interface KubeletMetricsOptions {
  nodeName: string;
  runtime: PodRuntime;
  /** The agent's pod informer (pods bound to this node). */
  pods: Informer;
  /** Where to register (default: a new registry). */
  registry?: Registry;
  now?: () => number;
}

/** The container_type label of a container status list. */
const TYPES: [string, string][] = [['containerStatuses', 'container'], ['initContainerStatuses', 'init_container'], ['ephemeralContainerStatuses', 'ephemeral_container']];

/** Registers the kubelet's metrics and follows the pods; `registry` is what /metrics serves. */
export class KubeletMetrics {
  readonly registry: Registry;
  private readonly firstSeen = new Map<string, number>();

  constructor(o: KubeletMetricsOptions) {
    const registers = [(this.registry = o.registry ?? new Registry())];
    const now = o.now ?? Date.now;
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'kubelet_node_name', help: 'The node\'s name. The count is always 1.', labelNames: ['node'], registers }).set({ node: o.nodeName }, 1);
    const runtime = o.runtime;
    new Gauge({
      name: 'kubelet_running_pods', help: 'Number of pods that have a running pod sandbox', registers,
      async collect() { this.set([...(await runtime.relist()).values()].filter((s) => s.sandboxes.some((x) => x.state === 'ready')).length); },
    });
    new Gauge({
      name: 'kubelet_running_containers', help: 'Number of containers currently running', labelNames: ['container_state'], registers,
      async collect() {
        const counts: Record<string, number> = { created: 0, running: 0, exited: 0, unknown: 0 };
        for (const s of (await runtime.relist()).values()) {
          for (const c of s.containers) {
            const st = c.rec.status === 'running' || c.rec.status === 'created' || c.rec.status === 'exited' ? c.rec.status : 'unknown';
            counts[st]++;
          }
        }
        this.reset();
        for (const [k, v] of Object.entries(counts)) this.set({ container_state: k }, v);
      },
    });
    const startDuration = new Histogram({ name: 'kubelet_pod_start_duration_seconds', help: 'Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run', buckets: START_BUCKETS, registers });
    const startedPods = new Counter({ name: 'kubelet_started_pods_total', help: 'Cumulative number of pods started', registers });
    const startedContainers = new Counter({ name: 'kubelet_started_containers_total', help: 'Cumulative number of containers started', labelNames: ['container_type'], registers });
    const perPod = new Histogram({ name: 'kubelet_containers_per_pod_count', help: 'The number of containers per pod.', buckets: [1, 2, 4, 8, 16], registers });
    for (const [, t] of TYPES) startedContainers.inc({ container_type: t }, 0);

    o.pods.on({
      add: (p) => {
        this.firstSeen.set(p.metadata.uid, now());
        perPod.observe((p.spec?.containers?.length ?? 0) + (p.spec?.initContainers?.length ?? 0));
      },
      update: (old, p) => {
        // As the kubelet: observed when the pod goes from Pending to Running.
        const seen = this.firstSeen.get(p.metadata.uid);
        if (seen !== undefined && old.status?.phase === 'Pending' && p.status?.phase === 'Running') startDuration.observe((now() - seen) / 1000);
        // A new sandbox: the pod's PodReadyToStartContainers condition turning True.
        if (sandboxReadySince(p) && sandboxReadySince(p) !== sandboxReadySince(old)) startedPods.inc();
        for (const [field, type] of TYPES) {
          const before = new Set((old.status?.[field] ?? []).map((c: any) => c.containerID).filter(Boolean));
          for (const c of p.status?.[field] ?? []) if (c.containerID && !before.has(c.containerID)) startedContainers.inc({ container_type: type });
        }
      },
      delete: (p) => { this.firstSeen.delete(p.metadata.uid); },
    });
  }
}

function sandboxReadySince(p: KObject): string | undefined {
  const c = (p.status?.conditions ?? []).find((x: any) => x.type === 'PodReadyToStartContainers');
  return c?.status === 'True' ? c.lastTransitionTime : undefined;
}
