/**
 * Deployments and ReplicaSets end to end: a real API server, the ReplicaSet and Deployment
 * controllers, simulated nodes (pods become ready after `sim.skiff.dev/ready-after-ms`), a
 * test binder in place of the scheduler, and the real kubectl 1.27 and 1.33 driving rollouts:
 * apply, rollout status|history|undo|pause|resume|restart, scale, delete.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { TestBinder } from './helpers/job-binder.js';
import { until } from './helpers/cluster.js';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { listWatch } from '../src/client/listwatch.js';
import { SimNodes } from '../src/sim/nodes.js';
import { realClock } from '../src/controllers/runtime/clock.js';
import { Informer, InformerFactory } from '../src/controllers/runtime/informer.js';
import { ApiEventRecorder } from '../src/controllers/runtime/events.js';
import { silentLog, type ControllerContext } from '../src/controllers/runtime/controller.js';
import { ReplicaSetController } from '../src/controllers/replicaset/replicaset.js';
import { DeploymentController } from '../src/controllers/deployment/deployment.js';
import { templateHash } from '../src/controllers/pods.js';

let server: TestServer;
let client: ApiClient;
let sim: SimNodes;
let binder: TestBinder;
let informers: InformerFactory;
let recorder: ApiEventRecorder;
const running: { stop(): void }[] = [];
const NODES = ['n-0', 'n-1', 'n-2'];

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  informers = new InformerFactory(client);
  recorder = new ApiEventRecorder(client, 'controller-manager', realClock);
  const ctx: ControllerContext = { client, informers, clock: realClock, recorder, log: silentLog };
  running.push(new ReplicaSetController(ctx).run(), new DeploymentController(ctx).run());
  informers.start();
  sim = new SimNodes(client);
  await sim.start();
  await sim.addNodes(3, 'n');
  binder = await new TestBinder(client, NODES).start();
});

after(async () => {
  for (const r of running) r.stop();
  binder?.stop();
  sim?.stop();
  informers?.stop();
  await recorder?.flush();
  client?.close();
  await server?.stop();
});

const kubectl = (v: string, args: string[], input?: string) => server.kubectl(v, args, { input, timeoutMs: 90_000 });
async function ok(v: string, args: string[], input?: string): Promise<string> {
  const r = await kubectl(v, args, input);
  assert.equal(r.code, 0, `kubectl ${v} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface Opts { replicas?: number; strategy?: any; annotations?: Record<string, string>; podAnnotations?: Record<string, string>; image?: string; extra?: any }
const manifest = (name: string, o: Opts = {}) => JSON.stringify({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default', ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: {
    replicas: o.replicas ?? 3, selector: { matchLabels: { app: name } }, ...(o.strategy ? { strategy: o.strategy } : {}), ...o.extra,
    template: {
      metadata: { labels: { app: name }, annotations: { 'sim.skiff.dev/ready-after-ms': '200', ...o.podAnnotations } },
      spec: { containers: [{ name: 'c', image: o.image ?? 'busybox:1' }] },
    },
  },
});

const getDeploy = (name: string) => client.get(R.deployments, 'default', name);
const setsOf = async (name: string) => (await client.list(R.replicasets, 'default', { labelSelector: `app=${name}` })).items;
const podsOf = async (name: string) => (await client.list(R.pods, 'default', { labelSelector: `app=${name}` })).items;
const live = (ps: KObject[]) => ps.filter((p) => !p.metadata.deletionTimestamp);
const ready = (p: KObject) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const cond = (o: KObject, type: string) => (o.status?.conditions ?? []).find((c: any) => c.type === type);
async function eventsOf(name: string): Promise<{ reason: string; message: string; kind: string }[]> {
  await recorder.flush();
  return (await client.list(R.events, 'default', { fieldSelector: `involvedObject.name=${name}` })).items.map((e: any) => ({ reason: e.reason, message: e.message, kind: e.involvedObject.kind }));
}
const imagesRunning = async (name: string, n: number, image: string) => {
  const ps = live(await podsOf(name));
  return ps.length === n && ps.every((p) => ready(p) && p.spec.containers[0].image === image);
};

/** Watches a Deployment's pods through a rollout: fewest ready and most live pods at any moment. */
async function watchPods(app: string) {
  const inf = new Informer(listWatch(client, R.pods, 'default', { labelSelector: `app=${app}` }));
  const seen = { minReady: Infinity, maxLive: 0, maxHashes: 0 };
  let on = false;
  const sample = () => {
    if (!on) return;
    const all = inf.list();
    const l = live(all);
    seen.minReady = Math.min(seen.minReady, l.filter(ready).length);
    seen.maxLive = Math.max(seen.maxLive, l.length);
    // Templates present at once, terminating pods included (Recreate never overlaps them).
    seen.maxHashes = Math.max(seen.maxHashes, new Set(all.map((p) => p.metadata.labels?.['pod-template-hash'])).size);
  };
  inf.on({ add: sample, update: sample, delete: sample }).start();
  await inf.synced;
  on = true;
  sample();
  return { seen, stop: () => inf.stop() };
}

test('kubectl apply of a Deployment: a ReplicaSet <name>-<pod-template-hash>, its pods, revision 1, status and events as Kubernetes; rollout status succeeds (1.27, 1.33)', async () => {
  await ok('1.33', ['apply', '-f', '-'], manifest('web'));
  for (const v of ['1.27', '1.33']) {
    const out = await ok(v, ['rollout', 'status', 'deployment/web', '--timeout=60s']);
    assert.match(out, /deployment "web" successfully rolled out/);
  }
  const d = await getDeploy('web');
  const [rs] = await setsOf('web');
  const hash = templateHash(d.spec.template);
  assert.equal(rs.metadata.name, `web-${hash}`);
  assert.equal(rs.metadata.labels['pod-template-hash'], hash);
  assert.equal(rs.spec.selector.matchLabels['pod-template-hash'], hash);
  assert.deepEqual(rs.metadata.ownerReferences.map((r: any) => [r.kind, r.name, r.controller]), [['Deployment', 'web', true]]);
  assert.equal(rs.metadata.annotations['deployment.kubernetes.io/revision'], '1');
  assert.equal(rs.metadata.annotations['deployment.kubernetes.io/desired-replicas'], '3');
  assert.equal(rs.metadata.annotations['deployment.kubernetes.io/max-replicas'], '4', '3 + 25% surge rounded up');
  assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '1');
  const { observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas } = d.status;
  assert.deepEqual({ observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas }, { observedGeneration: d.metadata.generation, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: undefined });
  assert.equal(cond(d, 'Available').reason, 'MinimumReplicasAvailable');
  assert.equal(cond(d, 'Progressing').reason, 'NewReplicaSetAvailable');
  assert.equal(cond(d, 'Progressing').message, `ReplicaSet "web-${hash}" has successfully progressed.`);
  assert.deepEqual([rs.status.replicas, rs.status.readyReplicas, rs.status.availableReplicas, rs.status.fullyLabeledReplicas, rs.status.observedGeneration], [3, 3, 3, 3, rs.metadata.generation]);
  const pods = await podsOf('web');
  assert.equal(pods.length, 3);
  for (const p of pods) {
    assert.ok(p.metadata.name!.startsWith(`web-${hash}-`), p.metadata.name);
    assert.equal(p.metadata.labels['pod-template-hash'], hash);
    assert.equal(p.metadata.ownerReferences[0].name, rs.metadata.name);
  }
  const dEvents = await eventsOf('web');
  assert.ok(dEvents.some((e) => e.reason === 'ScalingReplicaSet' && e.kind === 'Deployment' && e.message === `Scaled up replica set web-${hash} from 0 to 3`), JSON.stringify(dEvents));
  const rsEvents = await eventsOf(rs.metadata.name);
  assert.equal(rsEvents.filter((e) => e.reason === 'SuccessfulCreate' && e.kind === 'ReplicaSet' && /^Created pod: web-/.test(e.message)).length, 3);
  const described = await ok('1.33', ['describe', 'deployment', 'web']);
  assert.match(described, /NewReplicaSet:\s+web-\w+ \(3\/3 replicas created\)/);
  assert.match(described, /Scaled up replica set web-\w+ from 0 to 3/);
});

test('kubectl scale: up and down, the ReplicaSet follows with desired-replicas; an adopted orphan too many, never ready, is the one deleted', async () => {
  await ok('1.33', ['scale', 'deployment/web', '--replicas=5']);
  await until('5 ready pods', async () => live(await podsOf('web')).filter(ready).length === 5 && (await getDeploy('web')).status.availableReplicas === 5);
  const [rs] = await setsOf('web');
  assert.equal(rs.spec.replicas, 5);
  assert.equal(rs.metadata.annotations['deployment.kubernetes.io/desired-replicas'], '5');
  // An orphan that matches the ReplicaSet's selector, never ready: adopted, which makes one
  // too many, and it is the one deleted (not ready before ready).
  const before = live(await podsOf('web')).map((p) => p.metadata.name).sort();
  await client.create(R.pods, 'default', {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'stray', labels: { ...rs.spec.selector.matchLabels }, annotations: { 'sim.skiff.dev/never-ready': 'true' } },
    spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
  });
  await until('the stray pod adopted and deleted', async () => (await eventsOf(rs.metadata.name!)).some((e) => e.reason === 'SuccessfulDelete' && e.message === 'Deleted pod: stray'));
  await until('the stray pod gone', async () => !(await podsOf('web')).some((p) => p.metadata.name === 'stray'));
  assert.deepEqual(live(await podsOf('web')).map((p) => p.metadata.name).sort(), before, 'the ready pods stay');
  await ok('1.27', ['scale', 'deployment/web', '--replicas=3']);
  await until('3 pods', async () => live(await podsOf('web')).length === 3);
  assert.ok((await eventsOf('web')).some((e) => e.message === `Scaled down replica set ${rs.metadata.name} from 5 to 3`));
  await until('rollout complete at 3', async () => (await getDeploy('web')).status.availableReplicas === 3);
});

const STRATEGIES: { name: string; replicas: number; rollingUpdate: any; surge: number; unavailable: number }[] = [
  { name: 'ints: maxSurge 1, maxUnavailable 1', replicas: 4, rollingUpdate: { maxSurge: 1, maxUnavailable: 1 }, surge: 1, unavailable: 1 },
  { name: 'percentages: maxSurge 30% (3, up), maxUnavailable 0%', replicas: 10, rollingUpdate: { maxSurge: '30%', maxUnavailable: '0%' }, surge: 3, unavailable: 0 },
  { name: 'percentages: maxSurge 0%, maxUnavailable 45% (2, down)', replicas: 5, rollingUpdate: { maxSurge: '0%', maxUnavailable: '45%' }, surge: 0, unavailable: 2 },
];

for (const [i, s] of STRATEGIES.entries()) {
  test(`a rolling update (${s.name}) never has fewer than replicas - maxUnavailable ready pods nor more than replicas + maxSurge`, async () => {
    const name = `roll-${i}`;
    const strategy = { type: 'RollingUpdate', rollingUpdate: s.rollingUpdate };
    await ok('1.33', ['apply', '-f', '-'], manifest(name, { replicas: s.replicas, strategy }));
    await ok('1.33', ['rollout', 'status', `deployment/${name}`, '--timeout=60s']);
    const w = await watchPods(name);
    await ok('1.33', ['apply', '-f', '-'], manifest(name, { replicas: s.replicas, strategy, image: 'busybox:2' }));
    await ok(i % 2 ? '1.27' : '1.33', ['rollout', 'status', `deployment/${name}`, '--timeout=60s']);
    w.stop();
    assert.ok(w.seen.minReady >= s.replicas - s.unavailable, `never below ${s.replicas - s.unavailable} ready: saw ${w.seen.minReady}`);
    assert.ok(w.seen.maxLive <= s.replicas + s.surge, `never above ${s.replicas + s.surge} pods: saw ${w.seen.maxLive}`);
    assert.ok(await imagesRunning(name, s.replicas, 'busybox:2'));
    const d = await getDeploy(name);
    assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '2');
    assert.deepEqual((await setsOf(name)).map((rs) => rs.spec.replicas).sort(), [0, s.replicas]);
    await ok('1.33', ['delete', 'deployment', name]);
  });
}

test('rollout history with change-cause, undo (1.27 client-side and 1.33, --to-revision), revision-history', async () => {
  const base = { replicas: 3, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } };
  await ok('1.33', ['apply', '-f', '-'], manifest('hist', { ...base, annotations: { 'kubernetes.io/change-cause': 'first' } }));
  await ok('1.33', ['rollout', 'status', 'deployment/hist', '--timeout=60s']);
  await ok('1.33', ['set', 'image', 'deployment/hist', 'c=busybox:2']);
  await ok('1.33', ['annotate', 'deployment/hist', '--overwrite', 'kubernetes.io/change-cause=second']);
  await ok('1.33', ['rollout', 'status', 'deployment/hist', '--timeout=60s']);
  for (const v of ['1.27', '1.33']) {
    const out = await ok(v, ['rollout', 'history', 'deployment/hist']);
    assert.match(out, /REVISION\s+CHANGE-CAUSE\n1\s+first\n2\s+second\n/, out);
    const r1 = await ok(v, ['rollout', 'history', 'deployment/hist', '--revision=1']);
    assert.match(r1, /Image:\s+busybox:1/);
  }
  // 1.27 undoes client-side: it reads the ReplicaSet of the previous revision and patches the
  // Deployment's template (and annotations) with it.
  const w = await watchPods('hist');
  await ok('1.27', ['rollout', 'undo', 'deployment/hist']);
  await ok('1.33', ['rollout', 'status', 'deployment/hist', '--timeout=60s']);
  w.stop();
  assert.ok(w.seen.minReady >= 3 && w.seen.maxLive <= 4, JSON.stringify(w.seen));
  let d = await getDeploy('hist');
  assert.equal(d.spec.template.spec.containers[0].image, 'busybox:1', 'undo restores the previous template');
  assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '3');
  assert.equal(d.metadata.annotations['kubernetes.io/change-cause'], 'first', 'and that revision\'s change-cause');
  assert.equal((await setsOf('hist')).length, 2, 'the old ReplicaSet is reused, not a new one made');
  const back = (await setsOf('hist')).find((rs) => rs.spec.template.spec.containers[0].image === 'busybox:1')!;
  assert.equal(back.metadata.annotations['deployment.kubernetes.io/revision'], '3');
  assert.equal(back.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');
  assert.ok(await imagesRunning('hist', 3, 'busybox:1'));
  const out = await ok('1.33', ['rollout', 'history', 'deployment/hist']);
  assert.match(out, /\n2\s+second\n3\s+first\n/);
  await ok('1.33', ['rollout', 'undo', 'deployment/hist', '--to-revision=2']);
  await ok('1.27', ['rollout', 'status', 'deployment/hist', '--timeout=60s']);
  d = await getDeploy('hist');
  assert.equal(d.spec.template.spec.containers[0].image, 'busybox:2');
  assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '4');
  assert.ok(await imagesRunning('hist', 3, 'busybox:2'));
  const skipped = await kubectl('1.33', ['rollout', 'undo', 'deployment/hist', '--to-revision=4']);
  assert.match(skipped.stdout + skipped.stderr, /skipped rollback \(current template already matches revision 4\)/);
});

test('pause: template changes wait (DeploymentPaused) while scaling still works; resume rolls out; restart replaces every pod', async () => {
  for (const [v, image] of [['1.27', 'busybox:2'], ['1.33', 'busybox:1.27']]) {
    await ok(v, ['rollout', 'pause', 'deployment/hist']);
    let d = await until('Progressing=Unknown DeploymentPaused', async () => { const x = await getDeploy('hist'); return cond(x, 'Progressing')?.reason === 'DeploymentPaused' && x; });
    assert.equal(cond(d, 'Progressing').status, 'Unknown');
    await ok(v, ['set', 'image', 'deployment/hist', `c=busybox:${v}`]);
    await ok(v, ['scale', 'deployment/hist', '--replicas=4']);
    await until('scaled to 4 while paused', async () => live(await podsOf('hist')).filter(ready).length === 4 && (await setsOf('hist')).some((rs) => rs.spec.replicas === 4));
    assert.equal((await setsOf('hist')).length, v === '1.27' ? 2 : 3, 'no new ReplicaSet while paused');
    assert.ok(live(await podsOf('hist')).every((p) => p.spec.containers[0].image === image), 'still the old template');
    d = await getDeploy('hist');
    assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], v === '1.27' ? '4' : '5', 'no new revision while paused');
    await ok(v, ['rollout', 'resume', 'deployment/hist']);
    await ok(v, ['rollout', 'status', 'deployment/hist', '--timeout=60s']);
    assert.ok(await imagesRunning('hist', 4, `busybox:${v}`));
    await ok(v, ['scale', 'deployment/hist', '--replicas=3']);
    await until('back to 3', async () => live(await podsOf('hist')).length === 3);
  }
  const before = new Set(live(await podsOf('hist')).map((p) => p.metadata.name));
  await ok('1.33', ['rollout', 'restart', 'deployment/hist']);
  await ok('1.33', ['rollout', 'status', 'deployment/hist', '--timeout=60s']);
  await until('3 new pods carrying restartedAt', async () => {
    const ps = live(await podsOf('hist'));
    return ps.length === 3 && ps.every((p) => !before.has(p.metadata.name) && p.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'] && ready(p));
  });
});

test('revisionHistoryLimit keeps that many old ReplicaSets', async () => {
  assert.equal((await setsOf('hist')).length, 5, 'revisions 1 to 7, two ReplicaSets reused by undo');
  await ok('1.33', ['patch', 'deployment/hist', '-p', '{"spec":{"revisionHistoryLimit":1}}']);
  await until('one old ReplicaSet left', async () => (await setsOf('hist')).length === 2);
  const sets = await setsOf('hist');
  const d = await getDeploy('hist');
  const revs = sets.map((rs) => Number(rs.metadata.annotations['deployment.kubernetes.io/revision'])).sort((a, b) => a - b);
  assert.deepEqual(revs, [Number(d.metadata.annotations['deployment.kubernetes.io/revision']) - 1, Number(d.metadata.annotations['deployment.kubernetes.io/revision'])]);
});

test('scaled mid-rollout: the change is spread proportionally; a rollout without progress exceeds its deadline', async () => {
  const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '30%', maxUnavailable: '20%' } };
  await ok('1.33', ['apply', '-f', '-'], manifest('prop', { replicas: 10, strategy, extra: { progressDeadlineSeconds: 3 } }));
  await ok('1.33', ['rollout', 'status', 'deployment/prop', '--timeout=60s']);
  // The new template never becomes ready: the rollout stalls at old 8 + new 5 = 13 = 10 + 3
  // (maxSurge 30% of 10, up), with old 8 = 10 - 2 (maxUnavailable 20%).
  await ok('1.33', ['apply', '-f', '-'], manifest('prop', { replicas: 10, strategy, extra: { progressDeadlineSeconds: 3 }, podAnnotations: { 'sim.skiff.dev/never-ready': 'true' } }));
  const sizes = async () => {
    const d = await getDeploy('prop');
    const sets = await setsOf('prop');
    const newRs = sets.find((rs) => rs.metadata.annotations['deployment.kubernetes.io/revision'] === '2');
    const old = sets.find((rs) => rs.metadata.annotations['deployment.kubernetes.io/revision'] === '1');
    return { old: old?.spec.replicas, new: newRs?.spec.replicas, d };
  };
  await until('stalled at old 8, new 5', async () => { const s = await sizes(); return s.old === 8 && s.new === 5; });
  const stuck = await kubectl('1.33', ['rollout', 'status', 'deployment/prop', '--timeout=30s']);
  assert.notEqual(stuck.code, 0);
  assert.match(stuck.stderr, /deployment "prop" exceeded its progress deadline/);
  const d = await getDeploy('prop');
  assert.deepEqual([cond(d, 'Progressing').status, cond(d, 'Progressing').reason], ['False', 'ProgressDeadlineExceeded']);
  assert.match(cond(d, 'Progressing').message, /^ReplicaSet "prop-\w+" has timed out progressing\.$/);
  // 10 -> 20 (surge 30%: 3 -> 6, so 13 -> 26 pods): old 8*26/13 = 16, new 5*26/13 = 10.
  await ok('1.27', ['scale', 'deployment/prop', '--replicas=20']);
  await until('old 16, new 10', async () => { const s = await sizes(); return s.old === 16 && s.new === 10; });
  await new Promise((r) => setTimeout(r, 500));
  const s = await sizes();
  assert.deepEqual([s.old, s.new], [16, 10], 'and it stays there: no room to surge, no availability to spend');
  const events = (await eventsOf('prop')).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
  assert.ok(events.some((m) => /^Scaled up replica set prop-\w+ from 8 to 16$/.test(m)), events.join('\n'));
  assert.ok(events.some((m) => /^Scaled up replica set prop-\w+ from 5 to 10$/.test(m)), events.join('\n'));
  await ok('1.33', ['delete', 'deployment', 'prop']);
});

test('Recreate: every old pod is gone before the first new one is made', async () => {
  const strategy = { type: 'Recreate' };
  await ok('1.33', ['apply', '-f', '-'], manifest('rec', { replicas: 3, strategy }));
  await ok('1.33', ['rollout', 'status', 'deployment/rec', '--timeout=60s']);
  const w = await watchPods('rec');
  await ok('1.33', ['apply', '-f', '-'], manifest('rec', { replicas: 3, strategy, image: 'busybox:2' }));
  await ok('1.27', ['rollout', 'status', 'deployment/rec', '--timeout=60s']);
  w.stop();
  assert.equal(w.seen.maxHashes, 1, 'old and new pods never exist at once');
  assert.equal(w.seen.minReady, 0);
  assert.ok(await imagesRunning('rec', 3, 'busybox:2'));
  await ok('1.33', ['delete', 'deployment', 'rec']);
});

test('a ReplicaSet on its own: adopts matching orphans, releases pods relabelled away', async () => {
  await client.create(R.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan', labels: { app: 'solo' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } });
  await ok('1.33', ['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'solo', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'solo' } }, template: { metadata: { labels: { app: 'solo' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } } },
  }));
  const rs = await until('2 ready replicas', async () => { const x = await client.get(R.replicasets, 'default', 'solo'); return x.status?.readyReplicas === 2 && x; });
  let pods = live(await podsOf('solo'));
  assert.equal(pods.length, 2, 'the orphan counts: only one pod created');
  assert.equal(pods.find((p) => p.metadata.name === 'orphan')?.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
  assert.ok(pods.some((p) => p.metadata.name!.startsWith('solo-')), 'generateName <rs>-');
  await ok('1.33', ['label', 'pod', 'orphan', '--overwrite', 'app=elsewhere']);
  await until('orphan released and replaced', async () => {
    const o = await client.get(R.pods, 'default', 'orphan');
    pods = live(await podsOf('solo'));
    return !(o.metadata.ownerReferences ?? []).some((r: any) => r.uid === rs.metadata.uid) && pods.length === 2;
  });
  await ok('1.33', ['delete', 'rs', 'solo']);
  await client.delete(R.pods, 'default', 'orphan');
});

test('a ReplicaSet whose creates fail (quota): FailedCreate events, the ReplicaFailure condition, retried until it works', async () => {
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'quota' } });
  await client.create(R.resourcequotas, 'quota', { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'pods' }, spec: { hard: { pods: '2' } } });
  await ok('1.33', ['apply', '-n', 'quota', '-f', '-'], JSON.stringify({
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'capped' },
    spec: { replicas: 4, selector: { matchLabels: { app: 'capped' } }, template: { metadata: { labels: { app: 'capped' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } } },
  }));
  const failed = await until('ReplicaFailure', async () => cond(await client.get(R.replicasets, 'quota', 'capped'), 'ReplicaFailure'));
  assert.deepEqual([failed.status, failed.reason], ['True', 'FailedCreate']);
  assert.match(failed.message, /exceeded quota/);
  assert.equal((await client.list(R.pods, 'quota')).items.length, 2, 'slow start: creates stop at the first failing batch');
  await recorder.flush();
  const events = (await client.list(R.events, 'quota')).items;
  assert.ok(events.some((e: any) => e.reason === 'FailedCreate' && e.type === 'Warning' && /^Error creating: .*exceeded quota/.test(e.message)), JSON.stringify(events.map((e: any) => e.message)));
  await client.delete(R.resourcequotas, 'quota', 'pods');
  await until('4 pods and the failure cleared', async () => {
    const x = await client.get(R.replicasets, 'quota', 'capped');
    return x.status?.replicas === 4 && !cond(x, 'ReplicaFailure');
  }, 60_000);
  await ok('1.33', ['delete', 'namespace', 'quota', '--wait=false']);
});

test('deleting a Deployment removes its ReplicaSets and pods (garbage collection)', async () => {
  assert.ok((await setsOf('hist')).length > 0 && (await podsOf('hist')).length > 0);
  await ok('1.33', ['delete', 'deployment', 'hist']);
  await ok('1.27', ['delete', 'deployment', 'web']);
  await until('ReplicaSets and pods gone', async () => {
    const [a, b, c, d] = await Promise.all([setsOf('hist'), podsOf('hist'), setsOf('web'), podsOf('web')]);
    return a.length + b.length + c.length + d.length === 0;
  }, 60_000);
});
