/**
 * Jobs and CronJobs end to end: a real API server, the Job, TTL-after-finished and CronJob
 * controllers on a FakeClock (so backoffs, deadlines, TTLs and schedules are moved by hand),
 * simulated nodes that run pods to completion (sim.skiff.dev/complete-after-ms and exit-code),
 * a test binder in place of the scheduler, and the real kubectl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { TestBinder } from './helpers/job-binder.js';
import { until } from './helpers/cluster.js';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { SimNodes } from '../src/sim/nodes.js';
import { FakeClock } from '../src/controllers/runtime/clock.js';
import { InformerFactory } from '../src/controllers/runtime/informer.js';
import { ApiEventRecorder } from '../src/controllers/runtime/events.js';
import { silentLog, type ControllerContext } from '../src/controllers/runtime/controller.js';
import { JobController } from '../src/controllers/job/job.js';
import { TTLAfterFinishedController } from '../src/controllers/job/ttl.js';
import { CronJobController } from '../src/controllers/cronjob/cronjob.js';

let server: TestServer;
let client: ApiClient;
let sim: SimNodes;
let binder: TestBinder;
let informers: InformerFactory;
let recorder: ApiEventRecorder;
let ticker: NodeJS.Timeout;
const running: { stop(): void }[] = [];
// Starts at the real time (creation timestamps come from the server's clock) and keeps
// ticking with it, so retries of conflicting writes proceed; tests jump it forward.
const clock = new FakeClock(Date.now());


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  informers = new InformerFactory(client);
  recorder = new ApiEventRecorder(client, 'job-controller', clock);
  const ctx: ControllerContext = { client, informers, clock, recorder, log: silentLog };
  running.push(new JobController(ctx).run(), new TTLAfterFinishedController(ctx).run());
  informers.start();
  ticker = setInterval(() => clock.advance(50), 50);
  sim = new SimNodes(client);
  await sim.start();
  await sim.addNodes(2, 'n');
  binder = await new TestBinder(client, ['n-0', 'n-1']).start();
});

after(async () => {
  clearInterval(ticker);
  for (const r of running) r.stop();
  binder?.stop();
  sim?.stop();
  informers?.stop();
  await recorder?.flush();
  client?.close();
  await server?.stop();
});

const jobManifest = (name: string, spec: any, annotations: Record<string, string> = { 'sim.skiff.dev/complete-after-ms': '200' }) => ({
  apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: 'default' },
  spec: { ...spec, template: { metadata: { annotations }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36', command: ['true'] }] } } },
});

const podsOf = async (job: string) => (await client.list(R.pods, 'default', { labelSelector: `batch.kubernetes.io/job-name=${job}` })).items;
const getJob = (name: string) => client.get(R.jobs, 'default', name);
const cond = (obj: KObject, type: string) => (obj.status?.conditions ?? []).find((c: any) => c.type === type && c.status === 'True');
async function events(name: string): Promise<{ reason: string; message: string; type: string }[]> {
  await recorder.flush();
  return (await client.list(R.events, 'default', { fieldSelector: `involvedObject.name=${name}` })).items.map((e: any) => ({ reason: e.reason, message: e.message, type: e.type }));
}

test('a Job with completions 3 and parallelism 2 runs at most 2 pods, completes, and `kubectl wait --for=condition=complete` returns', async () => {
  // Track how many pods of the Job run at once.
  let maxActive = 0;
  const watch = setInterval(() => {
    void podsOf('pi').then((ps) => {
      const n = ps.filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase) && !p.metadata.deletionTimestamp).length;
      maxActive = Math.max(maxActive, n);
    }).catch(() => {});
  }, 20);
  const applied = await server.kubectl('1.33', ['apply', '-f', '-'], { input: JSON.stringify(jobManifest('pi', { completions: 3, parallelism: 2 })) });
  assert.equal(applied.code, 0, applied.stderr);
  const waited = await server.kubectl('1.33', ['wait', '--for=condition=complete', 'job/pi', '--timeout=60s']);
  clearInterval(watch);
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(waited.stdout, /job.batch\/pi condition met/);
  const job = await getJob('pi');
  assert.equal(job.status.succeeded, 3);
  assert.equal(job.status.active, 0);
  assert.equal(job.status.failed ?? 0, 0);
  assert.ok(job.status.startTime && job.status.completionTime);
  assert.ok(cond(job, 'SuccessCriteriaMet'), 'the interim condition came first');
  assert.equal(cond(job, 'Complete').reason, 'CompletionsReached');
  assert.deepEqual(job.status.uncountedTerminatedPods, {});
  assert.ok(maxActive <= 2, `at most parallelism pods at once (saw ${maxActive})`);
  const pods = await podsOf('pi');
  assert.equal(pods.length, 3);
  for (const p of pods) {
    assert.equal(p.status.phase, 'Succeeded');
    assert.deepEqual(p.metadata.finalizers ?? [], [], 'the tracking finalizer is removed once counted');
    assert.equal(p.metadata.labels['batch.kubernetes.io/controller-uid'], job.metadata.uid);
    assert.equal(p.metadata.ownerReferences[0].kind, 'Job');
  }
  const ev = await events('pi');
  assert.equal(ev.filter((e) => e.reason === 'SuccessfulCreate').length, 3);
  assert.ok(ev.some((e) => e.reason === 'Completed' && e.message === 'Job completed'));
  const got = await server.kubectl('1.27', ['get', 'job', 'pi']);
  assert.match(got.stdout, /^pi\s+(\S+\s+)?3\/3\s/m);
});

test('a Job whose pods fail backs off between attempts and stops at its backoffLimit with exactly backoffLimit+1 failed pods', async () => {
  await client.create(R.jobs, 'default', jobManifest('fails', { backoffLimit: 2 }, { 'sim.skiff.dev/complete-after-ms': '100', 'sim.skiff.dev/exit-code': '1' }));
  await until('the first failure counted', async () => (await getJob('fails')).status?.failed === 1);
  // 10 s of backoff on the controller's clock: no new pod while (almost) no time passes.
  await sleep(1000);
  assert.equal((await podsOf('fails')).length, 1, 'no re-creation before the backoff has passed');
  clock.advance(10_000);
  await until('the second pod', async () => (await podsOf('fails')).length === 2);
  await until('the second failure counted', async () => (await getJob('fails')).status?.failed === 2);
  clock.advance(10_000);
  await sleep(500);
  assert.equal((await podsOf('fails')).length, 2, 'the second backoff is 20 s');
  clock.advance(10_000);
  const job = await until('the Job failed', async () => { const j = await getJob('fails'); return cond(j, 'Failed') && j; });
  assert.equal(cond(job, 'Failed').reason, 'BackoffLimitExceeded');
  assert.equal(cond(job, 'Failed').message, 'Job has reached the specified backoff limit');
  assert.equal(cond(job, 'FailureTarget').reason, 'BackoffLimitExceeded');
  assert.equal(job.status.failed, 3);
  assert.equal(job.status.succeeded ?? 0, 0);
  clock.advance(60_000);
  await sleep(500);
  const pods = await podsOf('fails');
  assert.equal(pods.length, 3, 'exactly backoffLimit+1 pods');
  assert.ok(pods.every((p) => p.status.phase === 'Failed' && !(p.metadata.finalizers ?? []).length));
  const ev = await events('fails');
  assert.ok(ev.some((e) => e.type === 'Warning' && e.reason === 'BackoffLimitExceeded'));
  const w = await server.kubectl('1.33', ['wait', '--for=condition=failed', 'job/fails', '--timeout=10s']);
  assert.equal(w.code, 0, w.stderr);
});

test('an Indexed Job gives each pod its index (annotation, label, hostname) and reports completedIndexes', async () => {
  await client.create(R.jobs, 'default', jobManifest('idx', { completions: 3, parallelism: 3, completionMode: 'Indexed' }));
  const w = await server.kubectl('1.33', ['wait', '--for=condition=complete', 'job/idx', '--timeout=60s']);
  assert.equal(w.code, 0, w.stderr);
  const job = await getJob('idx');
  assert.equal(job.status.completedIndexes, '0-2');
  assert.equal(job.status.succeeded, 3);
  const pods = (await podsOf('idx')).sort((a, b) => a.spec.hostname.localeCompare(b.spec.hostname));
  assert.deepEqual(pods.map((p) => p.spec.hostname), ['idx-0', 'idx-1', 'idx-2']);
  pods.forEach((p, i) => {
    assert.equal(p.metadata.annotations['batch.kubernetes.io/job-completion-index'], String(i));
    assert.equal(p.metadata.labels['batch.kubernetes.io/job-completion-index'], String(i));
    assert.match(p.metadata.name!, new RegExp(`^idx-${i}-[a-z0-9]{5}$`));
    assert.equal(p.spec.containers[0].env[0].name, 'JOB_COMPLETION_INDEX');
  });
});

test('a work-queue Job (parallelism, no completions) completes when its pods have ended and one succeeded', async () => {
  await client.create(R.jobs, 'default', jobManifest('queue', { parallelism: 2 }));
  const job = await until('complete', async () => { const j = await getJob('queue'); return cond(j, 'Complete') && j; });
  assert.equal(job.spec.completions, undefined, 'completions stays unset');
  assert.equal(job.status.succeeded, 2);
});

test('activeDeadlineSeconds fails a running Job with DeadlineExceeded and stops its pods', async () => {
  await client.create(R.jobs, 'default', jobManifest('slow', { activeDeadlineSeconds: 30 }, {}));
  await until('a running pod', async () => (await podsOf('slow')).some((p) => p.status?.phase === 'Running'));
  clock.advance(31_000);
  const job = await until('failed', async () => { const j = await getJob('slow'); return cond(j, 'Failed') && j; });
  assert.equal(cond(job, 'Failed').reason, 'DeadlineExceeded');
  assert.equal(job.status.failed, 1, 'the pod stopped counts as failed');
  assert.equal(job.status.active, 0);
  await until('the pod gone', async () => (await podsOf('slow')).length === 0);
  assert.ok((await events('slow')).some((e) => e.reason === 'DeadlineExceeded' && e.type === 'Warning'));
});

test('a suspended Job makes no pods until resumed', async () => {
  await client.create(R.jobs, 'default', jobManifest('later', { suspend: true }));
  const j = await until('Suspended condition', async () => { const x = await getJob('later'); return cond(x, 'Suspended') && x; });
  assert.equal(j.status.startTime, undefined);
  assert.equal((await podsOf('later')).length, 0);
  await client.patch(R.jobs, 'default', 'later', { spec: { suspend: false } }, 'merge');
  const done = await until('complete', async () => { const x = await getJob('later'); return cond(x, 'Complete') && x; });
  assert.equal(done.status.conditions.find((c: any) => c.type === 'Suspended').status, 'False');
  assert.ok((await events('later')).some((e) => e.reason === 'Resumed'));
});

test('ttlSecondsAfterFinished deletes the finished Job and its pods after the TTL', async () => {
  await client.create(R.jobs, 'default', jobManifest('short-lived', { ttlSecondsAfterFinished: 60 }));
  await until('complete', async () => cond(await getJob('short-lived'), 'Complete'));
  await sleep(300);
  assert.ok(await getJob('short-lived'), 'kept until the TTL passes');
  clock.advance(61_000);
  await until('the Job deleted', async () => { try { await getJob('short-lived'); return false; } catch (e: any) { return e.code === 404; } });
  await until('its pods deleted', async () => (await podsOf('short-lived')).length === 0);
});

/**
 * A CronJob controller on a clock of its own, starting at the real time (the Job tests have
 * moved the shared clock ahead, and a CronJob created "in the past" of its controller would
 * rightly catch up on the minutes it missed). It starts clear of a minute boundary.
 */
async function startCron(): Promise<{ clock: FakeClock; nextMinute(): number; stop(): void }> {
  while (Date.now() % 60_000 > 55_000) await sleep(500);
  const cronClock = new FakeClock(Date.now());
  const ctrl = new CronJobController({ client, informers, clock: cronClock, recorder: new ApiEventRecorder(client, 'cronjob-controller', cronClock), log: silentLog }).run();
  informers.start(); // the CronJob informer is new the first time
  const tick = setInterval(() => cronClock.advance(50), 50);
  return {
    clock: cronClock,
    // Moves the clock just past the next minute boundary; returns that minute (ms).
    nextMinute() {
      const m = Math.floor(cronClock.now() / 60_000) * 60_000 + 60_000;
      cronClock.set(m + 1000);
      return m;
    },
    stop() { clearInterval(tick); ctrl.stop(); },
  };
}

const cronManifest = (name: string, spec: any, annotations: Record<string, string>) => ({
  apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name, namespace: 'default' },
  spec: {
    schedule: '* * * * *', ...spec,
    jobTemplate: { spec: { template: { metadata: { annotations }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36' }] } } } },
  },
});

const jobsOfCron = async (uid: string) => (await client.list(R.jobs, 'default')).items.filter((j) => j.metadata.ownerReferences?.[0]?.uid === uid);

test('a CronJob fires once per scheduled minute on the controller clock and prunes to its history limit', async (t) => {
  const { nextMinute, stop } = await startCron();
  t.after(stop);
  const cj = await client.create(R.cronjobs, 'default', cronManifest('tick', { successfulJobsHistoryLimit: 2 }, { 'sim.skiff.dev/complete-after-ms': '100' }));
  await sleep(300);
  assert.equal((await jobsOfCron(cj.metadata.uid)).length, 0, 'nothing before the first scheduled minute');
  const minutes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const m = nextMinute();
    minutes.push(m);
    const name = `tick-${m / 60_000}`;
    const job = await until(`job ${name}`, async () => { try { return await getJob(name); } catch { return undefined; } });
    assert.equal(job.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], new Date(m).toISOString().replace('.000Z', 'Z'));
    await until(`${name} complete and seen`, async () => {
      const c = await client.get(R.cronjobs, 'default', 'tick');
      return cond(await getJob(name), 'Complete') && !(c.status.active ?? []).length && c.status.lastScheduleTime === new Date(m).toISOString().replace('.000Z', 'Z') && c;
    });
  }
  const left = await until('pruned to 2', async () => { const js = await jobsOfCron(cj.metadata.uid); return js.length === 2 && js; });
  assert.deepEqual(left.map((j) => j.metadata.name).sort(), minutes.slice(1).map((m) => `tick-${m / 60_000}`).sort(), 'the oldest went');
  const c = await client.get(R.cronjobs, 'default', 'tick');
  assert.ok(c.status.lastSuccessfulTime);
  const ev = await events('tick');
  assert.equal(ev.filter((e) => e.reason === 'SuccessfulCreate').length, 3);
  assert.ok(ev.some((e) => e.reason === 'SawCompletedJob'));
  assert.ok(ev.some((e) => e.reason === 'SuccessfulDelete' && e.message === `Deleted job tick-${minutes[0] / 60_000}`));
  await client.patch(R.cronjobs, 'default', 'tick', { spec: { suspend: true } }, 'merge');
  await sleep(300);
  const m = nextMinute();
  await sleep(1000);
  assert.ok(!(await jobsOfCron(cj.metadata.uid)).some((j) => j.metadata.name === `tick-${m / 60_000}`), 'a suspended CronJob starts nothing');
});

test('concurrencyPolicy Forbid skips a scheduled time while the previous Job runs', async (t) => {
  const { nextMinute, stop } = await startCron();
  t.after(stop);
  const cj = await client.create(R.cronjobs, 'default', cronManifest('single', { concurrencyPolicy: 'Forbid' }, {}));
  const m1 = nextMinute();
  await until('first job active', async () => (await client.get(R.cronjobs, 'default', 'single')).status?.active?.[0]?.name === `single-${m1 / 60_000}`);
  nextMinute();
  await until('JobAlreadyActive', async () => (await events('single')).some((e) => e.reason === 'JobAlreadyActive'));
  assert.equal((await jobsOfCron(cj.metadata.uid)).length, 1);
  await client.patch(R.cronjobs, 'default', 'single', { spec: { suspend: true } }, 'merge');
});

test('`kubectl create job --from=cronjob/x` makes a Job from the template that runs to completion', async (t) => {
  const { stop } = await startCron();
  t.after(stop);
  const cj = await client.create(R.cronjobs, 'default', cronManifest('manual', { suspend: true }, { 'sim.skiff.dev/complete-after-ms': '100' }));
  const r = await server.kubectl('1.33', ['create', 'job', 'manual-run', '--from=cronjob/manual']);
  assert.equal(r.code, 0, r.stderr);
  const w = await server.kubectl('1.33', ['wait', '--for=condition=complete', 'job/manual-run', '--timeout=60s']);
  assert.equal(w.code, 0, w.stderr);
  const job = await getJob('manual-run');
  assert.equal(job.metadata.annotations['cronjob.kubernetes.io/instantiate'], 'manual');
  assert.equal(job.metadata.ownerReferences[0].uid, cj.metadata.uid);
  assert.equal(job.status.succeeded, 1);
});

test('deleting a running Job removes its pods: the tracking finalizer does not hold them', async () => {
  await client.create(R.jobs, 'default', jobManifest('doomed', { parallelism: 2, completions: 2 }, {}));
  await until('two running pods', async () => (await podsOf('doomed')).filter((p) => p.status?.phase === 'Running').length === 2);
  const r = await server.kubectl('1.33', ['delete', 'job', 'doomed']);
  assert.equal(r.code, 0, r.stderr);
  await until('the pods gone', async () => (await podsOf('doomed')).length === 0);
});

test('concurrencyPolicy Replace deletes the running Job when the next one starts', async (t) => {
  const { nextMinute, stop } = await startCron();
  t.after(stop);
  await client.create(R.cronjobs, 'default', cronManifest('replace', { concurrencyPolicy: 'Replace' }, {}));
  const m1 = nextMinute();
  await until('first job active', async () => (await client.get(R.cronjobs, 'default', 'replace')).status?.active?.[0]?.name === `replace-${m1 / 60_000}`);
  const m2 = nextMinute();
  const c = await until('second job replaces the first', async () => {
    const x = await client.get(R.cronjobs, 'default', 'replace');
    return x.status?.active?.length === 1 && x.status.active[0].name === `replace-${m2 / 60_000}` && x;
  });
  assert.equal(c.status.lastScheduleTime, new Date(m2).toISOString().replace('.000Z', 'Z'));
  await until('the first job deleted', async () => { try { await getJob(`replace-${m1 / 60_000}`); return false; } catch (e: any) { return e.code === 404; } });
  assert.ok((await events('replace')).some((e) => e.reason === 'SuccessfulDelete' && e.message === `Deleted job replace-${m1 / 60_000}`));
  await client.patch(R.cronjobs, 'default', 'replace', { spec: { suspend: true } }, 'merge');
});

test('missed schedules: after more than 100 only the latest runs, with a TooManyMissedTimes warning; startingDeadlineSeconds drops a late start', async (t) => {
  const { clock: cronClock, stop } = await startCron();
  t.after(stop);
  const late = await client.create(R.cronjobs, 'default', cronManifest('late', {}, { 'sim.skiff.dev/complete-after-ms': '100' }));
  const strict = await client.create(R.cronjobs, 'default', cronManifest('strict', { startingDeadlineSeconds: 10 }, { 'sim.skiff.dev/complete-after-ms': '100' }));
  // 200 minutes pass with the controller looking away, then 30 s more.
  cronClock.set(Math.floor(cronClock.now() / 60_000) * 60_000 + 200 * 60_000 + 30_000);
  const latest = Math.floor(cronClock.now() / 60_000);
  await until('one job for the latest minute', async () => (await jobsOfCron(late.metadata.uid)).map((j) => j.metadata.name).join() === `late-${latest}`);
  await until('TooManyMissedTimes', async () => (await events('late')).some((e) => e.type === 'Warning' && e.reason === 'TooManyMissedTimes'));
  await sleep(500);
  assert.equal((await jobsOfCron(strict.metadata.uid)).length, 0, 'the latest start is 30 s late, past the 10 s deadline');
  for (const n of ['late', 'strict']) await client.patch(R.cronjobs, 'default', n, { spec: { suspend: true } }, 'merge');
});
