/**
 * LimitRanger admission against a real API server, with kubectl 1.33: defaults (from default,
 * defaultRequest, max and min as Kubernetes defaults a LimitRange item), the
 * kubernetes.io/limit-ranger annotation, requests defaulted from limits, and the min / max /
 * maxLimitRequestRatio refusals of Container and Pod items worded as kube-apiserver's.
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
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lr' } });
  await client.create(R.limitranges, 'lr', { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'limits' }, spec: { limits: [
    { type: 'Container', max: { cpu: '1', memory: '1Gi' }, min: { cpu: '50m' }, defaultRequest: { memory: '64Mi' }, maxLimitRequestRatio: { cpu: '4' } },
    { type: 'Pod', max: { cpu: '1500m' } },
  ] } });
});

after(async () => { client?.close(); await server?.stop(); });

const pod = (name: string, containers: any[], init: any[] = []) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'lr' }, spec: { containers, ...(init.length ? { initContainers: init } : {}) } });

test('defaults: limits from max, requests from defaultRequest and the default limit; the annotation says what was set', async () => {
  const r = await server.kubectl('1.33', ['apply', '-f', '-'], { input: pod('plain', [{ name: 'app', image: 'busybox' }]) });
  assert.equal(r.code, 0, r.stderr);
  const p = await client.get(R.pods, 'lr', 'plain');
  assert.deepEqual(p.spec.containers[0].resources, { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '64Mi' } });
  assert.equal(p.metadata.annotations['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app');
  assert.equal(p.status.qosClass, 'Burstable');
});

test('a LimitRange is stored with Kubernetes\' item defaults', async () => {
  const lr = await client.get(R.limitranges, 'lr', 'limits');
  assert.deepEqual(lr.spec.limits[0].default, { cpu: '1', memory: '1Gi' });
  assert.deepEqual(lr.spec.limits[0].defaultRequest, { cpu: '1', memory: '64Mi' });
  assert.equal(lr.spec.limits[1].default, undefined, 'Pod items get none');
});

test('a container stating only a limit requests that much, before any LimitRange default', async () => {
  const p = await client.create(R.pods, 'lr', JSON.parse(pod('limited', [{ name: 'app', image: 'busybox', resources: { limits: { cpu: '200m' } } }])));
  assert.equal(p.spec.containers[0].resources.requests.cpu, '200m');
  assert.equal(p.metadata.annotations['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: memory request for container app; memory limit for container app');
});

test('refusals, worded as kube-apiserver words them', async () => {
  const cases: [string, any[], any[], RegExp][] = [
    ['over the container max', [{ name: 'a', image: 'busybox', resources: { limits: { cpu: '2' } } }], [], /pods "x0" is forbidden: \[maximum cpu usage per Container is 1, but limit is 2, maximum cpu usage per Pod is 1500m, but limit is 2\]$/],
    ['under the min', [{ name: 'a', image: 'busybox', resources: { requests: { cpu: '10m' }, limits: { cpu: '20m' } } }], [],
      /pods "x1" is forbidden: \[minimum cpu usage per Container is 50m, but request is 10m, cpu max limit to request ratio per Container is 4, but provided ratio is 2\.000000\]|pods "x1" is forbidden: minimum cpu usage per Container is 50m, but request is 10m$/],
    ['over the ratio', [{ name: 'a', image: 'busybox', resources: { requests: { cpu: '100m' }, limits: { cpu: '1000m' } } }], [], /pods "x2" is forbidden: cpu max limit to request ratio per Container is 4, but provided ratio is 10\.000000$/],
    ['over the pod max (two containers)', [{ name: 'a', image: 'busybox', resources: { limits: { cpu: '800m' } } }, { name: 'b', image: 'busybox', resources: { limits: { cpu: '800m' } } }], [],
      /pods "x3" is forbidden: maximum cpu usage per Pod is 1500m, but limit is 1600m$/],
  ];
  for (const [i, [what, containers, init, want]] of cases.entries()) {
    const r = await server.kubectl('1.33', ['apply', '-f', '-'], { input: pod(`x${i}`, containers, init) });
    assert.notEqual(r.code, 0, what);
    assert.match(r.stderr.trim(), want, what);
  }
});
