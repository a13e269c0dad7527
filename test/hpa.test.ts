/**
 * The HorizontalPodAutoscaler controller end to end, on a FakeClock, with a fake resource
 * metrics source: simulated nodes run no containers to measure, so the built-in metrics-server
 * is disabled and samples come through the controller's MetricsReader seam (test/metrics.test.ts
 * scales on the real metrics.k8s.io). Scales a Deployment (kubectl autoscale,
 * kubectl 1.33) up on high CPU through the scale subresource, holds a scale-down for the 300 s
 * stabilization window, then scales down; status, conditions and Events as Kubernetes'.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlane } from '../src/cmd/controlplane.js';
import type { SimNodes } from '../src/sim/nodes.js';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';
import { InformerFactory } from '../src/controllers/runtime/informer.js';
import { FakeClock } from '../src/controllers/runtime/clock.js';
import { MemoryRecorder } from '../src/controllers/runtime/events.js';
import { silentLog } from '../src/controllers/runtime/controller.js';
import { HorizontalPodAutoscalerController } from '../src/controllers/hpa/hpa.js';
import type { MetricsReader } from '../src/controllers/hpa/metrics.js';
import type { PodMetric } from '../src/controllers/hpa/replicas.js';

let cp: ControlPlane;
let sim: SimNodes;
let cluster: TestCluster;
let kubectl: TestCluster['kubectl'];
let informers: InformerFactory;
let hpa: HorizontalPodAutoscalerController;
const clock = new FakeClock(Date.now());
const recorder = new MemoryRecorder();
let cpuPerPod = 0; // millicores every running pod uses
let calls = 0;

/** Every running pod the selector picks uses `cpuPerPod`. */
const fakeMetrics: MetricsReader = {
  async podMetrics(ns, selector, resource) {
    calls++;
    const pods = (await cp.client.list(R.pods, ns, { labelSelector: selector })).items.filter((p) => p.status?.phase === 'Running');
    const at = Math.max(clock.now(), Date.now());
    return new Map<string, PodMetric>(pods.map((p) => [p.metadata.name!, { value: resource === 'cpu' ? cpuPerPod : 0, timestamp: at, windowMs: 0 }]));
  },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Advances the fake clock by `ms` in 15 s syncs, letting each finish. */
async function advance(ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 15_000) {
    const before = calls;
    clock.advance(Math.min(15_000, ms - done));
    await until('a sync', async () => calls > before, 10_000).catch(() => {});
    await sleep(200);
  }
}
const replicas = async () => (await cp.client.get(R.deployments, 'default', 'web')).spec.replicas;
const status = async () => (await cp.client.get(R.horizontalpodautoscalers, 'default', 'web')).status;
const cond = (s: any, type: string) => s.conditions.find((c: any) => c.type === type);

before(async () => {
  cluster = await startTestCluster({ disable: ['horizontalpodautoscaler', 'metrics-server'] });
  ({ cp, sim, kubectl } = cluster);
  await sim.addNodes(2, 'h', { capacity: { cpu: '8', memory: '16Gi', pods: '50' } });
  informers = new InformerFactory(cp.client);
  hpa = new HorizontalPodAutoscalerController({ client: cp.client, informers, clock, recorder, log: silentLog }, { metrics: fakeMetrics });
  informers.start();
  await informers.synced();
  hpa.run();
});

after(async () => {
  hpa?.stop();
  informers?.stop();
  await cluster?.stop();
});

test('kubectl autoscale: scales up on high CPU, holds a scale-down for the stabilization window, then scales down', async () => {
  const deploy = JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '200m' } } }] } } },
  });
  assert.equal((await kubectl('1.33', ['apply', '-f', '-'], deploy)).code, 0);
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/web', '--timeout=60s'])).code, 0);
  cpuPerPod = 200; // 100% of the request, twice the target
  const r = await kubectl('1.33', ['autoscale', 'deployment', 'web', '--cpu-percent=50', '--min=1', '--max=10']);
  assert.equal(r.code, 0, r.stderr);
  await until('scaled to 4', async () => (await replicas()) === 4);
  let s = await until('status after the rescale', async () => { const x = await status(); return x?.desiredReplicas === 4 && x; });
  assert.equal(s.currentReplicas, 2);
  assert.deepEqual(s.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 100, averageValue: '200m' } } }]);
  assert.equal(cond(s, 'AbleToScale').reason, 'SucceededRescale');
  assert.equal(cond(s, 'AbleToScale').message, 'the HPA controller was able to update the target scale to 4');
  assert.equal(cond(s, 'ScalingActive').reason, 'ValidMetricFound');
  assert.equal(cond(s, 'ScalingLimited').status, 'False');
  assert.ok(s.lastScaleTime);
  assert.ok(recorder.events.some((e) => e.reason === 'SuccessfulRescale' && e.message === 'New size: 4; reason: cpu resource utilization (percentage of request) above target'));
  assert.equal((await kubectl('1.33', ['rollout', 'status', 'deployment/web', '--timeout=60s'])).code, 0);

  cpuPerPod = 20; // 10%: one pod would do
  await advance(15_000);
  s = await until('a stabilized recommendation', async () => { const x = await status(); return cond(x, 'AbleToScale').reason === 'ScaleDownStabilized' && x; });
  assert.equal(await replicas(), 4, 'held by the 300 s window');
  assert.equal(s.currentMetrics[0].resource.current.averageUtilization, 10);
  const out = await kubectl('1.33', ['get', 'hpa', 'web']);
  assert.match(out.stdout, /web\s+Deployment\/web\s+cpu: 10%\/50%\s+1\s+10\s+4/);
  await advance(300_000);
  await until('scaled down to 1', async () => (await replicas()) === 1);
  assert.ok(recorder.events.some((e) => e.reason === 'SuccessfulRescale' && e.message === 'New size: 1; reason: All metrics below target'));
});

test('an HPA whose target does not exist says so', async () => {
  await cp.client.create(R.horizontalpodautoscalers, 'default', {
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'ghost' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ghost' }, minReplicas: 1, maxReplicas: 3 },
  });
  const s = await until('FailedGetScale', async () => { const x = (await cp.client.get(R.horizontalpodautoscalers, 'default', 'ghost')).status; return x?.conditions && x; });
  const c = cond(s, 'AbleToScale');
  assert.equal(c.status, 'False');
  assert.equal(c.reason, 'FailedGetScale');
  assert.equal(c.message, 'the HPA controller was unable to get the target\'s current scale: deployments.apps "ghost" not found');
});

test('without a metrics API: ScalingActive=False with Kubernetes\' words, and the target left alone', async () => {
  hpa.stop();
  const rec = new MemoryRecorder();
  const own = new InformerFactory(cp.client);
  const real = new HorizontalPodAutoscalerController({ client: cp.client, informers: own, clock, recorder: rec, log: silentLog });
  own.start();
  await own.synced();
  real.run();
  try {
    await cp.client.patch(R.deployments, 'default', 'web', { spec: { replicas: 2 } }, 'merge');
    await cp.client.patch(R.horizontalpodautoscalers, 'default', 'web', { spec: { maxReplicas: 9 } }, 'merge'); // a new generation: synced now
    const s = await until('FailedGetResourceMetric', async () => { const x = await status(); return cond(x, 'ScalingActive')?.reason === 'FailedGetResourceMetric' && x; });
    assert.equal(cond(s, 'ScalingActive').status, 'False');
    assert.equal(cond(s, 'ScalingActive').message, 'the HPA was unable to compute the replica count: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)');
    assert.ok(rec.events.some((e) => e.reason === 'FailedComputeMetricsReplicas'
      && e.message === 'invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)'));
    assert.equal(await replicas(), 2, 'target untouched');
  } finally {
    real.stop();
    own.stop();
  }
});
