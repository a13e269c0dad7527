/**
 * Which pods a ReplicaSet deletes first when it has too many, as kube-controller-manager's
 * ActivePodsWithRanks: unscheduled before scheduled, Pending before Unknown before Running,
 * not ready before ready, lower `controller.kubernetes.io/pod-deletion-cost` first, pods
 * doubled up on a node (with other pods of the same Deployment) first, then the pod ready for
 * less time, the one with more restarts, the newer one. Times compare on a logarithmic scale
 * (LogarithmicScaleDown, GA since 1.31): pods whose ages fall in the same power-of-two bucket
 * are equivalent and ordered by uid, so scale-downs do not always pick the very newest pod.
 */
import type { KObject } from '../../client/client.js';
import { isPodActive, isPodReady } from '../pods.js';

/** The annotation by which users say how costly a pod is to delete (int32, default 0). */
export const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** A pod's deletion cost; absent or invalid values count as 0, as Kubernetes. */
export function deletionCost(pod: KObject): number {
  const v = pod.metadata.annotations?.[DELETION_COST];
  if (v === undefined || !/^[+-]?\d+$/.test(v.trim())) return 0;
  const n = Number(v.trim());
  return n >= -2147483648 && n <= 2147483647 ? n : 0;
}

function readyTime(pod: KObject): number {
  const c = (pod.status?.conditions ?? []).find((x: any) => x.type === 'Ready' && x.status === 'True');
  return c ? Date.parse(c.lastTransitionTime ?? '') || 0 : 0;
}

function restarts(pod: KObject): number {
  return (pod.status?.containerStatuses ?? []).reduce((m: number, c: any) => Math.max(m, c.restartCount ?? 0), 0);
}

function created(pod: KObject): number {
  return Date.parse(pod.metadata.creationTimestamp ?? '') || 0;
}

/** floor(log2(age in ns)), or -1 for a time not in the past: the bucket of a timestamp. */
export function logBucket(t: number, now: number): number {
  const ns = (now - t) * 1e6;
  return ns > 0 ? Math.floor(Math.log2(ns)) : -1;
}

/**
 * Compares two times, "more recent first": a zero (unknown) time comes first; with `now` the
 * comparison is by logarithmic bucket and equal buckets fall back to the uids.
 */
function recentFirst(ta: number, tb: number, now: number, a: KObject, b: KObject): number {
  if (!now || !ta || !tb) {
    if (!ta || !tb) return ta ? 1 : -1;
    return tb - ta;
  }
  const diff = logBucket(ta, now) - logBucket(tb, now);
  if (diff === 0) return a.metadata.uid < b.metadata.uid ? -1 : a.metadata.uid > b.metadata.uid ? 1 : 0;
  return diff;
}

/** A pod with its rank: how many active related pods share its node. */
export interface RankedPod { pod: KObject; rank: number }

/** Negative when `a` should be deleted before `b` (Kubernetes' ActivePodsWithRanks.Less). */
export function compareForDeletion(a: RankedPod, b: RankedPod, now: number): number {
  const pa = a.pod, pb = b.pod;
  const na = pa.spec?.nodeName ?? '', nb = pb.spec?.nodeName ?? '';
  if (na !== nb && (!na || !nb)) return na ? 1 : -1;
  const ph = (p: KObject) => PHASE_ORDINAL[p.status?.phase ?? ''] ?? 0;
  if (ph(pa) !== ph(pb)) return ph(pa) - ph(pb);
  const ra = isPodReady(pa), rb = isPodReady(pb);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(pa), cb = deletionCost(pb);
  if (ca !== cb) return ca - cb;
  if (a.rank !== b.rank) return b.rank - a.rank;
  if (ra && rb) {
    const ta = readyTime(pa), tb = readyTime(pb);
    if (ta !== tb) return recentFirst(ta, tb, now, pa, pb);
  }
  if (restarts(pa) !== restarts(pb)) return restarts(pb) - restarts(pa);
  const ka = created(pa), kb = created(pb);
  if (ka !== kb) return recentFirst(ka, kb, now, pa, pb);
  return 0;
}

/**
 * The `n` pods to delete out of `pods`, ranked against `related` (the active pods of every
 * ReplicaSet under the same Deployment, which includes `pods`): a pod sharing its node with
 * more related pods goes first, so scale-downs spread what remains.
 */
export function podsToDelete(pods: KObject[], related: KObject[], n: number, now: number): KObject[] {
  if (n >= pods.length) return [...pods];
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(p.spec?.nodeName ?? '', (onNode.get(p.spec?.nodeName ?? '') ?? 0) + 1);
  const ranked = pods.map((pod) => ({ pod, rank: onNode.get(pod.spec?.nodeName ?? '') ?? 0 }));
  ranked.sort((a, b) => compareForDeletion(a, b, now));
  return ranked.slice(0, n).map((r) => r.pod);
}
