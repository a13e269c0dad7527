/**
 * ResourceQuota admission and its controller together, with the real kubectl 1.33: creates
 * racing for the last units never overshoot; pods must state what a quota limits; scopes;
 * object counts of any kind; dry runs are not charged; status.used follows creates at once and
 * deletions through the controller.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlane } from '../src/cmd/controlplane.js';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';
import { ApiStatusError } from '../src/client/client.js';

let cp: ControlPlane;
let cluster: TestCluster;
let kubectl: TestCluster['kubectl'];

before(async () => {
  cluster = await startTestCluster();
  ({ cp, kubectl } = cluster);
});

after(async () => { await cluster?.stop(); });

async function namespace(name: string, hard: Record<string, string>, spec: any = {}): Promise<void> {
  await cp.client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  await cp.client.create(R.resourcequotas, name, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q' }, spec: { hard, ...spec } });
}
const pod = (name: string, resources?: any, extra: any = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'busybox', ...(resources ? { resources } : {}) }], ...extra } });

test('concurrent creates racing for the last units: exactly the quota is admitted, the rest refused with 403', async () => {
  await namespace('race', { pods: '5', 'requests.cpu': '2' });
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => cp.client.create(R.pods, 'race', pod(`p${i}`, { requests: { cpu: '100m' } }))));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as ApiStatusError);
  assert.equal(ok, 5);
  for (const e of refused) {
    assert.equal(e.code, 403);
    assert.match(e.message, /^pods "p\d+" is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5$/);
  }
  const q = await cp.client.get(R.resourcequotas, 'race', 'q');
  assert.deepEqual(q.status.used, { pods: '5', 'requests.cpu': '500m' }, 'charged at admission');
  assert.equal((await cp.client.list(R.pods, 'race')).items.length, 5);
});

test('a pod that does not state what the quota limits is refused, as Kubernetes words it', async () => {
  await namespace('compute', { 'requests.cpu': '1', 'limits.memory': '1Gi' });
  const r = await kubectl('1.33', ['run', 'bare', '-n', 'compute', '--image=busybox']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pods "bare" is forbidden: failed quota: q: must specify limits\.memory for: bare; requests\.cpu for: bare/);
  const big = await cp.client.create(R.pods, 'compute', pod('big', { requests: { cpu: '800m' }, limits: { memory: '512Mi' } }));
  assert.ok(big.metadata.uid);
  const over = await cp.client.create(R.pods, 'compute', pod('over', { requests: { cpu: '300m' }, limits: { memory: '512Mi' } })).then(() => undefined, (e) => e);
  assert.equal(over?.message, 'pods "over" is forbidden: exceeded quota: q, requested: requests.cpu=300m, used: requests.cpu=800m, limited: requests.cpu=1');
});

test('scoped quotas: a BestEffort quota counts best-effort pods only', async () => {
  await namespace('scoped', { pods: '1' }, { scopes: ['BestEffort'] });
  await cp.client.create(R.pods, 'scoped', pod('be1'));
  const e = await cp.client.create(R.pods, 'scoped', pod('be2')).then(() => undefined, (x) => x);
  assert.equal(e?.code, 403);
  await cp.client.create(R.pods, 'scoped', pod('burst', { requests: { cpu: '10m' } }));
});

test('object counts of any kind, and dry runs are not charged', async () => {
  await namespace('objs', { 'count/deployments.apps': '1', configmaps: '2' });
  let r = await kubectl('1.33', ['create', 'deployment', 'a', '-n', 'objs', '--image=busybox', '--dry-run=server']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['create', 'deployment', 'a', '-n', 'objs', '--image=busybox']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['create', 'deployment', 'b', '-n', 'objs', '--image=busybox']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /deployments\.apps "b" is forbidden: exceeded quota: q, requested: count\/deployments\.apps=1, used: count\/deployments\.apps=1, limited: count\/deployments\.apps=1/);
  // kube-root-ca.crt is one of the two configmaps, as in Kubernetes.
  assert.equal((await kubectl('1.33', ['create', 'configmap', 'one', '-n', 'objs'])).code, 0);
  r = await kubectl('1.33', ['create', 'configmap', 'two', '-n', 'objs']);
  assert.match(r.stderr, /configmaps "two" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=2, limited: configmaps=2/);
});

test('deleting makes room again: the controller recounts', async () => {
  await namespace('room', { pods: '1' });
  await cp.client.create(R.pods, 'room', pod('first'));
  assert.equal((await cp.client.create(R.pods, 'room', pod('second')).then(() => undefined, (e) => e))?.code, 403);
  await cp.client.delete(R.pods, 'room', 'first', { gracePeriodSeconds: 0 });
  await until('used back to 0', async () => (await cp.client.get(R.resourcequotas, 'room', 'q')).status?.used?.pods === '0');
  await cp.client.create(R.pods, 'room', pod('second'));
  const r = await kubectl('1.33', ['describe', 'quota', 'q', '-n', 'room']);
  assert.match(r.stdout, /pods\s+1\s+1/);
});
