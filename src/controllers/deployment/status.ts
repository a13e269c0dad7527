/**
 * A Deployment's status as Kubernetes computes it: counts summed over its ReplicaSets, the
 * Available condition (minimum availability), and the Progressing condition with its reasons
 * (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
 * ProgressDeadlineExceeded, DeploymentPaused, DeploymentResumed) and progressDeadlineSeconds.
 */
import type { KObject } from '../../client/client.js';
import { rfc3339 } from '../runtime/clock.js';

const sum = (xs: (KObject | undefined)[], f: (rs: KObject) => number) => xs.reduce((s, rs) => s + (rs ? f(rs) : 0), 0);

function cond(type: string, status: string, reason: string, message: string, now: string, prev?: any, touch = true): any {
  return {
    type, status, reason, message,
    lastUpdateTime: touch || !prev ? now : prev.lastUpdateTime,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
  };
}

/** The new status, and when to look again for the progress deadline. */
export function deploymentStatus(d: KObject, newRs: KObject | undefined, olds: KObject[], unavailable: number, nowMs: number, event?: { reason: string; message: string }): { status: any; requeueAfterMs?: number } {
  const now = rfc3339(nowMs);
  const all = [newRs, ...olds];
  const replicas = d.spec?.replicas ?? 1;
  const prev = d.status ?? {};
  const status: any = {
    observedGeneration: d.metadata.generation,
    replicas: sum(all, (rs) => rs.status?.replicas ?? 0),
    updatedReplicas: newRs?.status?.replicas ?? 0,
    readyReplicas: sum(all, (rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: sum(all, (rs) => rs.status?.availableReplicas ?? 0),
  };
  status.unavailableReplicas = Math.max(0, sum(all, (rs) => rs.spec?.replicas ?? 0) - status.availableReplicas);
  if (prev.collisionCount !== undefined) status.collisionCount = prev.collisionCount;
  const prevConds: any[] = prev.conditions ?? [];
  const old = (t: string) => prevConds.find((c) => c.type === t);

  const availableOk = status.availableReplicas >= replicas - unavailable;
  const available = availableOk
    ? cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now, old('Available'), old('Available')?.status !== 'True')
    : cond('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', now, old('Available'), old('Available')?.status !== 'False');
  const rsName = newRs?.metadata.name ?? '';
  const p = old('Progressing');
  let progressing = p;
  const deadline = d.spec?.progressDeadlineSeconds ?? 600;
  let requeueAfterMs: number | undefined;
  const complete = newRs && status.updatedReplicas === replicas && status.replicas === replicas && status.availableReplicas === replicas;
  if (d.spec?.paused) {
    if (p?.reason !== 'DeploymentPaused') progressing = cond('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', now, p);
  } else if (complete) {
    if (p?.reason !== 'NewReplicaSetAvailable') progressing = cond('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`, now, p);
  } else if (p?.reason === 'DeploymentPaused') {
    progressing = cond('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', now, p);
  } else if (event) {
    progressing = cond('Progressing', 'True', event.reason, event.message, now, p);
  } else if (!p && newRs) {
    progressing = cond('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${rsName}"`, now, p);
  } else if (newRs && (status.updatedReplicas > (prev.updatedReplicas ?? 0) || status.readyReplicas > (prev.readyReplicas ?? 0)
      || status.availableReplicas > (prev.availableReplicas ?? 0) || status.replicas < (prev.replicas ?? 0))) {
    progressing = cond('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rsName}" is progressing.`, now, p);
  } else if (p && p.reason !== 'NewReplicaSetAvailable' && p.reason !== 'ProgressDeadlineExceeded' && p.status !== 'Unknown') {
    const parsed = Date.parse(p.lastUpdateTime ?? '');
    const since = Number.isFinite(parsed) ? parsed : nowMs;
    const left = since + deadline * 1000 - nowMs;
    if (left <= 0) progressing = cond('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`, now, p);
    else requeueAfterMs = left + 1000;
  }
  if (progressing && progressing !== p && progressing.status === 'True' && progressing.reason !== 'NewReplicaSetAvailable') requeueAfterMs ??= deadline * 1000 + 1000;
  status.conditions = [available, ...(progressing ? [progressing] : [])];
  for (const k of ['readyReplicas', 'availableReplicas', 'unavailableReplicas', 'updatedReplicas', 'replicas']) if (!status[k]) delete status[k];
  return { status, requeueAfterMs };
}
