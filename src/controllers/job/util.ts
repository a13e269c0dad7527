/**
 * Job facts the Job, TTL and CronJob controllers share: finished or not and how, which of
 * its pods count as active, terminating or failed, how many pods it wants, and which active
 * pods go first when there are too many. Pure functions of objects, tested by table.
 */
import type { KObject } from '../../client/client.js';

/** The finalizer that keeps a Job's finished pods until the Job has counted them. */
export const TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';

/** The condition `type` of a Job when its status is True. */
export function jobCondition(job: KObject, type: string): any | undefined {
  return (job.status?.conditions ?? []).find((c: any) => c.type === type && c.status === 'True');
}

/** The terminal condition (Complete or Failed, status True) of a finished Job. */
export function finishedCondition(job: KObject): any | undefined {
  return (job.status?.conditions ?? []).find((c: any) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** True when the Job has finished (Complete or Failed). */
export function isJobFinished(job: KObject): boolean {
  return finishedCondition(job) !== undefined;
}

/** True for completionMode Indexed. */
export function isIndexed(job: KObject): boolean {
  return job.spec?.completionMode === 'Indexed';
}

/** True when the pod still carries the tracking finalizer. */
export function hasTrackingFinalizer(pod: KObject): boolean {
  return (pod.metadata.finalizers ?? []).includes(TRACKING_FINALIZER);
}

/** Being deleted but not finished: its containers may still run. */
export function isTerminating(pod: KObject): boolean {
  const phase = pod.status?.phase;
  return !!pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

/**
 * A failed pod for the Job's accounting: phase Failed, or (unless podReplacementPolicy is
 * Failed) deleted before it succeeded, since such a pod may never reach a phase.
 */
export function isPodFailed(pod: KObject, job: KObject): boolean {
  if (pod.status?.phase === 'Failed') return true;
  if (job.spec?.podReplacementPolicy === 'Failed' || job.spec?.podFailurePolicy) return false;
  return !!pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded';
}

/**
 * How many pods should be active. With completions: the remaining completions, at most
 * parallelism. Without (a work queue): parallelism until the first success, then no new pods.
 */
export function wantActive(spec: { completions?: number | null; parallelism?: number }, succeeded: number, active: number): number {
  const parallelism = spec.parallelism ?? 1;
  if (spec.completions === undefined || spec.completions === null) return succeeded > 0 ? active : parallelism;
  return Math.max(0, Math.min(spec.completions - succeeded, parallelism));
}

/** True when the Job has all the successes it needs and nothing runs any more. */
export function isComplete(spec: { completions?: number | null }, succeeded: number, active: number): boolean {
  if (spec.completions === undefined || spec.completions === null) return succeeded > 0 && active === 0;
  return succeeded >= spec.completions && active === 0;
}

/** True when restartPolicy OnFailure pods restarted their containers backoffLimit times in all. */
export function pastBackoffLimitOnFailure(job: KObject, pods: KObject[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    if (p.status?.phase !== 'Running' && p.status?.phase !== 'Pending') continue;
    for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) restarts += c.restartCount ?? 0;
  }
  const limit = job.spec?.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

export { deletionOrder } from '../pods.js';

/** The time a finished pod finished: its containers' latest finishedAt, else its deletion or creation time. */
export function finishTime(pod: KObject): number {
  let t = 0;
  for (const c of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    const f = Date.parse(c.state?.terminated?.finishedAt ?? '');
    if (f > t) t = f;
  }
  return t || Date.parse(pod.metadata.deletionTimestamp ?? '') || Date.parse(pod.metadata.creationTimestamp ?? '') || 0;
}
