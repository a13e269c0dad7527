/**
 * The kubelet's Summary API (`/stats/summary`, stats/v1alpha1) from a snapshot: the node's and
 * each pod's and container's CPU (usageCoreNanoSeconds and, once two readings exist,
 * usageNanoCores) and memory (usage, working set, RSS, page faults; the node's available
 * bytes). Filesystem, network and volume statistics are not measured yet and left out.
 */
import type { StatsSnapshot, Usage } from './stats.js';

/** metav1.Time: RFC 3339 in whole seconds. */
const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function cpu(u: Usage) {
  return { time: time(u.time), ...(u.nanoCores !== undefined ? { usageNanoCores: u.nanoCores } : {}), usageCoreNanoSeconds: u.cpuNs };
}

function memory(u: Usage, available?: number) {
  return {
    time: time(u.time), ...(available !== undefined ? { availableBytes: available } : {}),
    usageBytes: u.usage, workingSetBytes: u.workingSet, rssBytes: u.rss, pageFaults: u.pageFaults, majorPageFaults: u.majorPageFaults,
  };
}

/** The Summary of a snapshot for node `nodeName`. */
export function summary(s: StatsSnapshot, nodeName: string) {
  return {
    node: {
      nodeName, startTime: time(s.node.startTime), cpu: cpu(s.node), memory: memory(s.node, s.node.memoryAvailable),
    },
    pods: s.pods.map((p) => ({
      podRef: { name: p.name, namespace: p.namespace, uid: p.uid },
      startTime: time(p.startTime),
      containers: p.containers.map((c) => ({ name: c.name, startTime: time(c.startTime), cpu: cpu(c), memory: memory(c) })),
      cpu: cpu(p), memory: memory(p),
    })),
  };
}
