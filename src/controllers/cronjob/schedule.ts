/**
 * The CronJob controller's arithmetic, as kube-controller-manager's (cronjob/utils.go): which
 * scheduled time is due now, how many were missed, when to look again, and the Job made for
 * a scheduled time (named `<cronjob>-<minutes since the epoch>`, so one time makes one Job
 * however often the controller retries).
 */
import type { KObject } from '../../client/client.js';
import type { CronSchedule } from './cron.js';
import { rfc3339In } from './zone.js';

/** More missed schedules than this get a TooManyMissedTimes warning (Kubernetes' figure). */
export const MANY_MISSED = 100;

/** A little past the scheduled time, so the sync at that time finds it due (Kubernetes: 100 ms). */
export const NEXT_SCHEDULE_DELTA_MS = 100;

/** The annotation recording a Job's scheduled time, in the CronJob's zone. */
export const SCHEDULED_TIMESTAMP = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

/** What mostRecentScheduleTime found. */
export interface Recent {
  /** The time scheduling starts from: last schedule, creation, or the starting deadline. */
  earliest: number;
  /** The latest scheduled time not after now, if any is unmet. */
  mostRecent?: number;
  /** How many scheduled times passed since `earliest` (an estimate when many). */
  missed: number;
}

const ms = (s: string | undefined): number | undefined => (s ? Date.parse(s) : undefined);

/**
 * The most recent unmet scheduled time of `cj` at `now`. Counting every missed time could
 * take forever after a long outage or a wrong clock, so, as Kubernetes, it jumps by the
 * distance between the first two times and walks only the last few.
 */
export function mostRecentScheduleTime(cj: KObject, now: number, sched: CronSchedule, withDeadline: boolean): Recent {
  let earliest = ms(cj.status?.lastScheduleTime) ?? ms(cj.metadata.creationTimestamp) ?? now;
  const deadline = cj.spec?.startingDeadlineSeconds;
  if (withDeadline && typeof deadline === 'number') {
    // Nothing older than the deadline will be started, so do not look before it.
    earliest = Math.max(earliest, now - deadline * 1000);
  }
  const t1 = sched.next(earliest);
  if (t1 === undefined || now < t1) return { earliest, missed: 0 };
  const t2 = sched.next(t1);
  if (t2 === undefined || now < t2) return { earliest, mostRecent: t1, missed: 1 };
  const between = Math.round((t2 - t1) / 1000);
  if (between < 1) throw new Error('time difference between two schedules is less than 1 second');
  const missed = Math.floor(Math.floor((now - t1) / 1000) / between) + 1;
  // Start one interval before the estimate so irregular schedules (e.g. "30 6-16/4 * * 1-5") land right.
  let t: number | undefined = sched.next(t1 + (missed - 2) * between * 1000);
  let mostRecent: number | undefined;
  for (; t !== undefined && t <= now; t = sched.next(t)) mostRecent = t;
  return { earliest, mostRecent, missed };
}

/** How long until the sync after the next scheduled time (undefined: never). */
export function nextScheduleDelay(cj: KObject, now: number, sched: CronSchedule): number | undefined {
  let r: Recent;
  try { r = mostRecentScheduleTime(cj, now, sched, false); } catch { return undefined; }
  const next = sched.next(r.mostRecent ?? r.earliest);
  return next === undefined ? undefined : next + NEXT_SCHEDULE_DELTA_MS - now;
}

/** A Job's name for a scheduled time: the CronJob's name and the time in minutes since the epoch. */
export function jobName(cjName: string, scheduled: number): string {
  return `${cjName}-${Math.floor(scheduled / 60_000)}`;
}

/** The Job a CronJob creates for `scheduled`: its template's labels, annotations and spec, and a controller reference. */
export function jobFromTemplate(cj: KObject, scheduled: number): KObject {
  const tmpl = cj.spec?.jobTemplate ?? {};
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: {
      name: jobName(cj.metadata.name!, scheduled),
      namespace: cj.metadata.namespace,
      labels: { ...(tmpl.metadata?.labels ?? {}) },
      annotations: { ...(tmpl.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP]: rfc3339In(scheduled, cj.spec?.timeZone ?? '') },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name, uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: structuredClone(tmpl.spec ?? {}),
  };
}

/** The Complete or Failed condition type of a finished Job, or undefined. */
export function finishedType(job: KObject): 'Complete' | 'Failed' | undefined {
  const c = (job.status?.conditions ?? []).find((x: any) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  return c?.type;
}

/** Oldest first by status.startTime (unstarted last), names breaking ties, as Kubernetes' byJobStartTime. */
export function byStartTime(a: KObject, b: KObject): number {
  const sa = ms(a.status?.startTime), sb = ms(b.status?.startTime);
  if (sa === undefined || sb === undefined) return sa === undefined ? (sb === undefined ? 0 : 1) : -1;
  return sa - sb || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0);
}
