/**
 * Counting a Job's finished pods without losing or double-counting any, as Kubernetes'
 * trackJobStatusAndRemoveFinalizers: (1) finished pods still carrying the tracking finalizer
 * are written into status.uncountedTerminatedPods (with any interim FailureTarget or
 * SuccessCriteriaMet condition); (2) their finalizers are removed; (3) the pods whose
 * finalizer is gone move from the uncounted lists into succeeded / failed; (4) once nothing
 * is uncounted or terminating, the terminal Complete or Failed condition is added.
 * A crash between steps repeats a step, never a count.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { rfc3339 } from '../runtime/clock.js';
import type { ControllerContext } from '../runtime/controller.js';
import type { BackoffRecord } from './backoff.js';
import { completionIndex, formatIndexes, hasIndex, withIndexes, type Interval } from './indexes.js';
import type { JobPodControl } from './podcontrol.js';
import { hasTrackingFinalizer, isIndexed, isPodFailed } from './util.js';

/** Kubernetes' MaxUncountedPods: keeps the uid lists (and one sync's work) bounded. */
export const MAX_UNCOUNTED = 500;

/** A Job condition as the controller writes it. */
export interface JobCondition { type: string; status: string; reason?: string; message?: string; lastProbeTime?: string; lastTransitionTime?: string }

/** A new condition of status True. */
export function newCondition(type: string, reason: string, message: string, now: number): JobCondition {
  return { type, status: 'True', reason, message, lastProbeTime: rfc3339(now), lastTransitionTime: rfc3339(now) };
}

/** What one sync of a Job has worked out. */
export interface SyncState {
  key: string;
  /** A private copy of the Job; its status is edited in place. */
  job: KObject;
  pods: KObject[];
  satisfied: boolean;
  /** Pods whose finalizer removal is sent but not yet seen. */
  expectedRm: Set<string>;
  active: number;
  ready: number;
  terminating: number;
  succeeded: number;
  failed: number;
  prevSucceededIndexes: Interval[];
  succeededIndexes: Interval[];
  /** The backoff record to keep once this sync's counts are written. */
  backoff: BackoffRecord;
  /** Why the Job is finishing: SuccessCriteriaMet, FailureTarget, or (from a FailureTarget already written) Failed. */
  finished?: JobCondition;
}

/** Moves pods whose finalizer is gone from the uncounted lists into the counters. */
function cleanUncounted(status: any, withFinalizer: Set<string>): boolean {
  const u = status.uncountedTerminatedPods;
  let changed = false;
  for (const [list, counter] of [['succeeded', 'succeeded'], ['failed', 'failed']] as const) {
    const before: string[] = u[list] ?? [];
    const keep = before.filter((uid) => withFinalizer.has(uid));
    if (keep.length !== before.length) {
      changed = true;
      status[counter] = (status[counter] ?? 0) + before.length - keep.length;
      u[list] = keep;
    }
  }
  return changed;
}

/** Writes Job status and pod finalizers for the Job controller. */
export class JobStatusTracker {
  private finalizerExpectations = new Map<string, Set<string>>();

  constructor(private readonly ctx: ControllerContext, private readonly pods: JobPodControl, private readonly backoff: Map<string, BackoffRecord>) {}

  /** Pod uids of `key` whose finalizer removal is still to be seen. */
  expected(key: string): Set<string> { return new Set(this.finalizerExpectations.get(key) ?? []); }

  /** The pod's finalizer is gone (or the pod is). */
  finalizerObserved(key: string, uid: string): void { this.finalizerExpectations.get(key)?.delete(uid); }

  /** Forgets a deleted Job. */
  forget(key: string): void { this.finalizerExpectations.delete(key); }

  /**
   * Sets a condition's status (appending it unless it would be a new False one), as
   * Kubernetes' ensureJobConditionStatus. True when the list changed.
   */
  ensureCondition(job: KObject, type: string, status: string, reason: string, message: string, now: number): boolean {
    const conds: JobCondition[] = (job.status.conditions ??= []);
    const i = conds.findIndex((c) => c.type === type);
    if (i >= 0) {
      const c = conds[i];
      if (c.status === status && c.reason === reason && c.message === message) return false;
      conds[i] = { ...newCondition(type, reason, message, now), status };
      return true;
    }
    if (status === 'False') { if (!conds.length) delete job.status.conditions; return false; }
    conds.push(newCondition(type, reason, message, now));
    return true;
  }

  /** Steps (1)-(4) above for one sync. */
  async track(st: SyncState, needsFlush: boolean): Promise<void> {
    const job = st.job;
    const status = job.status;
    const u = status.uncountedTerminatedPods;
    u.succeeded ??= []; u.failed ??= [];
    const uncountedS = new Set<string>(u.succeeded), uncountedF = new Set<string>(u.failed);
    const indexed = isIndexed(job);
    const completions: number = job.spec.completions;
    const pods = indexed ? [...st.pods].sort((a, b) => completionIndex(a) - completionIndex(b)) : st.pods;
    const withFinalizer = new Set(pods.filter((p) => hasTrackingFinalizer(p) && !st.expectedRm.has(p.metadata.uid)).map((p) => p.metadata.uid as string));
    if (cleanUncounted(status, withFinalizer)) needsFlush = true;
    const toRemove: KObject[] = [];
    const newIndexes: number[] = [];
    let reachedMax = false;
    for (const pod of pods) {
      const uid: string = pod.metadata.uid;
      if (!hasTrackingFinalizer(pod) || st.expectedRm.has(uid)) continue;
      const failed = isPodFailed(pod, job);
      const removable = !!job.metadata.deletionTimestamp || !!st.finished || pod.status?.phase === 'Succeeded' || failed;
      if (!removable) continue;
      toRemove.push(pod);
      const ix = completionIndex(pod);
      if (pod.status?.phase === 'Succeeded' && !uncountedF.has(uid)) {
        if (indexed) {
          // The index itself guards against counting a success twice.
          if (ix >= 0 && ix < completions && !hasIndex(st.prevSucceededIndexes, ix)) { newIndexes.push(ix); needsFlush = true; }
        } else if (!uncountedS.has(uid)) {
          u.succeeded.push(uid); needsFlush = true;
        }
      } else if (failed || (st.finished && st.finished.type !== 'SuccessCriteriaMet')) {
        // Once the Job fails, every pod not succeeded counts as failed.
        if (!uncountedF.has(uid) && (!indexed || (ix >= 0 && ix < completions))) { u.failed.push(uid); needsFlush = true; }
      }
      if (newIndexes.length + u.succeeded.length + u.failed.length >= MAX_UNCOUNTED) { reachedMax = true; break; }
    }
    if (indexed) {
      st.succeededIndexes = withIndexes(st.succeededIndexes, newIndexes);
      const s = formatIndexes(st.succeededIndexes);
      if (s !== (status.completedIndexes ?? '')) needsFlush = true;
      status.completedIndexes = s;
      status.succeeded = st.succeededIndexes.reduce((n, v) => n + v.last - v.first + 1, 0);
    }
    const now = this.ctx.clock.now();
    if (st.finished?.type === 'FailureTarget') {
      status.conditions = [...(status.conditions ?? []), st.finished];
      needsFlush = true;
      st.finished = newCondition('Failed', st.finished.reason!, st.finished.message!, now);
    }
    if (st.finished?.type === 'SuccessCriteriaMet') {
      if (!(status.conditions ?? []).some((c: JobCondition) => c.type === 'SuccessCriteriaMet' && c.status === 'True')) {
        status.conditions = [...(status.conditions ?? []), st.finished];
        needsFlush = true;
      }
      st.finished = newCondition('Complete', st.finished.reason ?? '', st.finished.message ?? '', now);
    }
    // (1) Record what is about to be counted, before any finalizer goes.
    if (needsFlush) {
      await this.write(st);
      this.backoff.set(st.key, st.backoff);
      needsFlush = false;
    }
    // (2) Remove finalizers.
    let rmFailed = false;
    if (toRemove.length) {
      const exp = this.finalizerExpectations.get(st.key) ?? new Set<string>();
      this.finalizerExpectations.set(st.key, exp);
      for (const p of toRemove) exp.add(p.metadata.uid);
      const ok = await Promise.all(toRemove.map((p) => this.pods.removeFinalizer(p)));
      toRemove.forEach((p, i) => {
        if (ok[i]) withFinalizer.delete(p.metadata.uid);
        else { exp.delete(p.metadata.uid); rmFailed = true; }
      });
    }
    // (3) Count the pods whose finalizer is gone.
    if (cleanUncounted(st.job.status, withFinalizer)) needsFlush = true;
    if (rmFailed) {
      if (needsFlush) await this.write(st);
      throw new Error('removing tracking finalizers failed');
    }
    // (4) Finish the Job when nothing is left to count or stop.
    const finishedNow = !reachedMax && this.enactFinished(st, now);
    if (finishedNow || needsFlush) await this.write(st);
    if (finishedNow) this.recordFinished(st);
  }

  private enactFinished(st: SyncState, now: number): boolean {
    const f = st.finished;
    if (!f) return false;
    const u = st.job.status.uncountedTerminatedPods ?? {};
    if ((u.succeeded?.length ?? 0) + (u.failed?.length ?? 0) > 0) return false;
    if (st.terminating > 0) return false;
    this.ensureCondition(st.job, f.type, 'True', f.reason ?? '', f.message ?? '', now);
    if (f.type === 'Complete') st.job.status.completionTime = rfc3339(now);
    return true;
  }

  private recordFinished(st: SyncState): void {
    const { job, finished: f } = st;
    if (f!.type === 'Complete') {
      if (typeof job.spec.completions === 'number' && (job.status.succeeded ?? 0) > job.spec.completions) {
        this.ctx.recorder.event(job, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
      }
      this.ctx.recorder.event(job, 'Normal', 'Completed', 'Job completed');
    } else {
      this.ctx.recorder.event(job, 'Warning', f!.reason ?? 'Failed', f!.message ?? '');
    }
  }

  /** PUT the status (optimistic: a stale copy gets 409 and the sync is retried). */
  private async write(st: SyncState): Promise<void> {
    const out = structuredClone(st.job);
    const u = out.status.uncountedTerminatedPods ?? {};
    // Empty lists are omitted, as Go's omitempty writes them.
    for (const k of ['succeeded', 'failed']) if (!u[k]?.length) delete u[k];
    const written = await this.ctx.client.update(R.jobs, out.metadata.namespace, out, 'status');
    st.job.metadata = written.metadata;
    // Keep working on our copy of status (with its empty lists) for the steps that follow.
  }
}
