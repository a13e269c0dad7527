/**
 * Cluster policy end to end with the real kubectl against the control plane and simulated
 * nodes: PriorityClass, LimitRange and ResourceQuota admission, PodDisruptionBudgets with the
 * eviction API (`kubectl drain`), and pods tolerating a dead node for tolerationSeconds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlane } from '../src/cmd/controlplane.js';
import type { SimNodes } from '../src/sim/nodes.js';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';

let cp: ControlPlane;
let sim: SimNodes;
let cluster: TestCluster;
let kubectl: TestCluster['kubectl'];

before(async () => {
  cluster = await startTestCluster({ tuning: { nodeMonitorGracePeriodMs: 2000 }, sim: { heartbeatMs: 400 } });
  ({ cp, sim, kubectl } = cluster);
  await sim.addNodes(2, 'p');
});

after(async () => { await cluster?.stop(); });

const pod = (name: string, spec: any = {}, ns = 'default') => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec } });

test('PriorityClass admission: priority from the class or the global default; unknown classes refused; built-in classes exist', async () => {
  let r = await kubectl('1.33', ['get', 'priorityclass', 'system-node-critical', '-o', 'jsonpath={.value}']);
  assert.equal(r.stdout, '2000001000');
  r = await kubectl('1.33', ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'high' }, value: 1000 }));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['apply', '-f', '-'], pod('prio', { priorityClassName: 'high' }));
  assert.equal(r.code, 0, r.stderr);
  const p = await cp.client.get(R.pods, 'default', 'prio');
  assert.equal(p.spec.priority, 1000);
  assert.equal(p.spec.preemptionPolicy, 'PreemptLowerPriority');
  assert.ok(p.spec.tolerations.some((t: any) => t.key === 'node.kubernetes.io/unreachable' && t.tolerationSeconds === 300), 'DefaultTolerationSeconds');
  r = await kubectl('1.33', ['apply', '-f', '-'], pod('nope', { priorityClassName: 'missing' }));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pods "nope" is forbidden: no PriorityClass with name missing was found/);
});

test('LimitRange defaults requests and limits and refuses containers over its max', async () => {
  await cp.client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lr' } });
  await cp.client.create(R.limitranges, 'lr', { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'limits' }, spec: { limits: [{ type: 'Container', default: { cpu: '500m', memory: '128Mi' }, defaultRequest: { cpu: '100m' }, max: { cpu: '1' } }] } });
  let r = await kubectl('1.33', ['apply', '-f', '-'], pod('defaulted', {}, 'lr'));
  assert.equal(r.code, 0, r.stderr);
  const p = await cp.client.get(R.pods, 'lr', 'defaulted');
  assert.deepEqual(p.spec.containers[0].resources, { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
  r = await kubectl('1.33', ['apply', '-f', '-'], pod('greedy', { containers: [{ name: 'c', image: 'busybox', resources: { limits: { cpu: '2' } } }] }, 'lr'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pods "greedy" is forbidden: maximum cpu usage per Container is 1, but limit is 2/);
});

test('a ResourceQuota refuses the pod over its limit with Kubernetes\' message, and reports usage', async () => {
  await cp.client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'q' } });
  let r = await kubectl('1.33', ['create', 'quota', 'small', '-n', 'q', '--hard=pods=2,requests.cpu=1']);
  assert.equal(r.code, 0, r.stderr);
  const withCpu = (name: string) => pod(name, { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '200m' } } }] }, 'q');
  for (const n of ['a', 'b']) assert.equal((await kubectl('1.33', ['apply', '-f', '-'], withCpu(n))).code, 0);
  r = await kubectl('1.33', ['apply', '-f', '-'], withCpu('c'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pods "c" is forbidden: exceeded quota: small, requested: pods=1, used: pods=2, limited: pods=2/);
  const q = await until('quota status', async () => { const x = await cp.client.get(R.resourcequotas, 'q', 'small'); return x.status?.used?.pods === '2' && x; });
  assert.deepEqual(q.status.used, { pods: '2', 'requests.cpu': '400m' });
  r = await kubectl('1.33', ['describe', 'quota', 'small', '-n', 'q']);
  assert.match(r.stdout, /pods\s+2\s+2/);
  // Deleting a pod makes room again.
  await cp.client.delete(R.pods, 'q', 'a', { gracePeriodSeconds: 0 });
  await until('room again', async () => (await kubectl('1.33', ['apply', '-f', '-'], withCpu('c'))).code === 0);
});

test('kubectl drain evicts through PodDisruptionBudgets: refused while the budget allows nothing, done once it does', async () => {
  const deploy = JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'guarded', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'guarded' } }, template: { metadata: { labels: { app: 'guarded' } }, spec: { nodeSelector: { 'kubernetes.io/hostname': 'p-0' }, containers: [{ name: 'c', image: 'busybox' }] } } },
  });
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], deploy)).code, 0);
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/guarded', '--timeout=60s'])).code, 0);
  let r = await kubectl('1.33', ['create', 'pdb', 'guard', '--selector=app=guarded', '--min-available=2']);
  assert.equal(r.code, 0, r.stderr);
  await until('budget computed', async () => (await cp.client.get(R.poddisruptionbudgets, 'default', 'guard')).status?.currentHealthy === 2);
  r = await kubectl('1.33', ['drain', 'p-0', '--ignore-daemonsets', '--delete-emptydir-data', '--pod-selector=app=guarded', '--timeout=3s']);
  assert.notEqual(r.code, 0, 'refused: both pods are needed');
  assert.match(r.stderr + r.stdout, /Cannot evict pod as it would violate the pod's disruption budget/);
  const node = await cp.client.get(R.nodes, undefined, 'p-0');
  assert.equal(node.spec.unschedulable, true, 'drain cordoned the node');
  // Let the budget allow one disruption at a time: the pods move off (they can only land on p-0 again
  // if they keep the selector, so relax it first) and drain finishes.
  assert.equal((await kubectl('1.33', ['patch', 'pdb', 'guard', '-p', '{"spec":{"minAvailable":1}}'])).code, 0);
  assert.equal((await kubectl('1.33', ['patch', 'deployment', 'guarded', '--type=json', '-p', '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]'])).code, 0);
  await until('pods moved to p-1', async () => {
    const ps = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=guarded' })).items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running');
    return ps.length === 2 && ps.every((p) => p.spec.nodeName === 'p-1');
  }, 60_000);
  // --force: the unmanaged pods of the other tests live on p-0 too.
  r = await kubectl('1.33', ['drain', 'p-0', '--ignore-daemonsets', '--force', '--timeout=30s']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await kubectl('1.33', ['uncordon', 'p-0'])).code, 0);
});

test('a stopped node goes NotReady and unreachable; its pods leave after their tolerationSeconds', async () => {
  const tol = (secs: number) => ({ tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: secs }], nodeSelector: { 'kubernetes.io/hostname': 'p-0' } });
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], pod('quick', tol(1)))).code, 0);
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], pod('patient', tol(3600)))).code, 0);
  await until('both running', async () => (await cp.client.list(R.pods, 'default', { fieldSelector: 'spec.nodeName=p-0' })).items.filter((p) => p.status?.phase === 'Running').length >= 2);
  sim.stopNode('p-0');
  await until('NotReady with the unreachable taint', async () => {
    const n = await cp.client.get(R.nodes, undefined, 'p-0');
    return n.status.conditions.find((c: any) => c.type === 'Ready').status === 'Unknown' && (n.spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');
  });
  const r = await kubectl('1.33', ['get', 'node', 'p-0']);
  assert.match(r.stdout, /p-0\s+NotReady/);
  await until('quick evicted', async () => !!(await cp.client.get(R.pods, 'default', 'quick')).metadata.deletionTimestamp, 15_000);
  assert.equal((await cp.client.get(R.pods, 'default', 'patient')).metadata.deletionTimestamp, undefined, 'the patient pod tolerates an hour');
  await sim.restartNode('p-0');
});

test('a HorizontalPodAutoscaler without a metrics API says so and leaves its target alone', async () => {
  const deploy = JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'scaled', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'scaled' } }, template: { metadata: { labels: { app: 'scaled' } }, spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m' } } }] } } },
  });
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], deploy)).code, 0);
  let r = await kubectl('1.33', ['autoscale', 'deployment', 'scaled', '--cpu-percent=50', '--min=1', '--max=5']);
  assert.equal(r.code, 0, r.stderr);
  const hpa = await until('conditions', async () => {
    const h = await cp.client.get(R.horizontalpodautoscalers, 'default', 'scaled');
    return h.status?.conditions?.find((c: any) => c.type === 'ScalingActive') && h;
  });
  const active = hpa.status.conditions.find((c: any) => c.type === 'ScalingActive');
  assert.equal(active.status, 'False');
  assert.equal(active.reason, 'FailedGetResourceMetric');
  assert.equal(hpa.status.currentReplicas, 2);
  assert.equal(hpa.status.conditions.find((c: any) => c.type === 'AbleToScale').status, 'True');
  r = await kubectl('1.33', ['get', 'hpa', 'scaled']);
  assert.match(r.stdout, /scaled\s+Deployment\/scaled\s+cpu: <unknown>\/50%\s+1\s+5\s+2/);
  assert.equal((await cp.client.get(R.deployments, 'default', 'scaled')).spec.replicas, 2, 'target untouched');
});
