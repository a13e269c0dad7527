/**
 * The CronJob controller (batch/v1), as kube-controller-manager's cronjob controller v2: each
 * CronJob is synced when it or one of its Jobs changes and again just after its next
 * scheduled time (a delayed queue entry on ctx.clock, so a FakeClock drives it in tests). A
 * sync reconciles status.active with the Jobs it owns, starts the Job of the most recent
 * unmet scheduled time when its concurrencyPolicy and startingDeadlineSeconds allow, and
 * prunes finished Jobs beyond the history limits.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { rfc3339 } from '../runtime/clock.js';
import { Controller, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef } from '../runtime/owners.js';
import { CronSchedule } from './cron.js';
import { checkZone } from './zone.js';
import { byStartTime, finishedType, jobFromTemplate, jobName, MANY_MISSED, mostRecentScheduleTime, nextScheduleDelay } from './schedule.js';

const OWNER_INDEX = 'cronjob-controller/owner';

/** Starts the Jobs of CronJobs on schedule. */
export class CronJobController {
  private readonly loop: Controller;
  private readonly cronjobs: Informer;
  private readonly jobs: Informer;
  private stopped = false;

  constructor(private readonly ctx: ControllerContext) {
    this.loop = new Controller('cronjob', (k) => this.sync(k), { workers: 2, clock: ctx.clock, log: ctx.log, metrics: ctx.metrics });
    this.cronjobs = ctx.informers.for(R.cronjobs);
    this.jobs = ctx.informers.for(R.jobs);
    this.jobs.addIndex(OWNER_INDEX, (j) => {
      const ref = controllerRef(j);
      return ref?.kind === 'CronJob' ? [`${j.metadata.namespace}/${ref.uid}`] : [];
    });
    this.cronjobs.on({
      add: (cj) => this.loop.enqueue(cj),
      update: (old, cj) => this.onUpdate(old, cj),
      delete: (cj) => this.loop.enqueue(cj),
    });
    const onJob = (j: KObject) => {
      const ref = controllerRef(j);
      if (ref?.kind !== 'CronJob') return;
      const cj = this.cronjobs.get(`${j.metadata.namespace}/${ref.name}`);
      if (cj && cj.metadata.uid === ref.uid) this.loop.enqueue(cj);
    };
    this.jobs.on({ add: onJob, update: (_o, j) => onJob(j), delete: onJob });
  }

  /** Starts the workers once both caches are filled. */
  run(): this {
    void Promise.all([this.cronjobs.synced, this.jobs.synced]).then(() => { if (!this.stopped) this.loop.run(); });
    return this;
  }

  /** Stops the workers. */
  stop(): void { this.stopped = true; this.loop.stop(); }

  /** Resolves when no key is queued or being synced (tests). */
  whenIdle(): Promise<void> { return this.loop.whenIdle(); }

  /** A new schedule or zone moves the next sync to the new next time; any other change syncs now. */
  private onUpdate(old: KObject, cj: KObject): void {
    if (old.spec?.schedule === cj.spec?.schedule && old.spec?.timeZone === cj.spec?.timeZone) { this.loop.enqueue(cj); return; }
    try {
      const sched = CronSchedule.parse(cj.spec?.schedule ?? '', cj.spec?.timeZone ?? '');
      const delay = nextScheduleDelay(cj, this.ctx.clock.now(), sched);
      if (delay !== undefined) this.loop.enqueueAfter(cj, delay);
    } catch {
      this.ctx.recorder.event(cj, 'Warning', 'UnParseableCronJobSchedule', `unparseable schedule for cronjob: ${cj.spec?.schedule}`);
    }
  }

  private async sync(key: string): Promise<SyncResult> {
    const cached = this.cronjobs.get(key);
    if (!cached) return;
    const cj = structuredClone(cached);
    cj.status ??= {};
    const { namespace } = splitKey(key);
    const jobs = this.jobs.byIndex(OWNER_INDEX, `${namespace}/${cj.metadata.uid}`);
    const before = JSON.stringify(cj.status);
    const requeue = await this.reconcile(cj, jobs);
    await this.cleanupFinishedJobs(cj, jobs);
    if (JSON.stringify(cj.status) !== before) await this.ctx.client.update(R.cronjobs, namespace, cj, 'status');
    return requeue === undefined ? undefined : { requeueAfterMs: Math.max(0, requeue) };
  }

  /** syncCronJob: updates cj.status in place; returns the delay until the next look, if any. */
  private async reconcile(cj: KObject, jobs: KObject[]): Promise<number | undefined> {
    const { recorder, client, clock } = this.ctx;
    const now = clock.now();
    const active = (): any[] => (cj.status.active ??= []);
    const inActive = (uid: string) => (cj.status.active ?? []).some((r: any) => r.uid === uid);
    const dropActive = (uid: string) => {
      cj.status.active = (cj.status.active ?? []).filter((r: any) => r.uid !== uid);
      if (!cj.status.active.length) delete cj.status.active;
    };
    const children = new Set<string>();
    for (const j of jobs) {
      children.add(j.metadata.uid);
      const done = finishedType(j);
      if (!inActive(j.metadata.uid) && !done) {
        // The cache may predate our own status write: ask the API server before complaining.
        const fresh = await client.get(R.cronjobs, cj.metadata.namespace, cj.metadata.name!);
        if ((fresh.status?.active ?? []).some((r: any) => r.uid === j.metadata.uid)) {
          for (const k of Object.keys(cj)) delete cj[k];
          Object.assign(cj, fresh, { status: fresh.status ?? {} });
          continue;
        }
        // Started by someone else (e.g. `kubectl create job --from=cronjob/...`) or lost from status.
        recorder.event(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name}`);
      } else if (done) {
        if (inActive(j.metadata.uid)) {
          dropActive(j.metadata.uid);
          recorder.event(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, condition: ${done}`);
        }
        const completed = j.status?.completionTime;
        if (done === 'Complete' && completed && (!cj.status.lastSuccessfulTime || Date.parse(completed) > Date.parse(cj.status.lastSuccessfulTime))) {
          cj.status.lastSuccessfulTime = completed;
        }
      }
    }
    // Jobs in status.active that no longer exist: ask the API server, not a possibly stale cache.
    for (const ref of [...(cj.status.active ?? [])]) {
      if (children.has(ref.uid)) continue;
      try {
        await client.get(R.jobs, ref.namespace ?? cj.metadata.namespace, ref.name);
      } catch (err) {
        if (!(err instanceof ApiStatusError && err.code === 404)) throw err;
        recorder.event(cj, 'Normal', 'MissingJob', `Active job went missing: ${ref.name}`);
        dropActive(ref.uid);
      }
    }
    if (cj.metadata.deletionTimestamp) return undefined;
    const tz = cj.spec?.timeZone;
    if (typeof tz === 'string') {
      try { checkZone(tz); } catch (err) {
        recorder.event(cj, 'Warning', 'UnknownTimeZone', `invalid timeZone: ${JSON.stringify(tz)}: unknown time zone ${tz}`);
        return undefined;
      }
    }
    if (cj.spec?.suspend) return undefined;
    let sched: CronSchedule;
    try {
      sched = CronSchedule.parse(cj.spec?.schedule ?? '', tz ?? '');
    } catch (err) {
      recorder.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec?.schedule)} : ${(err as Error).message}`);
      return undefined;
    }
    let scheduled: number | undefined;
    try {
      const r = mostRecentScheduleTime(cj, now, sched, true);
      scheduled = r.mostRecent;
      if (scheduled !== undefined && r.missed > MANY_MISSED) {
        recorder.event(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
      }
    } catch (err) {
      recorder.event(cj, 'Warning', 'InvalidSchedule', `invalid schedule: ${cj.spec?.schedule} : ${(err as Error).message}`);
      return undefined;
    }
    const next = () => nextScheduleDelay(cj, now, sched);
    if (scheduled === undefined) return next();
    const deadline = cj.spec?.startingDeadlineSeconds;
    if (typeof deadline === 'number' && scheduled + deadline * 1000 < now) {
      recorder.event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${rfc1123z(scheduled)}`);
      return next();
    }
    const name = jobName(cj.metadata.name!, scheduled);
    if ((cj.status.active ?? []).some((r: any) => r.name === name) || (cj.status.lastScheduleTime && Date.parse(cj.status.lastScheduleTime) === scheduled)) {
      return next();
    }
    const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && (cj.status.active ?? []).length > 0) {
      recorder.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return next();
    }
    if (policy === 'Replace') {
      for (const ref of [...(cj.status.active ?? [])]) {
        await this.deleteJob(cj, ref.namespace ?? cj.metadata.namespace, ref.name);
        dropActive(ref.uid);
      }
    }
    const req = jobFromTemplate(cj, scheduled);
    let job: KObject;
    try {
      job = await client.create(R.jobs, cj.metadata.namespace, req);
      recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${job.metadata.name}`);
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 409)) {
        recorder.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${(err as Error).message}`);
        throw err;
      }
      // Made by an earlier sync whose status write was lost: record it; someone else's: leave it.
      job = await client.get(R.jobs, cj.metadata.namespace, name);
      if (controllerRef(job)?.uid !== cj.metadata.uid || inActive(job.metadata.uid)) return undefined;
    }
    active().push({ kind: 'Job', namespace: job.metadata.namespace, name: job.metadata.name, uid: job.metadata.uid, apiVersion: 'batch/v1', resourceVersion: job.metadata.resourceVersion });
    cj.status.lastScheduleTime = rfc3339(scheduled);
    return next();
  }

  /** Deletes the oldest finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit. */
  private async cleanupFinishedJobs(cj: KObject, jobs: KObject[]): Promise<void> {
    const limits: Record<'Complete' | 'Failed', number | undefined> = { Complete: cj.spec?.successfulJobsHistoryLimit, Failed: cj.spec?.failedJobsHistoryLimit };
    for (const type of ['Complete', 'Failed'] as const) {
      const limit = limits[type];
      if (typeof limit !== 'number') continue;
      const done = jobs.filter((j) => finishedType(j) === type && !j.metadata.deletionTimestamp).sort(byStartTime);
      for (const j of done.slice(0, Math.max(0, done.length - limit))) {
        if (await this.deleteJob(cj, j.metadata.namespace!, j.metadata.name!)) {
          cj.status.active = (cj.status.active ?? []).filter((r: any) => r.uid !== j.metadata.uid);
          if (!cj.status.active.length) delete cj.status.active;
        }
      }
    }
  }

  /** Deletes a Job and its pods (background propagation, as Kubernetes' cronjob controller). */
  private async deleteJob(cj: KObject, namespace: string, name: string): Promise<boolean> {
    try {
      await this.ctx.client.delete(R.jobs, namespace, name, { propagationPolicy: 'Background' });
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 404)) {
        this.ctx.recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${(err as Error).message}`);
        return false;
      }
    }
    this.ctx.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${name}`);
    return true;
  }
}

/** Go's time.RFC1123Z in UTC: "Mon, 02 Jan 2006 15:04:05 +0000". */
function rfc1123z(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000');
}
