/**
 * The eviction API and the disruption controller together, with the real kubectl 1.33 and
 * simulated nodes: `kubectl drain` evicting a Deployment's pods one budget-allowed disruption
 * at a time (maxUnavailable resolved against the Deployment's replicas) without ever going
 * below the budget; the Eviction POST itself (429 with the budget's cause, disruptedPods
 * recorded, the allowance taken); and a budget over pods without a controller failing safe.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlane } from '../src/cmd/controlplane.js';
import type { SimNodes } from '../src/sim/nodes.js';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';
import { ApiStatusError } from '../src/client/client.js';
import { Informer } from '../src/controllers/runtime/informer.js';
import { listWatch } from '../src/client/listwatch.js';
import { isPodReady } from '../src/controllers/pods.js';

let cp: ControlPlane;
let sim: SimNodes;
let cluster: TestCluster;
let kubectl: TestCluster['kubectl'];

before(async () => {
  cluster = await startTestCluster({ sim: { heartbeatMs: 1000 } });
  ({ cp, sim, kubectl } = cluster);
  await sim.addNodes(2, 'e');
});

after(async () => { await cluster?.stop(); });

const deployment = (name: string, replicas: number, node?: string) => JSON.stringify({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default' },
  spec: {
    replicas, selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { ...(node ? { nodeSelector: { 'kubernetes.io/hostname': node } } : {}), containers: [{ name: 'c', image: 'busybox' }] } },
  },
});

const evict = (name: string, body: any = {}) => cp.client.request('POST', `/api/v1/namespaces/default/pods/${name}/eviction`,
  { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' }, ...body });

const pdb = (name: string) => cp.client.get(R.poddisruptionbudgets, 'default', name);

test('kubectl drain evicts a Deployment\'s pods within its budget (maxUnavailable of the Deployment\'s replicas) and never below it', async () => {
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], deployment('web', 3, 'e-0'))).code, 0);
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/web', '--timeout=60s'])).code, 0);
  // Let replacements land anywhere; the running pods stay on e-0 until evicted.
  assert.equal((await kubectl('1.33', ['patch', 'deployment', 'web', '--type=json', '-p', '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]'])).code, 0);
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/web', '--timeout=60s'])).code, 0);
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], deployment('web', 3))).code, 0);
  await cp.client.patch(R.nodes, undefined, 'e-1', { spec: { unschedulable: true } }, 'merge');
  assert.equal((await kubectl('1.33', ['rollout', 'restart', 'deployment/web'])).code, 0);
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/web', '--timeout=60s'])).code, 0);
  await cp.client.patch(R.nodes, undefined, 'e-1', { spec: { unschedulable: false } }, 'merge');
  const onE0 = async () => (await cp.client.list(R.pods, 'default', { labelSelector: 'app=web', fieldSelector: 'spec.nodeName=e-0' })).items.filter((p) => !p.metadata.deletionTimestamp);
  assert.equal((await onE0()).length, 3, 'all three on e-0 before the drain');

  let r = await kubectl('1.33', ['create', 'pdb', 'web', '--selector=app=web', '--max-unavailable=1']);
  assert.equal(r.code, 0, r.stderr);
  const st = await until('budget computed', async () => { const b = await pdb('web'); return b.status?.expectedPods === 3 && b.status.currentHealthy === 3 && b; });
  assert.equal(st.status.desiredHealthy, 2, 'expected pods from the Deployment: 3 − 1');
  assert.equal(st.status.disruptionsAllowed, 1);

  // Watch the ready pods throughout: the budget must hold at every moment.
  const pods = new Informer(listWatch(cp.client, R.pods, 'default', { labelSelector: 'app=web' }));
  let minReady = Infinity;
  let synced = false; // the initial list arrives one add at a time: count from the full picture only
  const count = () => { if (synced) minReady = Math.min(minReady, pods.list().filter((p) => !p.metadata.deletionTimestamp && isPodReady(p)).length); };
  pods.on({ add: count, update: count, delete: count });
  pods.start();
  await pods.synced;
  synced = true;
  count();
  assert.equal(minReady, 3);
  try {
    r = await kubectl('1.33', ['drain', 'e-0', '--ignore-daemonsets', '--timeout=90s']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /evicting pod default\/web-/);
    assert.match(r.stdout, /node\/e-0 drained/);
  } finally { pods.stop(); }
  assert.equal((await onE0()).length, 0, 'no pod left on the drained node');
  assert.ok(minReady >= 2, `never fewer ready pods than the budget's 2 (saw ${minReady})`);
  await until('three ready elsewhere', async () => (await cp.client.list(R.pods, 'default', { labelSelector: 'app=web' })).items.filter((p) => !p.metadata.deletionTimestamp && isPodReady(p) && p.spec.nodeName === 'e-1').length === 3);
  assert.equal((await kubectl('1.33', ['uncordon', 'e-0'])).code, 0);
});

test('the Eviction API: 429 with the budget\'s cause when it allows nothing; an allowed eviction takes the allowance and records the pod', async () => {
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], deployment('api', 2))).code, 0);
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/api', '--timeout=60s'])).code, 0);
  assert.equal((await kubectl('1.33', ['create', 'pdb', 'api', '--selector=app=api', '--min-available=2'])).code, 0);
  await until('budget computed', async () => (await pdb('api')).status?.currentHealthy === 2);
  const victim = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=api' })).items[0] as any;
  const err = await evict(victim.metadata.name).then(() => undefined, (e) => e);
  assert.ok(err instanceof ApiStatusError, 'refused');
  assert.equal(err.code, 429);
  assert.equal(err.reason, 'TooManyRequests');
  assert.equal(err.message, "Cannot evict pod as it would violate the pod's disruption budget.");
  assert.match(JSON.stringify(err.status?.details?.causes ?? []), /The disruption budget api needs 2 healthy pods and has 2 currently/);
  assert.equal((await cp.client.get(R.pods, 'default', victim.metadata.name)).metadata.deletionTimestamp, undefined, 'the pod stays');

  await cp.client.patch(R.poddisruptionbudgets, 'default', 'api', { spec: { minAvailable: 1 } }, 'merge');
  await until('one disruption allowed', async () => (await pdb('api')).status?.disruptionsAllowed === 1);
  const ok = await evict(victim.metadata.name, { deleteOptions: { gracePeriodSeconds: 0 } });
  assert.equal(ok.status, 'Success');
  const b = await pdb('api');
  assert.ok(b.status.disruptedPods?.[victim.metadata.name] || b.status.disruptionsAllowed === 0, 'the allowance was taken');
  await until('the evicted pod is gone', async () => {
    try { const p = await cp.client.get(R.pods, 'default', victim.metadata.name); return p.metadata.uid !== victim.metadata.uid; } catch (e) { return (e as ApiStatusError).code === 404; }
  });
  const name = 'nope';
  const missing = await evict(name).then(() => undefined, (e) => e);
  assert.equal(missing?.code, 404);
});

test('a budget with maxUnavailable over pods without a controller allows nothing (NoControllers)', async () => {
  await cp.client.create(R.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', labels: { app: 'bare' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  await until('bare ready', async () => isPodReady(await cp.client.get(R.pods, 'default', 'bare')));
  assert.equal((await kubectl('1.33', ['create', 'pdb', 'bare', '--selector=app=bare', '--max-unavailable=1'])).code, 0);
  const b = await until('failed safe', async () => { const x = await pdb('bare'); return x.status?.conditions?.some((c: any) => c.reason === 'SyncFailed') && x; });
  assert.equal(b.status.disruptionsAllowed, 0);
  const cond = b.status.conditions.find((c: any) => c.type === 'DisruptionAllowed');
  assert.equal(cond.status, 'False');
  assert.equal(cond.message, 'found no controllers for pod "bare"');
  await until('NoControllers event', async () => (await cp.client.list(R.events, 'default')).items.some((e) => e.reason === 'NoControllers' && e.involvedObject?.name === 'bare'));
  const err = await evict('bare').then(() => undefined, (e) => e);
  assert.equal(err?.code, 429);
});

test('during a rollout, a budget counts the Deployment\'s replicas, not the sum of its ReplicaSets\'', async () => {
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], deployment('roll', 2))).code, 0);
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/roll', '--timeout=60s'])).code, 0);
  // A new template whose pods never get ready: the rollout stalls with both ReplicaSets holding pods.
  await cp.client.patch(R.deployments, 'default', 'roll', { spec: { template: { metadata: { annotations: { 'sim.skiff.dev/never-ready': 'true' } } } } }, 'merge');
  await until('two ReplicaSets with pods', async () => {
    const ps = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=roll' })).items.filter((p) => !p.metadata.deletionTimestamp);
    return new Set(ps.map((p) => p.metadata.ownerReferences?.[0]?.uid)).size === 2 && ps.length === 3;
  });
  assert.equal((await kubectl('1.33', ['create', 'pdb', 'roll', '--selector=app=roll', '--max-unavailable=1'])).code, 0);
  const b = await until('budget computed', async () => { const x = await pdb('roll'); return x.status?.observedGeneration === x.metadata.generation && x.status?.currentHealthy === 2 && x; });
  assert.equal(b.status.expectedPods, 2, 'the Deployment wants 2');
  assert.equal(b.status.desiredHealthy, 1);
  assert.equal(b.status.disruptionsAllowed, 1);
});

test('unhealthy pods: refused while the budget lacks healthy pods (IfHealthyBudget), allowed with AlwaysAllow; pending pods need no budget', async () => {
  const sick = JSON.parse(deployment('sick', 2));
  sick.spec.template.metadata.annotations = { 'sim.skiff.dev/never-ready': 'true' };
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], JSON.stringify(sick))).code, 0);
  await until('two running, unready', async () => (await cp.client.list(R.pods, 'default', { labelSelector: 'app=sick' })).items.filter((p) => p.status?.phase === 'Running').length === 2);
  assert.equal((await kubectl('1.33', ['create', 'pdb', 'sick', '--selector=app=sick', '--min-available=1'])).code, 0);
  await until('budget computed', async () => { const b = await pdb('sick'); return b.status?.observedGeneration === b.metadata.generation && b.status.desiredHealthy === 1; });
  const [a, b] = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=sick' })).items as any[];
  const refused = await evict(a.metadata.name).then(() => undefined, (e) => e);
  assert.equal(refused?.code, 429, 'no healthy pod to spare: the budget decides');
  await cp.client.patch(R.poddisruptionbudgets, 'default', 'sick', { spec: { unhealthyPodEvictionPolicy: 'AlwaysAllow' } }, 'merge');
  await until('new generation observed', async () => { const x = await pdb('sick'); return x.status?.observedGeneration === x.metadata.generation; });
  assert.equal((await evict(a.metadata.name)).status, 'Success');
  const mismatch = await evict(b.metadata.name, { metadata: { name: 'other', namespace: 'default' } }).then(() => undefined, (e) => e);
  assert.equal(mismatch?.code, 400);
  assert.equal(mismatch?.message, 'name in URL does not match name in Eviction object');

  await cp.client.create(R.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'nowhere', labels: { app: 'bare' } }, spec: { nodeSelector: { none: 'such' }, containers: [{ name: 'c', image: 'busybox' }] } });
  assert.equal((await evict('nowhere')).status, 'Success', 'pending: no budget asked (the bare budget allows nothing)');
});
