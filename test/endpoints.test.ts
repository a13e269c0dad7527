/**
 * EndpointSlices and Endpoints maintained by the control plane from simulated pods, checked
 * through the API and with the real kubectl.
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

before(async () => {
  cluster = await startTestCluster({ store: 'memory://', disable: ['scheduler'] });
  ({ cp, sim } = cluster);
  await sim.addNode({ name: 'n1' });
});

after(async () => { await cluster?.stop(); });

const pod = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'web' }, annotations },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
});

async function sliceNames(): Promise<string[]> {
  const list = await cp.client.list(R.endpointslices, 'default', { labelSelector: 'kubernetes.io/service-name=web' });
  return list.items.flatMap((s) => (s.endpoints ?? []).filter((e: any) => e.conditions.ready).map((e: any) => e.targetRef.name)).sort();
}

test('a Service gets EndpointSlices and Endpoints of its ready pods; an unready pod leaves the rotation', async () => {
  await cp.client.create(R.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
  // Before any pod: one placeholder slice.
  const placeholder = await until('placeholder slice', async () => (await cp.client.list(R.endpointslices, 'default', { labelSelector: 'kubernetes.io/service-name=web' })).items[0]);
  assert.deepEqual(placeholder.endpoints ?? [], []);
  assert.equal(placeholder.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
  assert.equal(placeholder.metadata.ownerReferences[0].kind, 'Service');
  for (const n of ['web-1', 'web-2']) await cp.client.create(R.pods, 'default', pod(n));
  await cp.client.create(R.pods, 'default', pod('web-3', { 'sim.skiff.dev/never-ready': 'true' }));
  await until('two ready endpoints', async () => JSON.stringify(await sliceNames()) === '["web-1","web-2"]');
  const slice = (await cp.client.list(R.endpointslices, 'default', { labelSelector: 'kubernetes.io/service-name=web' })).items[0];
  assert.deepEqual(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.equal(slice.endpoints.find((e: any) => e.targetRef.name === 'web-3').conditions.ready, false);
  const ep = await until('Endpoints', async () => { const e = await cp.client.get(R.endpoints, 'default', 'web'); return e.subsets?.[0]?.addresses?.length === 2 && e; });
  assert.deepEqual(ep.subsets[0].notReadyAddresses.map((a: any) => a.targetRef.name), ['web-3']);
    const out = (await cluster.kubectl('1.33', ['describe', 'service', 'web'])).stdout;
  assert.match(out, /Endpoints:\s+10\.244\.\d+\.\d+:8080,10\.244\.\d+\.\d+:8080/);
  const slices = (await cluster.kubectl('1.27', ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web'])).stdout;
  assert.match(slices, /IPv4\s+8080\s+10\.244/);
  // A pod deleted leaves the rotation.
  await cp.client.delete(R.pods, 'default', 'web-1');
  await until('one endpoint left', async () => JSON.stringify(await sliceNames()) === '["web-2"]');
});

test('deleting the Service removes its slices and Endpoints', async () => {
  await cp.client.delete(R.services, 'default', 'web');
  await until('slices gone', async () => (await cp.client.list(R.endpointslices, 'default', { labelSelector: 'kubernetes.io/service-name=web' })).items.length === 0);
  await until('Endpoints gone', async () => cp.client.get(R.endpoints, 'default', 'web').then(() => false, (e) => e.code === 404));
});

test('the kubernetes Service points at the API server', async () => {
  const out = (await cluster.kubectl('1.33', ['get', 'service', 'kubernetes'])).stdout;
  assert.match(out, /kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP/);
  const ep = (await cluster.kubectl('1.33', ['get', 'endpoints', 'kubernetes'])).stdout;
  assert.match(ep, new RegExp(`kubernetes\\s+127\\.0\\.0\\.1:${cp.api.port}`));
  const slices = await cp.client.list(R.endpointslices, 'default', { labelSelector: 'kubernetes.io/service-name=kubernetes' });
  assert.deepEqual(slices.items.map((s) => s.endpoints[0].addresses[0]), ['127.0.0.1'], 'one slice, not deleted by the slice controller');
});
