import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../client/client.js';
import { defaultNormalize } from './framework.js';
import { runCycle } from './cycle.js';
import { DEFAULT_PLUGINS } from './plugins/index.js';
import { nodeAffinity } from './plugins/nodeaffinity.js';
import { taintToleration } from './plugins/taints.js';
import { resourcesFit, balancedAllocation } from './plugins/resources.js';
import { imageLocality, normalizedImage } from './plugins/images.js';
import { interPodAffinity } from './plugins/interpod.js';
import { podTopologySpread } from './plugins/spread.js';
import { mkNode, mkPod, mkSnapshot, scoreAll } from './testing.js';

const MB = 1024 * 1024;

test('defaultNormalize scales by the largest score, reversed when lower is better', () => {
  const cases: [number[], boolean, number[]][] = [
    [[0, 5, 10], false, [0, 50, 100]], [[0, 5, 10], true, [100, 50, 0]], [[0, 0], false, [0, 0]], [[0, 0], true, [100, 100]], [[1, 3], false, [33, 100]],
  ];
  for (const [raw, reverse, want] of cases) {
    const m = new Map(raw.map((v, i) => [`n${i}`, v]));
    defaultNormalize(m, reverse);
    assert.deepEqual([...m.values()], want, `${raw} reverse=${reverse}`);
  }
});

test('NodeAffinity scores by the weights of matching preferred terms', () => {
  const nodes = [mkNode('a', { labels: { disk: 'ssd' } }), mkNode('b'), mkNode('c', { labels: { disk: 'ssd', zone: 'z1' } })];
  const pref = (w: number, key: string, value: string) => ({ weight: w, preference: { matchExpressions: [{ key, operator: 'In', values: [value] }] } });
  const p = mkPod('p', { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [pref(20, 'disk', 'ssd'), pref(80, 'zone', 'z1')] } } });
  assert.deepEqual(scoreAll(nodeAffinity, p, mkSnapshot(nodes)), { a: 20, b: 0, c: 100 });
  assert.deepEqual(scoreAll(nodeAffinity, mkPod('q'), mkSnapshot(nodes)), { a: 0, b: 0, c: 0 });
});

test('TaintToleration scores fewer untolerated PreferNoSchedule taints higher', () => {
  const pns = (key: string) => ({ key, effect: 'PreferNoSchedule' });
  const nodes = [mkNode('a'), mkNode('b', { taints: [pns('x')] }), mkNode('c', { taints: [pns('x'), pns('y')] })];
  const cases: [string, KObject, Record<string, number>][] = [
    ['none tolerated', mkPod('p'), { a: 100, b: 50, c: 0 }],
    ['one tolerated', mkPod('p', { tolerations: [{ key: 'y', operator: 'Exists', effect: 'PreferNoSchedule' }] }), { a: 100, b: 0, c: 0 }],
    ['a NoSchedule toleration does not count', mkPod('p', { tolerations: [{ key: 'y', operator: 'Exists', effect: 'NoSchedule' }] }), { a: 100, b: 50, c: 0 }],
    ['all tolerated', mkPod('p', { tolerations: [{ operator: 'Exists' }] }), { a: 100, b: 100, c: 100 }],
  ];
  for (const [what, p, want] of cases) assert.deepEqual(scoreAll(taintToleration, p, mkSnapshot(nodes)), want, what);
});

test('LeastAllocated and BalancedAllocation, with the non-zero defaults for pods without requests', () => {
  const nodes = [mkNode('a'), mkNode('b')];
  const placed: [string, KObject][] = [['a', mkPod('x', {}, {}, { req: { cpu: '2', memory: '1Gi' } })]];
  const p = mkPod('p', {}, {}, { req: { cpu: '1', memory: '1Gi' } });
  // a: cpu 3/4 used, memory 2/8 used. b: cpu 1/4, memory 1/8.
  assert.deepEqual(scoreAll(resourcesFit, p, mkSnapshot(nodes, placed)), { a: 50, b: 81 });
  assert.deepEqual(scoreAll(balancedAllocation, p, mkSnapshot(nodes, placed)), { a: 75, b: 93 });
  // No requests: 100m and 200 MiB for scoring.
  assert.deepEqual(scoreAll(resourcesFit, mkPod('q'), mkSnapshot([mkNode('b')])), { b: 97 });
});

test('ImageLocality favours nodes holding big images, discounted by how common they are', () => {
  assert.equal(normalizedImage('nginx:1.25'), 'docker.io/library/nginx:1.25');
  assert.equal(normalizedImage('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalizedImage('quay.io/x/y@sha256:ab'), 'quay.io/x/y@sha256:ab');
  assert.equal(normalizedImage('localhost:5000/y'), 'localhost:5000/y:latest');
  const img = (size: number) => [{ names: ['docker.io/library/nginx:1.25'], sizeBytes: size * MB }];
  const cases: [string, KObject[], Record<string, number>][] = [
    // 500 MB on 2 of 3 nodes: 333 MB scaled between 23 MB and 1000 MB.
    ['two of three nodes', [mkNode('a', { images: img(500) }), mkNode('b'), mkNode('c', { images: img(500) })], { a: 31, b: 0, c: 31 }],
    ['a small image says nothing', [mkNode('a', { images: img(10) }), mkNode('b')], { a: 0, b: 0 }],
    ['on every node', [mkNode('a', { images: img(2000) }), mkNode('b', { images: img(2000) })], { a: 100, b: 100 }],
  ];
  for (const [what, nodes, want] of cases) assert.deepEqual(scoreAll(imageLocality, mkPod('p', {}, {}, { image: 'nginx:1.25' }), mkSnapshot(nodes)), want, what);
});

test('InterPodAffinity scores preferred terms both ways', () => {
  const nodes = [mkNode('a', { labels: { zone: 'z1' } }), mkNode('b', { labels: { zone: 'z1' } }), mkNode('c', { labels: { zone: 'z2' } })];
  const term = (w: number, labels: Record<string, string>, key = 'zone') => ({ weight: w, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: key } });
  const web: [string, KObject] = ['a', mkPod('web', {}, { app: 'web' })];
  const cases: [string, KObject, [string, KObject][], Record<string, number>][] = [
    ['preferred affinity: the web zone', mkPod('p', { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term(10, { app: 'web' })] } } }), [web], { a: 100, b: 100, c: 0 }],
    ['preferred anti-affinity: away from it', mkPod('p', { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term(10, { app: 'web' })] } } }), [web], { a: 0, b: 0, c: 100 }],
    ['per host, weights add up', mkPod('p', { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term(10, { app: 'web' }), term(30, { app: 'web' }, 'kubernetes.io/hostname')] } } }), [web], { a: 100, b: 25, c: 0 }],
    ['an existing pod\'s preferred anti-affinity repels the incoming pod',
      mkPod('q', {}, { app: 'q' }), [['c', mkPod('loner', { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term(5, { app: 'q' }, 'kubernetes.io/hostname')] } } })]], { a: 100, b: 100, c: 0 }],
    ['nothing preferred', mkPod('p'), [web], { a: 0, b: 0, c: 0 }],
  ];
  for (const [what, p, placed, want] of cases) assert.deepEqual(scoreAll(interPodAffinity, p, mkSnapshot(nodes, placed)), want, what);
});

test('PodTopologySpread ScheduleAnyway scores emptier domains higher', () => {
  const nodes = [mkNode('a', { labels: { zone: 'z1' } }), mkNode('b', { labels: { zone: 'z2' } }), mkNode('c', { labels: { zone: 'z3' } })];
  const w = (n: string) => mkPod(n, {}, { app: 'w' });
  const p = mkPod('p', { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'w' } } }] }, { app: 'w' });
  assert.deepEqual(scoreAll(podTopologySpread, p, mkSnapshot(nodes, [['a', w('1')], ['a', w('2')], ['b', w('3')]])), { a: 0, b: 50, c: 100 });
});

test('a cycle weighs the plugins: a PreferNoSchedule taint loses to a clean node, preferred affinity wins over spreading', () => {
  const nodes = [mkNode('a', { labels: { zone: 'z1' } }), mkNode('b', { labels: { zone: 'z2' }, taints: [{ key: 'x', effect: 'PreferNoSchedule' }] })];
  for (const r of [() => 0, () => 0.5, () => 0.999]) {
    assert.equal(runCycle(DEFAULT_PLUGINS, mkPod('p'), mkSnapshot(nodes), r).node, 'a');
    const p = mkPod('p', { tolerations: [{ key: 'x', operator: 'Exists' }], affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z2'] }] } }] } } });
    assert.equal(runCycle(DEFAULT_PLUGINS, p, mkSnapshot(nodes, [['b', mkPod('x', {}, {}, { req: { cpu: '2' } })]]), r).node, 'b');
  }
});
