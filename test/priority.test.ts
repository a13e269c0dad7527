/**
 * PriorityClass admission against a real API server with kubectl 1.33: the built-in classes,
 * pods taking priority and preemptionPolicy from their class or the global default, and the
 * refusals kube-apiserver gives (unknown class, a priority that disagrees with the class, a
 * second global default, reserved names and values).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { ApiClient } from '../src/client/client.js';
import { R } from '../src/client/resources.js';

let server: TestServer;
let client: ApiClient;

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
});

after(async () => { client?.close(); await server?.stop(); });

const pod = (name: string, spec: any = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec } });
const pc = (name: string, value: number, extra: any = {}) => ({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...extra });
const fails = (p: Promise<unknown>) => p.then(() => undefined, (e) => e);

test('built-in classes; a pod takes its class\'s priority and preemption policy', async () => {
  const r = await server.kubectl('1.33', ['get', 'priorityclasses', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.value} {end}']);
  assert.match(r.stdout, /system-cluster-critical=2000000000/);
  assert.match(r.stdout, /system-node-critical=2000001000/);
  await client.create(R.priorityclasses, undefined, pc('batch', 100, { preemptionPolicy: 'Never' }));
  const p = await client.create(R.pods, 'default', pod('b', { priorityClassName: 'batch' }));
  assert.equal(p.spec.priority, 100);
  assert.equal(p.spec.preemptionPolicy, 'Never');
  const plain = await client.create(R.pods, 'default', pod('plain'));
  assert.equal(plain.spec.priority, 0);
  assert.equal(plain.spec.preemptionPolicy, 'PreemptLowerPriority');
  assert.equal(plain.spec.priorityClassName, undefined);
  assert.equal((await client.get(R.priorityclasses, undefined, 'batch')).preemptionPolicy, 'Never');
  assert.equal((await client.create(R.priorityclasses, undefined, pc('lowly', 1))).preemptionPolicy, 'PreemptLowerPriority', 'defaulted');
});

test('refusals, as kube-apiserver words them', async () => {
  let e = await fails(client.create(R.pods, 'default', pod('x', { priorityClassName: 'nope' })));
  assert.equal(e?.code, 403);
  assert.equal(e?.message, 'pods "x" is forbidden: no PriorityClass with name nope was found');
  e = await fails(client.create(R.pods, 'default', pod('y', { priorityClassName: 'batch', priority: 7 })));
  assert.equal(e?.message, 'pods "y" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 100 from the given PriorityClass name');
  e = await fails(client.create(R.priorityclasses, undefined, pc('system-mine', 10)));
  assert.equal(e?.code, 422);
  assert.match(e?.message, /^PriorityClass\.scheduling\.k8s\.io "system-mine" is invalid: metadata\.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only/);
  e = await fails(client.create(R.priorityclasses, undefined, pc('huge', 1_500_000_000)));
  assert.equal(e?.message, 'PriorityClass.scheduling.k8s.io "huge" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000');
});

test('the global default class applies to pods without a class; only one may exist', async () => {
  await client.create(R.priorityclasses, undefined, pc('normal', 1000, { globalDefault: true }));
  const p = await client.create(R.pods, 'default', pod('d'));
  assert.equal(p.spec.priorityClassName, 'normal');
  assert.equal(p.spec.priority, 1000);
  const r = await server.kubectl('1.33', ['create', 'priorityclass', 'other', '--value=5', '--global-default']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /priorityclasses\.scheduling\.k8s\.io "other" is forbidden: PriorityClass normal is marked as default\. Only one default can exist/);
});
