/**
 * Which pods a ReplicaSet deletes first when it scales down, in Kubernetes' order
 * (ActivePodsWithRanks): unassigned before assigned, Pending before Unknown before Running,
 * not ready before ready, ready for less time before longer, more restarts before fewer,
 * newer before older.
 */
import type { KObject } from '../../client/client.js';
import { isPodReady } from '../pods.js';

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function readySince(p: KObject): number {
  const c = (p.status?.conditions ?? []).find((x: any) => x.type === 'Ready' && x.status === 'True');
  return c ? Date.parse(c.lastTransitionTime ?? '') || 0 : 0;
}

function restarts(p: KObject): number {
  return (p.status?.containerStatuses ?? []).reduce((s: number, c: any) => Math.max(s, c.restartCount ?? 0), 0);
}

/** Negative when `a` should be deleted before `b`. */
export function deletionOrder(a: KObject, b: KObject): number {
  const assigned = (p: KObject) => (p.spec?.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const ph = (p: KObject) => PHASE_RANK[p.status?.phase ?? 'Pending'] ?? 0;
  if (ph(a) !== ph(b)) return ph(a) - ph(b);
  const rd = (p: KObject) => (isPodReady(p) ? 1 : 0);
  if (rd(a) !== rd(b)) return rd(a) - rd(b);
  if (isPodReady(a) && isPodReady(b) && readySince(a) !== readySince(b)) return readySince(b) - readySince(a);
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const created = (p: KObject) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;
  return created(b) - created(a);
}
