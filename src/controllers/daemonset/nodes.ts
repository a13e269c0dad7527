/**
 * Which nodes a DaemonSet's pods belong on, as Kubernetes' NodeShouldRunDaemonPod: the
 * template's nodeName (if any), nodeSelector and required node affinity must match, and the
 * node's NoSchedule/NoExecute taints must be tolerated by the pod's tolerations plus the ones
 * every daemon pod gets. A pod already running may stay on a node whose only untolerated
 * taints are NoSchedule (they keep new pods away, they evict nobody). Daemon pods are pinned to
 * their node by a required node affinity on metadata.name, for the scheduler to bind them.
 */
import type { KObject } from '../../client/client.js';
import { nodeMatchesPod } from '../../scheduler/plugins/nodeaffinity.js';
import { untolerated } from '../../scheduler/plugins/taints.js';

/** Tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations). */
export const DAEMON_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

/** Added for hostNetwork pods, which do not need the node's network. */
const NETWORK_UNAVAILABLE = { key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' };

/**
 * The tolerations of a daemon pod: its template's, where one with the same key, operator,
 * value and effect as a standard toleration is replaced by it (so a tolerationSeconds on
 * not-ready is dropped: daemon pods are never evicted for it), and the standard ones appended.
 */
export function daemonTolerations(template: any): any[] {
  let out: any[] = [...(template?.spec?.tolerations ?? [])];
  const std = [...DAEMON_TOLERATIONS, ...(template?.spec?.hostNetwork ? [NETWORK_UNAVAILABLE] : [])];
  for (const t of std) {
    const same = (o: any) => (o.key ?? '') === t.key && (o.operator ?? 'Equal') === t.operator && (o.value ?? '') === '' && (o.effect ?? '') === t.effect;
    if (out.some(same)) out = out.map((o) => (same(o) ? { ...t } : o));
    else out.push({ ...t });
  }
  return out;
}

/** Whether a daemon pod should be created on a node, and whether one there may stay. */
export interface NodeFit { shouldRun: boolean; shouldContinueRunning: boolean }

/** NodeShouldRunDaemonPod for a DaemonSet's template. */
export function nodeShouldRunDaemonPod(template: any, node: KObject): NodeFit {
  const no = { shouldRun: false, shouldContinueRunning: false };
  if (node.metadata.deletionTimestamp) return no;
  const spec = template?.spec ?? {};
  if (spec.nodeName && spec.nodeName !== node.metadata.name) return no;
  const probe = { metadata: {}, spec: { ...spec, tolerations: daemonTolerations(template) } };
  if (!nodeMatchesPod(probe, node)) return no;
  const taints: any[] = node.spec?.taints ?? [];
  if (!untolerated(taints, probe.spec.tolerations)) return { shouldRun: true, shouldContinueRunning: true };
  // Untolerated taints: keep a running pod unless one of them is NoExecute.
  const noExecute = untolerated(taints.filter((t) => t.effect === 'NoExecute'), probe.spec.tolerations);
  return { shouldRun: false, shouldContinueRunning: !noExecute };
}

/** Should a new daemon pod of this template go on this node? */
export function nodeEligible(template: any, node: KObject): boolean {
  return nodeShouldRunDaemonPod(template, node).shouldRun;
}

/** The node a daemon pod is for: its binding, or else its pinned node affinity (GetTargetNodeName). */
export function nodeOfPod(p: KObject): string | undefined {
  if (p.spec?.nodeName) return p.spec.nodeName;
  for (const t of p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    const f = (t.matchFields ?? []).find((x: any) => x.key === 'metadata.name' && x.operator === 'In');
    if (f?.values?.length === 1) return f.values[0];
  }
  return undefined;
}

/**
 * The affinity of a daemon pod for `node` (ReplaceDaemonSetPodNodeNameNodeAffinity): the
 * template's, with its required node selector terms replaced by one term matching the node's
 * name; preferred terms and pod (anti-)affinity stay.
 */
export function pinnedAffinity(affinity: any, node: string): any {
  const term = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] };
  const out = structuredClone(affinity ?? {});
  out.nodeAffinity = { ...(out.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } };
  return out;
}
