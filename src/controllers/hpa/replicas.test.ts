import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceReplicas, utilizationOf, type PodInfo, type PodMetric } from './replicas.js';
import { normalize, normalizeLegacy, recordScale, withDefaults, type Memory } from './behavior.js';
import { durationMs, samplesOf } from './metrics.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const LONG_AGO = NOW - 3_600_000;

/** Pods started long ago, ready (or not), requesting `req` millicores; usage per pod (undefined = no sample). */
function setup(usage: (number | undefined)[], opts: { req?: number; ready?: boolean[]; phases?: string[] } = {}) {
  const pods: PodInfo[] = usage.map((_, i) => ({
    name: `p${i}`, phase: opts.phases?.[i] ?? 'Running', startTime: LONG_AGO, request: opts.req ?? 1000,
    // An unready pod here has never been ready (unready within 30 s of its start): its CPU is not trusted.
    ready: opts.ready?.[i] === false ? { status: 'False', since: LONG_AGO + 10_000 } : { status: 'True', since: LONG_AGO + 60_000 },
  }));
  const metrics = new Map<string, PodMetric>();
  usage.forEach((u, i) => { if (u !== undefined) metrics.set(`p${i}`, { value: u, timestamp: NOW - 10_000, windowMs: 30_000 }); });
  return { pods, metrics };
}

test('replicas for a utilization target, as Kubernetes\' replica calculator', () => {
  const cases: [string, number, ReturnType<typeof setup>, number, number, number?][] = [
    // [what, current replicas, pods+samples, target %, want replicas, want utilization]
    ['at target', 2, setup([500, 500]), 50, 2, 50],
    ['within the 10% tolerance', 2, setup([540, 540]), 50, 2, 54],
    ['scale up (Kubernetes\' TestReplicaCalcScaleUp)', 3, setup([300, 500, 700]), 30, 5, 50],
    ['scale down (TestReplicaCalcScaleDown)', 5, setup([100, 300, 500, 250, 250]), 50, 3, 28],
    ['rounds up', 3, setup([600, 600, 600]), 50, 4, 60],
    ['unready pods count as 0 on a scale-up (TestReplicaCalcScaleUpUnreadyLessScale)', 3, setup([300, 500, 700], { ready: [false, true, true] }), 30, 4, 60],
    ['unready pods are left out of a scale-down', 4, setup([100, 100, 900, 900], { ready: [true, true, false, false] }), 50, 1, 10],
    ['pending pods are unready', 2, setup([1000, undefined], { phases: ['Running', 'Pending'] }), 50, 2, 100],
    ['a missing pod counts as 0 on a scale-up: back within tolerance', 2, setup([1000, undefined]), 50, 2, 100],
    ['a missing pod counts as its full request on a scale-down', 4, setup([100, 100, 100, undefined]), 50, 3, 10],
    ['a missing pod that flips a scale-down into a scale-up: no change', 2, setup([100, undefined]), 50, 2, 10],
    ['failed pods are ignored', 2, setup([1000, 0], { phases: ['Running', 'Failed'] }), 50, 2, 100],
    ['utilization truncates to whole percent', 2, setup([333, 333], { req: 1000 }), 33, 2, 33],
  ];
  for (const [what, cur, { pods, metrics }, target, want, util] of cases) {
    const p = resourceReplicas(cur, pods, metrics, 'cpu', { utilization: target }, NOW);
    assert.equal(p.replicas, want, what);
    if (util !== undefined) assert.equal(p.utilization, util, `${what}: utilization`);
  }
});

test('replicas for an average-value target', () => {
  const cases: [string, number, ReturnType<typeof setup>, number, number][] = [
    ['at target', 2, setup([200, 200]), 200, 2],
    ['twice the target', 2, setup([400, 400]), 200, 4],
    ['a missing pod counts as the target on a scale-down', 3, setup([50, 50, undefined]), 200, 2],
  ];
  for (const [what, cur, { pods, metrics }, target, want] of cases) {
    assert.equal(resourceReplicas(cur, pods, metrics, 'memory', { averageValue: target }, NOW).replicas, want, what);
  }
});

test('calculator errors are worded as Kubernetes words them', () => {
  const { pods, metrics } = setup([500]);
  assert.throws(() => resourceReplicas(1, [], metrics, 'cpu', { utilization: 50 }, NOW), /no pods returned by selector while calculating replica count/);
  assert.throws(() => resourceReplicas(1, [{ ...pods[0], request: undefined, missingRequestIn: 'app' }], metrics, 'cpu', { utilization: 50 }, NOW), /^Error: missing request for cpu in container app of Pod p0$/);
  assert.throws(() => resourceReplicas(1, pods, new Map(), 'cpu', { utilization: 50 }, NOW), /did not receive metrics for targeted pods \(pods might be unready\)/);
  assert.throws(() => utilizationOf(new Map([['x', 1]]), new Map()), /no metrics returned matched known pods/);
});

test('a young CPU pod\'s sample counts only once it covers a whole window after readiness', () => {
  const young = (sampleAt: number): ReturnType<typeof setup> => {
    const s = setup([1000, 1000]);
    s.pods[1] = { ...s.pods[1], startTime: NOW - 60_000, ready: { status: 'True', since: NOW - 20_000 } };
    s.metrics.set('p1', { value: 1000, timestamp: sampleAt, windowMs: 30_000 });
    return s;
  };
  // p1's sample started before it was ready for a window: unready, counted as 0 on the way up.
  let s = young(NOW - 5000);
  assert.equal(resourceReplicas(2, s.pods, s.metrics, 'cpu', { utilization: 50 }, NOW).replicas, 2);
  s = young(NOW + 15_000);
  assert.equal(resourceReplicas(2, s.pods, s.metrics, 'cpu', { utilization: 50 }, NOW).replicas, 4);
});

test('without spec.behavior: up to max(2 x current, 4) per sync, down only to the highest recommendation of the window', () => {
  const mem = (): Memory => ({ recommendations: [], ups: [], downs: [] });
  const cases: [string, number, number, number, number, number, string][] = [
    // [what, current, desired, min, max, want, ScalingLimited reason]
    ['within range', 3, 5, 1, 10, 5, 'DesiredWithinRange'],
    ['scale-up rate: 4 from 1', 1, 9, 1, 20, 4, 'ScaleUpLimit'],
    ['scale-up rate: twice from 3', 3, 20, 1, 50, 6, 'ScaleUpLimit'],
    ['max replicas', 3, 20, 1, 5, 5, 'TooManyReplicas'],
    ['min replicas', 3, 0, 2, 5, 2, 'TooFewReplicas'],
  ];
  for (const [what, cur, desired, min, max, want, reason] of cases) {
    const n = normalizeLegacy(mem(), cur, desired, min, max, 300_000, NOW);
    assert.equal(n.replicas, want, what);
    assert.equal(n.limited.reason, reason, what);
    assert.equal(n.limited.status, want === desired ? 'False' : 'True', what);
  }
  const m = mem();
  normalizeLegacy(m, 5, 5, 1, 10, 300_000, NOW - 200_000);
  const down = normalizeLegacy(m, 5, 2, 1, 10, 300_000, NOW);
  assert.equal(down.replicas, 5, 'a recommendation of 5 is 200 s old');
  assert.equal(down.stabilized.reason, 'ScaleDownStabilized');
  assert.equal(normalizeLegacy(m, 5, 2, 1, 10, 300_000, NOW + 150_000).replicas, 2, 'the old recommendation has left the window');
});

test('with spec.behavior: stabilization windows and rate policies over recent scale events', () => {
  const b = withDefaults({});
  assert.deepEqual(b.scaleDown.stabilizationWindowSeconds, 300);
  assert.deepEqual(b.scaleUp.policies, [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }]);
  const m: Memory = { recommendations: [], ups: [], downs: [] };
  let n = normalize(m, 2, 20, 1, 50, b, NOW);
  assert.equal(n.replicas, 6, 'max(2 + 4 pods, 2 x 100%)');
  assert.equal(n.limited.reason, 'ScaleUpLimit');
  recordScale(m, b, 2, 6, NOW);
  n = normalize(m, 6, 20, 1, 50, b, NOW + 5000);
  assert.equal(n.replicas, 6, 'this period already grew from 2 to 6');
  n = normalize(m, 6, 20, 1, 50, b, NOW + 16_000);
  assert.equal(n.replicas, 12, 'a new period: 6 x 200%');
  // Scale-down: the highest recommendation of the last 300 s wins.
  const d: Memory = { recommendations: [], ups: [], downs: [] };
  assert.equal(normalize(d, 12, 12, 1, 50, b, NOW).replicas, 12);
  n = normalize(d, 12, 3, 1, 50, b, NOW + 60_000);
  assert.equal(n.replicas, 12);
  assert.equal(n.stabilized.reason, 'ScaleDownStabilized');
  n = normalize(d, 12, 3, 1, 50, b, NOW + 400_000);
  assert.equal(n.replicas, 3, 'every higher recommendation has aged out');
  assert.equal(n.limited.reason, 'DesiredWithinRange', 'the default scale-down policy allows 100% per 15 s');
  // Policies of the HPA's own: at most 1 pod per minute down; Disabled.
  const slow = withDefaults({ scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } });
  const m2: Memory = { recommendations: [], ups: [], downs: [] };
  n = normalize(m2, 5, 1, 1, 10, slow, NOW);
  assert.equal(n.replicas, 4);
  assert.equal(n.limited.reason, 'ScaleDownLimit');
  recordScale(m2, slow, 5, 4, NOW);
  assert.equal(normalize(m2, 4, 1, 1, 10, slow, NOW + 30_000).replicas, 4, 'one pod per minute');
  const off = withDefaults({ scaleUp: { selectPolicy: 'Disabled' } });
  assert.equal(normalize({ recommendations: [], ups: [], downs: [] }, 3, 9, 1, 10, off, NOW).replicas, 3, 'scale-up disabled');
});

test('PodMetrics to samples: container sums in thousandths, windows, missing resources', () => {
  const items = [
    { metadata: { name: 'a' }, timestamp: '2026-01-01T12:00:00Z', window: '30s', containers: [{ name: 'x', usage: { cpu: '250m', memory: '64Mi' } }, { name: 'y', usage: { cpu: '1', memory: '1Mi' } }] },
    { metadata: { name: 'b' }, timestamp: '2026-01-01T12:00:00Z', window: '1m0s', containers: [{ name: 'x', usage: { memory: '1Mi' } }] },
  ];
  const cpu = samplesOf(items, 'cpu');
  assert.deepEqual(cpu.get('a'), { value: 1250, timestamp: NOW, windowMs: 30_000 });
  assert.equal(cpu.has('b'), false, 'no cpu sample');
  assert.equal(samplesOf(items, 'cpu', 'y').get('a')?.value, 1000, 'one container');
  assert.equal(samplesOf(items, 'memory').get('b')?.windowMs, 60_000);
  assert.equal(durationMs('1m30.5s'), 90_500);
});
