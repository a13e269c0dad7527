import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronSchedule } from './cron.js';
import { fromWall, rfc3339In, wallOf } from './zone.js';
import { byStartTime, jobFromTemplate, jobName, mostRecentScheduleTime, nextScheduleDelay } from './schedule.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z'));

test('cron: next activation, table of specs, zones and DST changes', () => {
  const cases: [string, string, string, string | undefined, string][] = [
    // spec, zone, from, expected next (UTC), why
    ['* * * * *', '', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 'strictly after "from"'],
    ['* * * * *', '', '2026-01-01T00:00:30Z', '2026-01-01T00:01:00Z', 'seconds are always 0'],
    ['*/15 * * * *', '', '2026-01-01T00:07:00Z', '2026-01-01T00:15:00Z', 'step'],
    ['5/20 * * * *', '', '2026-01-01T00:26:00Z', '2026-01-01T00:45:00Z', 'N/step means N-59/step'],
    ['1-10/3 * * * *', '', '2026-01-01T00:05:00Z', '2026-01-01T00:07:00Z', 'range with step'],
    ['0,30 9-17 * * *', '', '2026-01-01T17:30:00Z', '2026-01-02T09:00:00Z', 'lists and hour ranges'],
    ['0 0 1 jan-MAR *', '', '2026-03-02T00:00:00Z', '2027-01-01T00:00:00Z', 'month names, any case'],
    ['0 0 * * MON-fri', '', '2026-01-03T00:00:00Z', '2026-01-05T00:00:00Z', 'weekday names: Saturday -> Monday'],
    ['0 0 13 * 5', '', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'day-of-month OR day-of-week when both restricted (Fri 2 Jan)'],
    ['0 0 13 * *', '', '2026-01-01T00:00:00Z', '2026-01-13T00:00:00Z', 'day-of-month alone'],
    ['0 0 */2 * 5', '', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'a stepped star restricts: OR applies'],
    ['0 0 29 2 *', '', '2026-01-01T00:00:00Z', '2028-02-29T00:00:00Z', 'leap day'],
    ['0 0 30 2 *', '', '2026-01-01T00:00:00Z', undefined, 'never: none within five years'],
    ['@hourly', '', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', 'descriptor'],
    ['@weekly', '', '2026-01-01T00:00:00Z', '2026-01-04T00:00:00Z', 'Sundays'],
    ['@yearly', '', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', 'descriptor'],
    ['0 9 * * *', 'Asia/Tokyo', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '09:00 JST = 00:00Z'],
    ['0 9 * * *', 'Asia/Kolkata', '2026-01-01T00:00:00Z', '2026-01-01T03:30:00Z', 'half-hour offset'],
    ['0 0 * * *', 'America/New_York', '2026-07-01T00:00:00Z', '2026-07-01T04:00:00Z', 'EDT midnight'],
    // Spring forward (US, 8 Mar 2026, 02:00 EST -> 03:00 EDT): 02:30 does not exist that day, robfig skips it.
    ['30 2 * * *', 'America/New_York', '2026-03-07T17:00:00Z', '2026-03-09T06:30:00Z', 'skipped wall time does not fire'],
    ['30 3 * * *', 'America/New_York', '2026-03-07T17:00:00Z', '2026-03-08T07:30:00Z', 'after the gap: EDT'],
    // Fall back (US, 1 Nov 2026, 02:00 EDT -> 01:00 EST): 01:30 happens twice and fires twice.
    ['30 1 * * *', 'America/New_York', '2026-10-31T17:00:00Z', '2026-11-01T05:30:00Z', 'first 01:30 (EDT)'],
    ['30 1 * * *', 'America/New_York', '2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z', 'second 01:30 (EST)'],
    ['30 1 * * *', 'America/New_York', '2026-11-01T06:30:00Z', '2026-11-02T06:30:00Z', 'then the next day'],
    ['0 * * * *', 'Europe/Berlin', '2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', 'hourly across the EU change (03:00 CEST)'],
  ];
  for (const [spec, zone, from, want, why] of cases) {
    assert.equal(iso(CronSchedule.parse(spec, zone).next(Date.parse(from))), want, `${spec} in ${zone || 'UTC'} from ${from}: ${why}`);
  }
});

test('cron: syntax errors, with robfig/cron wording', () => {
  const cases: [string, RegExp][] = [
    ['* * * *', /expected exactly 5 fields, found 4/],
    ['* * * * * *', /expected exactly 5 fields, found 6/],
    ['0 0 * * 7', /end of range \(7\) above maximum \(6\)/],
    ['60 * * * *', /end of range \(60\) above maximum \(59\)/],
    ['0 0 0 * *', /beginning of range \(0\) below minimum \(1\)/],
    ['5-1 * * * *', /beginning of range \(5\) beyond end of range \(1\)/],
    ['*/0 * * * *', /step of range should be a positive number/],
    ['1-2-3 * * * *', /too many hyphens/],
    ['*/2/3 * * * *', /too many slashes/],
    ['x * * * *', /failed to parse int from x/],
    ['@every 5m', /not supported/],
    ['@fortnightly', /unrecognized descriptor/],
    ['', /empty spec string/],
  ];
  for (const [spec, re] of cases) assert.throws(() => CronSchedule.parse(spec), re, spec);
  assert.throws(() => CronSchedule.parse('* * * * *', 'Mars/Olympus_Mons'), RangeError);
});

test('zones: wall fields, Go-like normalization and RFC 3339 with offsets', () => {
  assert.deepEqual(wallOf(Date.parse('2026-01-02T00:00:00Z'), 'Asia/Tokyo'), { year: 2026, month: 1, day: 2, hour: 9, minute: 0, second: 0, weekday: 5 });
  assert.equal(iso(fromWall(2026, 13, 1, 0, 0, 0, 'UTC')), '2027-01-01T00:00:00Z', 'month 13 is January');
  assert.equal(iso(fromWall(2026, 3, 0, 12, 0, 0, 'UTC')), '2026-02-28T12:00:00Z', 'day 0 is the last of the month before');
  assert.equal(iso(fromWall(2026, 7, 1, 0, 0, 0, 'America/New_York')), '2026-07-01T04:00:00Z');
  assert.equal(rfc3339In(Date.parse('2026-01-01T00:01:00Z'), ''), '2026-01-01T00:01:00Z');
  assert.equal(rfc3339In(Date.parse('2026-01-01T00:01:00Z'), 'Asia/Tokyo'), '2026-01-01T09:01:00+09:00');
  assert.equal(rfc3339In(Date.parse('2026-01-01T12:00:00Z'), 'America/New_York'), '2026-01-01T07:00:00-05:00');
});

const cronjob = (over: any = {}) => ({
  apiVersion: 'batch/v1', kind: 'CronJob',
  metadata: { name: 'hello', namespace: 'default', uid: 'u-1', creationTimestamp: '2026-01-01T00:00:00Z', ...over.metadata },
  spec: { schedule: '* * * * *', jobTemplate: { metadata: { labels: { app: 'x' } }, spec: { template: { spec: { containers: [] } } } }, ...over.spec },
  status: { ...over.status },
});

test('schedule: the most recent unmet time and the missed count, table', () => {
  const t = (s: string) => Date.parse(s);
  const cases: [string, any, string, string | undefined, number][] = [
    ['nothing due yet', {}, '2026-01-01T00:00:30Z', undefined, 0],
    ['first minute due', {}, '2026-01-01T00:01:00Z', '2026-01-01T00:01:00Z', 1],
    ['three missed: the latest is due', {}, '2026-01-01T00:03:10Z', '2026-01-01T00:03:00Z', 3],
    ['counted from lastScheduleTime', { status: { lastScheduleTime: '2026-01-01T00:02:00Z' } }, '2026-01-01T00:02:59Z', undefined, 0],
    ['200 missed (TooManyMissedTimes territory)', {}, '2026-01-01T03:20:00Z', '2026-01-01T03:20:00Z', 200],
    ['startingDeadlineSeconds bounds the look-back', { spec: { startingDeadlineSeconds: 90 } }, '2026-01-01T03:20:00Z', '2026-01-01T03:20:00Z', 2],
    ['hourly, irregular range', { spec: { schedule: '30 6-16/4 * * 1-5' } }, '2026-01-09T12:00:00Z', '2026-01-09T10:30:00Z', 0],
  ];
  for (const [why, over, now, want, missed] of cases) {
    const cj = cronjob(over);
    const r = mostRecentScheduleTime(cj, t(now), CronSchedule.parse(cj.spec.schedule), true);
    assert.equal(iso(r.mostRecent), want, why);
    if (missed) assert.equal(r.missed, missed, why);
  }
  const cj = cronjob({ status: { lastScheduleTime: '2026-01-01T00:02:00Z' } });
  assert.equal(nextScheduleDelay(cj, t('2026-01-01T00:02:20Z'), CronSchedule.parse('* * * * *')), 40_100, 'just past the next minute');
});

test('schedule: job names and the Job made from the template', () => {
  assert.equal(jobName('hello', Date.parse('2026-01-01T00:01:00Z')), `hello-${Date.parse('2026-01-01T00:01:00Z') / 60_000}`);
  const j = jobFromTemplate(cronjob({ spec: { timeZone: 'Asia/Tokyo' } }), Date.parse('2026-01-01T00:01:00Z'));
  assert.equal(j.metadata.name, 'hello-29453761');
  assert.deepEqual(j.metadata.labels, { app: 'x' });
  assert.equal(j.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-01-01T09:01:00+09:00');
  assert.deepEqual(j.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: 'u-1', controller: true, blockOwnerDeletion: true }]);
  const jobs = [
    { metadata: { name: 'c' }, status: {} },
    { metadata: { name: 'b' }, status: { startTime: '2026-01-01T00:02:00Z' } },
    { metadata: { name: 'a' }, status: { startTime: '2026-01-01T00:02:00Z' } },
    { metadata: { name: 'd' }, status: { startTime: '2026-01-01T00:01:00Z' } },
  ];
  assert.deepEqual(jobs.sort(byStartTime).map((x) => x.metadata.name), ['d', 'a', 'b', 'c']);
});
