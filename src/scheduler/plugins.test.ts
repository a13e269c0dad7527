import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../client/client.js';
import { NodeInfo, podRequests } from './nodeinfo.js';
import type { Plugin, Snapshot } from './framework.js';
import { runCycle, failureMessage } from './cycle.js';
import { DEFAULT_PLUGINS } from './plugins/index.js';
import { nodeAffinity, nodeUnschedulable } from './plugins/nodeaffinity.js';
import { taintToleration, toleration } from './plugins/taints.js';
import { resourcesFit } from './plugins/resources.js';
import { interPodAffinity } from './plugins/interpod.js';
import { podTopologySpread } from './plugins/spread.js';
import { findPreemption } from './preemption.js';
import { SchedulingQueue } from './queue.js';
import { FakeClock } from '../controllers/runtime/clock.js';

const node = (name: string, o: { labels?: any; taints?: any[]; cpu?: string; memory?: string; pods?: string; unschedulable?: boolean } = {}): KObject => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
  spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
  status: { allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110' } },
});
const pod = (name: string, spec: any = {}, labels: any = {}, ns = 'default'): KObject => ({
  metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'c', image: 'x', ...(spec.req ? { resources: { requests: spec.req } } : {}) }], ...spec, req: undefined },
});

function snap(nodes: KObject[], placed: [string, KObject][] = []): Snapshot {
  const infos = new Map(nodes.map((n) => [n.metadata.name!, new NodeInfo(n)]));
  placed.forEach(([n, p], i) => infos.get(n)!.addPod(`p${i}`, p));
  const list = [...infos.values()];
  return { nodes: list, get: (n) => infos.get(n), havePodsWithAffinity: list.filter((x) => x.podsWithAffinity > 0) };
}

function feasible(plugin: Plugin, p: KObject, s: Snapshot): string[] {
  const state = new Map();
  return s.nodes.filter((n) => (plugin.filter?.(state, p, n, s).code ?? 'Success') === 'Success').map((n) => n.name);
}

test('pod requests: containers summed, the largest init container, sidecars, overhead', () => {
  const p = { metadata: {}, spec: {
    containers: [{ resources: { requests: { cpu: '100m', memory: '64Mi' } } }, { resources: { requests: { cpu: '200m' } } }],
    initContainers: [{ resources: { requests: { cpu: '1' } } }, { restartPolicy: 'Always', resources: { requests: { cpu: '50m' } } }],
    overhead: { cpu: '10m' },
  } };
  assert.deepEqual(podRequests(p as any), { cpu: 1010, memory: 64 * 2 ** 20, ephemeral: 0, pods: 1 });
});

test('filters, table-driven: which nodes each plugin lets a pod onto', () => {
  const nodes = [
    node('a', { labels: { zone: 'z1', disk: 'ssd' } }),
    node('b', { labels: { zone: 'z2' }, taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }] }),
    node('c', { labels: { zone: 'z2' }, cpu: '500m', unschedulable: true }),
  ];
  const cases: [string, Plugin, KObject, string[]][] = [
    ['nodeSelector', nodeAffinity, pod('p', { nodeSelector: { disk: 'ssd' } }), ['a']],
    ['required affinity NotIn', nodeAffinity, pod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['z1'] }] }] } } } }), ['b', 'c']],
    ['required affinity terms are ORed', nodeAffinity, pod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'Exists' }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] }] } } } }), ['a', 'c']],
    ['untolerated NoSchedule taint', taintToleration, pod('p'), ['a', 'c']],
    ['tolerated by Exists', taintToleration, pod('p', { tolerations: [{ key: 'gpu', operator: 'Exists' }] }), ['a', 'b', 'c']],
    ['tolerated by Equal with the wrong value', taintToleration, pod('p', { tolerations: [{ key: 'gpu', value: 'no', effect: 'NoSchedule' }] }), ['a', 'c']],
    ['cordoned node', nodeUnschedulable, pod('p'), ['a', 'b']],
    ['cordon tolerated', nodeUnschedulable, pod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }), ['a', 'b', 'c']],
    ['cpu fit', resourcesFit, pod('p', { req: { cpu: '1' } }), ['a', 'b']],
    ['memory fit', resourcesFit, pod('p', { req: { memory: '9Gi' } }), []],
  ];
  for (const [what, plugin, p, want] of cases) assert.deepEqual(feasible(plugin, p, snap(nodes)), want, what);
});

test('tolerations match as Kubernetes matches them', () => {
  const t = { key: 'k', value: 'v', effect: 'NoExecute' };
  const cases: [any, boolean][] = [
    [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoExecute' }, true], [{ key: 'k', value: 'v' }, true],
    [{ key: 'k', operator: 'Exists' }, true], [{ operator: 'Exists' }, true], [{ key: 'k', value: 'x' }, false],
    [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }, false], [{ key: 'other', operator: 'Exists' }, false],
  ];
  for (const [tol, want] of cases) assert.equal(toleration(tol, t), want, JSON.stringify(tol));
});

test('inter-pod affinity and anti-affinity by topology, both ways', () => {
  const nodes = [node('a', { labels: { zone: 'z1' } }), node('b', { labels: { zone: 'z1' } }), node('c', { labels: { zone: 'z2' } })];
  const web = pod('web', {}, { app: 'web' });
  const s = snap(nodes, [['a', web]]);
  const term = (op: 'podAffinity' | 'podAntiAffinity', key: string) => ({ affinity: { [op]: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: key }] } } });
  assert.deepEqual(feasible(interPodAffinity, pod('p', term('podAffinity', 'zone')), s), ['a', 'b'], 'affinity: same zone as web');
  assert.deepEqual(feasible(interPodAffinity, pod('p', term('podAntiAffinity', 'zone')), s), ['c'], 'anti-affinity: other zone');
  assert.deepEqual(feasible(interPodAffinity, pod('p', term('podAntiAffinity', 'kubernetes.io/hostname')), s), ['b', 'c'], 'anti-affinity per host');
  // The first pod of a group that selects itself may go anywhere.
  assert.deepEqual(feasible(interPodAffinity, pod('p', term('podAffinity', 'zone'), { app: 'db' }), snap(nodes)), [], 'nothing matches and it does not match itself');
  const selfish = pod('p', { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' }] } } }, { app: 'db' });
  assert.deepEqual(feasible(interPodAffinity, selfish, snap(nodes)), ['a', 'b', 'c']);
  // Symmetry: an existing pod's anti-affinity keeps matching pods out of its zone.
  const loner = pod('loner', term('podAntiAffinity', 'zone'), { app: 'loner' });
  assert.deepEqual(feasible(interPodAffinity, pod('q', {}, { app: 'web' }), snap(nodes, [['c', loner]])), ['a', 'b']);
});

test('topology spread: maxSkew over zones, missing labels', () => {
  const nodes = [node('a', { labels: { zone: 'z1' } }), node('b', { labels: { zone: 'z2' } }), node('c')];
  const placed: [string, KObject][] = [['a', pod('x1', {}, { app: 'w' })], ['a', pod('x2', {}, { app: 'w' })], ['b', pod('x3', {}, { app: 'w' })]];
  const spread = (skew: number) => pod('p', { topologySpreadConstraints: [{ maxSkew: skew, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'w' } } }] }, { app: 'w' });
  assert.deepEqual(feasible(podTopologySpread, spread(1), snap(nodes, placed)), ['b'], 'z1 has 2, z2 has 1: only z2 keeps skew <= 1');
  assert.deepEqual(feasible(podTopologySpread, spread(2), snap(nodes, placed)), ['a', 'b'], 'c lacks the zone label');
});

test('a cycle picks by score and explains failures as kube-scheduler does', () => {
  const busy = node('busy', { cpu: '2' });
  const idle = node('idle', { cpu: '2' });
  const s = snap([busy, idle], [['busy', pod('x', { req: { cpu: '1500m' } })]]);
  const r = runCycle(DEFAULT_PLUGINS, pod('p', { req: { cpu: '100m' } }), s);
  assert.equal(r.node, 'idle', 'least allocated wins');
  const tainted = node('t', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] });
  const fail = runCycle(DEFAULT_PLUGINS, pod('p', { req: { cpu: '3' } }), snap([busy, idle, tainted]));
  assert.equal(fail.node, undefined);
  assert.equal((fail as any).message, '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.');
  assert.equal(failureMessage(2, new Map([['a', { code: 'Unschedulable', reasons: ['Too many pods', 'Insufficient cpu'] }], ['b', { code: 'Unschedulable', reasons: ['Insufficient cpu'] }]])),
    '0/2 nodes are available: 1 Too many pods, 2 Insufficient cpu.');
});

test('preemption: the node whose victims matter least, keeping all it can', () => {
  const low = (n: string, prio: number, cpu: string) => ({ ...pod(n, { req: { cpu } }), spec: { ...pod(n, { req: { cpu } }).spec, priority: prio } });
  const s = snap([node('a', { cpu: '2' }), node('b', { cpu: '2' })], [
    ['a', low('a1', 100, '1')], ['a', low('a2', 10, '1')],
    ['b', low('b1', 5, '1')], ['b', low('b2', 5, '1')],
  ]);
  const big = { ...pod('big', { req: { cpu: '1' } }), spec: { ...pod('big', { req: { cpu: '1' } }).spec, priority: 1000 } };
  const r = runCycle(DEFAULT_PLUGINS, big, s);
  assert.equal(r.node, undefined);
  const plan = findPreemption(DEFAULT_PLUGINS, big, s, (r as any).statuses);
  assert.equal(plan?.node, 'b', 'b\'s top victim has the lower priority');
  assert.equal(plan?.victims.length, 1, 'one victim is enough');
  const never = { ...big, spec: { ...big.spec, preemptionPolicy: 'Never' } };
  assert.equal(findPreemption(DEFAULT_PLUGINS, never, s, (r as any).statuses), undefined);
  const lowly = { ...big, spec: { ...big.spec, priority: 1 } };
  assert.equal(findPreemption(DEFAULT_PLUGINS, lowly, s, (r as any).statuses), undefined, 'nothing of lower priority to evict');
});

test('scheduling queue: priority order, backoff, parking until the cluster changes', async () => {
  const clock = new FakeClock();
  const q = new SchedulingQueue(clock, { initialBackoffMs: 1000, maxBackoffMs: 10_000, unschedulableMaxMs: 60_000 });
  q.add('low', 0);
  q.add('high', 100);
  q.add('mid', 50);
  assert.deepEqual([await q.pop(), await q.pop(), await q.pop()], ['high', 'mid', 'low']);
  q.park('low', 0);
  assert.equal(q.sizes.unschedulable, 1);
  q.moveAllToActive();
  assert.equal(q.sizes.backoff, 1);
  clock.advance(1000);
  assert.equal(await q.pop(), 'low');
  q.retryLater('mid', 50);
  q.retryLater('mid', 50);
  clock.advance(1999);
  assert.equal(q.sizes.active, 0, 'second failure: 2 s backoff');
  clock.advance(1);
  assert.equal(await q.pop(), 'mid');
  q.park('x', 0);
  clock.advance(60_000);
  assert.equal(q.sizes.active, 1, 'parked pods come back within a minute');
  q.close();
});
