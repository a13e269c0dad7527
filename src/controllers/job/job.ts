/**
 * The Job controller (batch/v1), as kube-controller-manager's: it runs pods until
 * `completions` succeed (or, without completions, until one succeeds and the rest end: a
 * work queue), at most `parallelism` at once, re-creating failed pods after an exponential
 * backoff until `backoffLimit` failures or `activeDeadlineSeconds` fail the Job. Indexed Jobs
 * give each pod a completion index. Pods carry the batch.kubernetes.io/job-tracking finalizer
 * until the Job has counted them (via status.uncountedTerminatedPods), so a pod deleted early
 * is never lost from the counts. A finishing Job first gets the interim SuccessCriteriaMet or
 * FailureTarget condition and gets Complete or Failed once no pod is left running, as 1.33.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { rfc3339 } from '../runtime/clock.js';
import { Controller, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { keyOf, type Informer } from '../runtime/informer.js';
import { Expectations } from '../runtime/expectations.js';
import { controllerRef } from '../runtime/owners.js';
import { isPodActive, isPodReady } from '../pods.js';
import { nextBackoffRecord, remainingBackoff, type BackoffRecord } from './backoff.js';
import { completionIndex, firstPendingIndexes, parseIndexes, withIndexes } from './indexes.js';
import { JobPodControl } from './podcontrol.js';
import { JobStatusTracker, type SyncState, newCondition } from './tracking.js';
import {
  deletionOrder, finishTime, hasTrackingFinalizer, isIndexed, isJobFinished, isPodFailed, isTerminating, isComplete,
  jobCondition, pastBackoffLimitOnFailure, wantActive,
} from './util.js';

const OWNER_INDEX = 'job-controller/owner';
/** Most pods created or deleted by one sync (Kubernetes' MaxPodCreateDeletePerSync). */
const MAX_PER_SYNC = 500;

/** Keeps Jobs' pods and status true to their specs. */
export class JobController {
  private readonly loop: Controller;
  private readonly orphans: Controller;
  private readonly jobs: Informer;
  private readonly pods: Informer;
  private readonly expectations: Expectations;
  private readonly podControl: JobPodControl;
  private readonly tracker: JobStatusTracker;
  private readonly backoff = new Map<string, BackoffRecord>();
  private stopped = false;

  constructor(private readonly ctx: ControllerContext) {
    this.loop = new Controller('job', (k) => this.sync(k), { workers: 4, clock: ctx.clock, log: ctx.log, metrics: ctx.metrics });
    this.orphans = new Controller('job-orphan-pod', (k) => this.syncOrphanPod(k), { workers: 1, clock: ctx.clock, log: ctx.log, metrics: ctx.metrics });
    this.expectations = new Expectations(ctx.clock);
    this.podControl = new JobPodControl(ctx);
    this.tracker = new JobStatusTracker(ctx, this.podControl, this.backoff);
    this.jobs = ctx.informers.for(R.jobs);
    this.pods = ctx.informers.for(R.pods);
    this.pods.addIndex(OWNER_INDEX, (p) => {
      const ref = controllerRef(p);
      return ref?.kind === 'Job' ? [`${p.metadata.namespace}/${ref.uid}`] : [];
    });
    this.jobs.on({
      add: (j) => this.loop.enqueue(j),
      update: (old, j) => this.onJobUpdate(old, j),
      delete: (j) => { this.loop.enqueue(j); this.cleanupPodFinalizers(j); },
    });
    this.pods.on({
      add: (p) => (p.metadata.deletionTimestamp ? this.onPodGone(p, false) : this.onPod(p, undefined, true)),
      update: (old, p) => (p.metadata.deletionTimestamp ? this.onPodGone(p, false) : this.onPod(p, old, false)),
      delete: (p) => this.onPodGone(p, true),
    });
  }

  /** Starts the workers once both caches are filled (a pod seen before its Job is no orphan). */
  run(): this {
    void Promise.all([this.jobs.synced, this.pods.synced]).then(() => {
      if (this.stopped) return;
      this.loop.run();
      this.orphans.run();
    });
    return this;
  }

  /** Stops the workers. */
  stop(): void { this.stopped = true; this.loop.stop(); this.orphans.stop(); }

  /** Resolves when no key is queued or being synced (tests). */
  async whenIdle(): Promise<void> { await this.loop.whenIdle(); await this.orphans.whenIdle(); }

  /** The Job a controller reference points to, if it still exists with that uid. */
  private resolve(namespace: string | undefined, ref: { kind: string; name: string; uid: string } | undefined): KObject | undefined {
    if (ref?.kind !== 'Job') return undefined;
    const job = this.jobs.get(`${namespace}/${ref.name}`);
    return job?.metadata.uid === ref.uid ? job : undefined;
  }

  private onJobUpdate(old: KObject, job: KObject): void {
    this.loop.enqueue(job);
    // Backup: a finished Job's pods must not keep the finalizer.
    if (isJobFinished(job)) this.cleanupPodFinalizers(job);
    const ads = job.spec?.activeDeadlineSeconds;
    if (job.status?.startTime && typeof ads === 'number' && ads !== old.spec?.activeDeadlineSeconds) {
      this.loop.enqueueAfter(job, ads * 1000 - (this.ctx.clock.now() - Date.parse(job.status.startTime)));
    }
  }

  private onPod(pod: KObject, old: KObject | undefined, created: boolean): void {
    const ref = controllerRef(pod);
    const oldRef = old ? controllerRef(old) : undefined;
    if (oldRef && oldRef.uid !== ref?.uid) {
      const prev = this.resolve(pod.metadata.namespace, oldRef);
      if (prev) { this.tracker.finalizerObserved(keyOf(prev), pod.metadata.uid); this.loop.enqueue(prev); }
    }
    const job = this.resolve(pod.metadata.namespace, ref);
    if (!job) {
      // No live Job owns it: the orphan worker checks again and drops the finalizer.
      if (hasTrackingFinalizer(pod)) this.orphans.enqueue(pod);
      return;
    }
    const key = keyOf(job);
    if (created) this.expectations.creationObserved(key);
    if (!hasTrackingFinalizer(pod)) this.tracker.finalizerObserved(key, pod.metadata.uid);
    this.loop.enqueue(key);
  }

  /** A pod being deleted (`final`: gone from the store). */
  private onPodGone(pod: KObject, final: boolean): void {
    const job = this.resolve(pod.metadata.namespace, controllerRef(pod));
    if (!job || isJobFinished(job)) {
      if (hasTrackingFinalizer(pod) && !final) this.orphans.enqueue(pod);
      return;
    }
    const key = keyOf(job);
    this.expectations.deletionObserved(key);
    if (final || !hasTrackingFinalizer(pod)) this.tracker.finalizerObserved(key, pod.metadata.uid);
    this.loop.enqueue(key);
  }

  /** Queues the Job's pods that still carry the finalizer for its removal. */
  private cleanupPodFinalizers(job: KObject): void {
    for (const p of this.pods.byIndex(OWNER_INDEX, `${job.metadata.namespace}/${job.metadata.uid}`)) if (hasTrackingFinalizer(p)) this.orphans.enqueue(p);
  }

  /** Removes the finalizer from a pod whose Job is gone or finished. */
  private async syncOrphanPod(key: string): Promise<void> {
    const pod = this.pods.get(key);
    if (!pod || !hasTrackingFinalizer(pod)) return;
    const ref = controllerRef(pod);
    if (ref) {
      if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return;
      const job = this.resolve(pod.metadata.namespace, ref);
      if (job && !isJobFinished(job)) return;
    }
    if (!(await this.podControl.removeFinalizer(pod))) throw new Error(`removing the tracking finalizer of ${key} failed`);
  }

  private async sync(key: string): Promise<SyncResult> {
    const cached = this.jobs.get(key);
    if (!cached) {
      this.expectations.delete(key);
      this.tracker.forget(key);
      this.backoff.delete(key);
      return;
    }
    if (isJobFinished(cached)) { this.backoff.delete(key); return; }
    const managedBy = cached.spec?.managedBy;
    if (managedBy && managedBy !== 'kubernetes.io/job-controller') return;
    const mode = cached.spec?.completionMode ?? 'NonIndexed';
    if (mode !== 'NonIndexed' && mode !== 'Indexed') {
      this.ctx.recorder.event(cached, 'Warning', 'UnknownCompletionMode', 'Skipped Job sync because completion mode is unknown');
      return;
    }
    if (mode === 'Indexed' && typeof cached.spec?.completions !== 'number') return;

    const job = structuredClone(cached);
    job.status ??= {};
    job.status.uncountedTerminatedPods ??= {};
    const uncounted = job.status.uncountedTerminatedPods;
    const now = this.ctx.clock.now();
    // Check expectations before reading pods: a pod created meanwhile then waits for the next sync.
    const satisfied = this.expectations.satisfied(key);
    const pods = this.pods.byIndex(OWNER_INDEX, `${job.metadata.namespace}/${job.metadata.uid}`);
    const activePods = pods.filter(isPodActive);
    const expectedRm = this.tracker.expected(key);
    const uncountedS = new Set<string>(uncounted.succeeded ?? []), uncountedF = new Set<string>(uncounted.failed ?? []);
    const completions: number | undefined = typeof job.spec.completions === 'number' ? job.spec.completions : undefined;
    const validIndex = (p: KObject) => !isIndexed(job) || (completionIndex(p) >= 0 && completionIndex(p) < completions!);
    const fresh = (p: KObject, seen: Set<string>) => hasTrackingFinalizer(p) && !seen.has(p.metadata.uid) && !expectedRm.has(p.metadata.uid) && validIndex(p);
    const newSucceeded = pods.filter((p) => fresh(p, uncountedS) && p.status?.phase === 'Succeeded');
    const newFailed = pods.filter((p) => fresh(p, uncountedF) && isPodFailed(p, job));

    const st: SyncState = {
      key, job, pods, satisfied, expectedRm,
      active: activePods.length,
      ready: activePods.filter(isPodReady).length,
      terminating: pods.filter(isTerminating).length,
      succeeded: (job.status.succeeded ?? 0) + newSucceeded.length + uncountedS.size,
      failed: (job.status.failed ?? 0) + newFailed.length + uncountedF.size,
      prevSucceededIndexes: [], succeededIndexes: [],
      backoff: nextBackoffRecord(this.backoff.get(key), newSucceeded.map(finishTime), newFailed.map(finishTime), now),
    };
    const suspended = !!job.spec.suspend;
    let requeue: number | undefined;
    const startBefore = job.status.startTime;
    if (!job.status.startTime && !suspended) job.status.startTime = rfc3339(now);

    // Why the Job is finishing, if it is.
    st.finished = jobCondition(job, 'SuccessCriteriaMet');
    if (!st.finished) {
      const target = jobCondition(job, 'FailureTarget');
      if (target) st.finished = newCondition('Failed', target.reason, target.message, now);
    }
    const ads = job.spec.activeDeadlineSeconds;
    const elapsed = now - Date.parse(job.status.startTime ?? '');
    if (!st.finished) {
      if (st.failed > (job.spec.backoffLimit ?? 6) || pastBackoffLimitOnFailure(job, pods)) {
        st.finished = newCondition('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now);
      } else if (typeof ads === 'number' && job.status.startTime && !suspended && elapsed >= ads * 1000) {
        st.finished = newCondition('FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline', now);
      } else if (typeof ads === 'number' && !suspended) {
        requeue = ads * 1000 - elapsed;
      }
    }
    if (isIndexed(job)) {
      st.prevSucceededIndexes = parseIndexes(job.status.completedIndexes, completions!);
      const fresh = pods.filter((p) => p.status?.phase === 'Succeeded' && validIndex(p) && hasTrackingFinalizer(p)).map(completionIndex);
      st.succeededIndexes = withIndexes(st.prevSucceededIndexes, fresh);
      st.succeeded = st.succeededIndexes.reduce((n, v) => n + v.last - v.first + 1, 0);
    }

    let suspendChanged = false;
    if (st.finished) {
      // Finishing: stop what still runs; the terminal condition waits until it has stopped.
      const results = await Promise.all(activePods.map(async (p) => ({ ok: await this.podControl.delete(job, p), ready: isPodReady(p) })));
      const deleted = results.filter((r) => r.ok).length;
      if (deleted !== st.active || !satisfied) st.finished = undefined;
      st.active -= deleted;
      st.terminating += deleted;
      st.ready -= results.filter((r) => r.ok && r.ready).length;
    } else {
      let managed = false;
      if (satisfied && !job.metadata.deletionTimestamp) {
        const wait = await this.manageJob(st, activePods, now);
        if (wait !== undefined) requeue = requeue === undefined ? wait : Math.min(requeue, wait);
        managed = true;
      }
      if (isComplete(job.spec, st.succeeded, st.active)) {
        st.finished = newCondition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      } else if (managed) {
        suspendChanged = this.tracker.ensureCondition(job, 'Suspended', suspended ? 'True' : 'False',
          suspended ? 'JobSuspended' : 'JobResumed', suspended ? 'Job suspended' : 'Job resumed', now);
        if (suspendChanged) {
          this.ctx.recorder.event(job, 'Normal', suspended ? 'Suspended' : 'Resumed', suspended ? 'Job suspended' : 'Job resumed');
          // activeDeadlineSeconds counts continuous activity: a resumed Job starts its clock again.
          if (!suspended) job.status.startTime = rfc3339(now);
        }
      }
    }
    const needsUpdate = suspendChanged || startBefore !== job.status.startTime || st.active !== (job.status.active ?? 0)
      || st.ready !== job.status.ready || st.terminating !== job.status.terminating;
    job.status.active = st.active;
    job.status.ready = st.ready;
    job.status.terminating = st.terminating;
    await this.tracker.track(st, needsUpdate);
    return requeue === undefined ? undefined : { requeueAfterMs: Math.max(0, requeue) };
  }

  /**
   * Creates or deletes pods towards the wanted number of active pods; mutates st.active,
   * st.ready, st.terminating. Returns a delay when pod failure backoff holds creation back.
   */
  private async manageJob(st: SyncState, activePods: KObject[], now: number): Promise<number | undefined> {
    const { job, key } = st;
    if (job.spec.suspend) {
      await this.deletePods(st, [...activePods].sort(deletionOrder));
      return undefined;
    }
    const want = wantActive(job.spec, st.succeeded, st.active);
    const rm = activePodsForRemoval(job, activePods, Math.max(0, st.active - want)).slice(0, MAX_PER_SYNC);
    if (rm.length) {
      // Deletions and creations never mix in one sync; deletions go first.
      await this.deletePods(st, rm);
      return undefined;
    }
    const terminatingHeld = job.spec.podReplacementPolicy === 'Failed' || job.spec.podFailurePolicy ? st.terminating : 0;
    let diff = want - terminatingHeld - st.active;
    if (diff <= 0) return undefined;
    const wait = remainingBackoff(st.backoff, now);
    // Kubernetes never re-syncs sooner than its 1 s batching period while backing off.
    if (wait > 0) return Math.max(1000, wait);
    diff = Math.min(diff, MAX_PER_SYNC);
    let indexes: (number | undefined)[] = new Array(diff).fill(undefined);
    if (isIndexed(job)) {
      const held = new Set(activePods.map(completionIndex));
      indexes = firstPendingIndexes(st.succeededIndexes, held, diff, job.spec.completions);
    }
    if (!indexes.length) return undefined;
    this.expectations.expect(key, indexes.length, 0);
    const { created, err } = await this.podControl.create(job, indexes, (n) => { for (let i = 0; i < n; i++) this.expectations.creationObserved(key); });
    st.active += created;
    if (err) throw err;
    return undefined;
  }

  /** Suspension and scale-down: finalizer first (these pods are not counted), then delete. */
  private async deletePods(st: SyncState, pods: KObject[]): Promise<void> {
    if (!pods.length) return;
    this.expectations.expect(st.key, 0, pods.length);
    let firstErr: unknown;
    await Promise.all(pods.map(async (p) => {
      const ok = (await this.podControl.removeFinalizer(p)) && (await this.podControl.delete(st.job, p));
      if (!ok) { this.expectations.deletionObserved(st.key); firstErr ??= new Error(`deleting pod ${p.metadata.name} failed`); return; }
      st.active--;
      st.terminating++;
      if (isPodReady(p)) st.ready--;
    }));
    if (firstErr) throw firstErr;
  }
}

/**
 * The active pods to delete: for Indexed Jobs first those with an invalid or out-of-range
 * index and all but one of each duplicated index, then by Kubernetes' deletion order.
 */
export function activePodsForRemoval(job: KObject, pods: KObject[], atLeast: number): KObject[] {
  const rm: KObject[] = [];
  let left = pods;
  if (isIndexed(job)) {
    left = [];
    const byIndex = new Map<number, KObject[]>();
    for (const p of pods) {
      const ix = completionIndex(p);
      if (ix < 0 || ix >= job.spec.completions) rm.push(p);
      else (byIndex.get(ix) ?? byIndex.set(ix, []).get(ix)!).push(p);
    }
    for (const group of byIndex.values()) {
      // Keep the pod furthest along (last in deletion order).
      group.sort(deletionOrder);
      rm.push(...group.slice(0, -1));
      left.push(group[group.length - 1]);
    }
  }
  if (rm.length < atLeast) rm.push(...[...left].sort(deletionOrder).slice(0, atLeast - rm.length));
  return rm;
}
