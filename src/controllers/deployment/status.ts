/**
 * A Deployment's status as Kubernetes computes it: counts summed over its ReplicaSets and the
 * Available condition (calculateStatus); during a rollout also the Progressing condition
 * (syncRolloutStatus: NewReplicaSetAvailable when complete, ReplicaSetUpdated on any progress,
 * ProgressDeadlineExceeded when none for progressDeadlineSeconds) and the ReplicaFailure
 * condition carried over from a ReplicaSet; the paused/resumed Progressing condition
 * (checkPausedConditions). Conditions are set as SetDeploymentCondition does: a condition with
 * the same status and reason is left alone, a new one goes to the end.
 */
import type { KObject } from '../../client/client.js';
import { rfc3339 } from '../runtime/clock.js';

/** progressDeadlineSeconds that means "no deadline" (math.MaxInt32). */
const NO_DEADLINE = 2147483647;

/** True when the Deployment has a progress deadline (HasProgressDeadline). */
export function hasProgressDeadline(d: KObject): boolean {
  const s = d.spec?.progressDeadlineSeconds ?? 600;
  return s !== NO_DEADLINE;
}

/** A deployment condition (NewDeploymentCondition): both times now. */
export function condition(type: string, status: string, reason: string, message: string, nowMs: number): any {
  const now = rfc3339(nowMs);
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

/** SetDeploymentCondition: same status and reason is a no-op; same status keeps lastTransitionTime. */
export function setCondition(conds: any[], c: any): any[] {
  const cur = conds.find((x) => x.type === c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return conds;
  const next = cur && cur.status === c.status ? { ...c, lastTransitionTime: cur.lastTransitionTime } : c;
  return [...conds.filter((x) => x.type !== c.type), next];
}

const sum = (xs: (KObject | undefined)[], f: (rs: KObject) => number) => xs.reduce((s, rs) => s + (rs ? f(rs) : 0), 0);

/** calculateStatus: the counts, collisionCount, and the Available condition. */
export function calculateStatus(d: KObject, newRs: KObject | undefined, olds: KObject[], unavailable: number, nowMs: number): any {
  const all = [newRs, ...olds];
  const replicas = d.spec?.replicas ?? 1;
  const available = sum(all, (rs) => rs.status?.availableReplicas ?? 0);
  const status: any = {
    observedGeneration: d.metadata.generation,
    replicas: sum(all, (rs) => rs.status?.replicas ?? 0),
    updatedReplicas: newRs?.status?.replicas ?? 0,
    readyReplicas: sum(all, (rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, sum(all, (rs) => rs.spec?.replicas ?? 0) - available),
  };
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  const c = available >= replicas - unavailable
    ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', nowMs)
    : condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', nowMs);
  status.conditions = setCondition([...(d.status?.conditions ?? [])], c);
  return status;
}

/** DeploymentComplete: every replica updated and available, and this generation seen. */
export function deploymentComplete(d: KObject, st: any): boolean {
  const replicas = d.spec?.replicas ?? 1;
  return (st.updatedReplicas ?? 0) === replicas && (st.replicas ?? 0) === replicas && (st.availableReplicas ?? 0) === replicas
    && (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/**
 * syncRolloutStatus: the status after a rollout step, and when to look again for the
 * progress deadline (requeueStuckDeployment). `d.status` holds the conditions as this sync
 * left them (e.g. NewReplicaSetCreated); its counts are the ones last written.
 */
export function rolloutStatus(d: KObject, newRs: KObject | undefined, olds: KObject[], unavailable: number, nowMs: number): { status: any; requeueAfterMs?: number } {
  const prev = d.status ?? {};
  const st = calculateStatus(d, newRs, olds, unavailable, nowMs);
  if (!hasProgressDeadline(d)) st.conditions = st.conditions.filter((c: any) => c.type !== 'Progressing');
  const cur = (prev.conditions ?? []).find((c: any) => c.type === 'Progressing');
  const name = newRs?.metadata.name;
  const isComplete = st.replicas === st.updatedReplicas && cur?.reason === 'NewReplicaSetAvailable';
  if (hasProgressDeadline(d) && !isComplete) {
    const oldReplicas = (s: any) => (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
    if (deploymentComplete(d, st)) {
      const msg = name ? `ReplicaSet "${name}" has successfully progressed.` : `Deployment "${d.metadata.name}" has successfully progressed.`;
      st.conditions = setCondition(st.conditions, condition('Progressing', 'True', 'NewReplicaSetAvailable', msg, nowMs));
    } else if (st.updatedReplicas > (prev.updatedReplicas ?? 0) || oldReplicas(st) < oldReplicas(prev)
      || st.readyReplicas > (prev.readyReplicas ?? 0) || st.availableReplicas > (prev.availableReplicas ?? 0)) {
      // Progress refreshes lastUpdateTime even with the same reason: the deadline counts from it.
      const msg = name ? `ReplicaSet "${name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
      const c = condition('Progressing', 'True', 'ReplicaSetUpdated', msg, nowMs);
      if (cur?.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
      st.conditions = [...st.conditions.filter((x: any) => x.type !== 'Progressing'), c];
    } else if (timedOut(d, cur, nowMs)) {
      const msg = name ? `ReplicaSet "${name}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`;
      st.conditions = setCondition(st.conditions, condition('Progressing', 'False', 'ProgressDeadlineExceeded', msg, nowMs));
    }
  }
  const failure = replicaFailure(newRs, olds);
  st.conditions = failure ? setCondition(st.conditions, failure) : st.conditions.filter((c: any) => c.type !== 'ReplicaFailure');
  return { status: omitZeros(st), requeueAfterMs: stuckRequeue(d, st, cur, nowMs) };
}

/** DeploymentTimedOut: no progress since the Progressing condition's lastUpdateTime + deadline. */
function timedOut(d: KObject, cur: any, nowMs: number): boolean {
  if (!cur || cur.reason === 'NewReplicaSetAvailable') return false;
  if (cur.reason === 'ProgressDeadlineExceeded') return true;
  const from = Date.parse(cur.lastUpdateTime ?? '');
  return Number.isFinite(from) && from + (d.spec?.progressDeadlineSeconds ?? 600) * 1000 < nowMs;
}

/** requeueStuckDeployment: when the deadline of a rollout without progress will have passed. */
function stuckRequeue(d: KObject, st: any, cur: any, nowMs: number): number | undefined {
  if (!hasProgressDeadline(d) || !cur || deploymentComplete(d, st) || cur.reason === 'ProgressDeadlineExceeded') return undefined;
  const from = Date.parse(cur.lastUpdateTime ?? '');
  if (!Number.isFinite(from)) return undefined;
  const after = from + (d.spec?.progressDeadlineSeconds ?? 600) * 1000 - nowMs;
  return after < 1000 ? 1000 : after + 1000;
}

/** A ReplicaSet's ReplicaFailure condition as the Deployment's (the new one's first). */
function replicaFailure(newRs: KObject | undefined, olds: KObject[]): any {
  for (const rs of [newRs, ...olds]) {
    const c = (rs?.status?.conditions ?? []).find((x: any) => x.type === 'ReplicaFailure');
    if (c) return { type: 'ReplicaFailure', status: c.status, lastUpdateTime: c.lastTransitionTime, lastTransitionTime: c.lastTransitionTime, reason: c.reason, message: c.message };
  }
  return undefined;
}

/** Counts of zero are omitted from the JSON, as Kubernetes' omitempty does. */
export function omitZeros(st: any): any {
  for (const k of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']) if (!st[k]) delete st[k];
  return st;
}

/**
 * checkPausedConditions: Progressing Unknown/DeploymentPaused while paused, and
 * DeploymentResumed on the first sync after; undefined when nothing changes.
 */
export function pausedConditions(d: KObject, nowMs: number): any[] | undefined {
  if (!hasProgressDeadline(d)) return undefined;
  const conds: any[] = d.status?.conditions ?? [];
  const cur = conds.find((c) => c.type === 'Progressing');
  const pausedNow = cur?.reason === 'DeploymentPaused';
  if (d.spec?.paused && !pausedNow) return setCondition(conds, condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', nowMs));
  if (!d.spec?.paused && pausedNow) return setCondition(conds, condition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', nowMs));
  return undefined;
}
