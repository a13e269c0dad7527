import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../client/client.js';
import type { PostFilterResult } from './framework.js';
import { runCycle } from './cycle.js';
import { DEFAULT_PLUGINS } from './plugins/index.js';
import { defaultPreemption } from './preemption.js';
import { mkNode, mkPod, mkSnapshot } from './testing.js';

const at = (p: KObject, startTime: string): KObject => ({ ...p, status: { startTime } });
const prio = (name: string, priority: number, cpu: string, labels: Record<string, string> = {}) => mkPod(name, {}, labels, { req: { cpu }, priority });

/** Runs a failed cycle then DefaultPreemption's PostFilter, as the scheduler does. */
function postFilter(pod: KObject, nodes: KObject[], placed: [string, KObject][], pdbs: KObject[] = []): PostFilterResult {
  const snap = mkSnapshot(nodes, placed);
  const r = runCycle(DEFAULT_PLUGINS, pod, snap);
  assert.equal(r.node, undefined, 'the pod must not fit before preemption');
  return defaultPreemption(() => DEFAULT_PLUGINS, () => pdbs).postFilter!(new Map(), pod, snap, (r as any).statuses);
}

const tainted = mkNode('t', { cpu: '2', taints: [{ key: 'dedicated', effect: 'NoSchedule' }] });

test('DefaultPreemption explains itself as kube-scheduler does when it cannot help', () => {
  const small = mkNode('a', { cpu: '2' });
  const cases: [string, KObject, KObject[], [string, KObject][], string][] = [
    ['preemptionPolicy Never', { ...prio('p', 100, '2'), spec: { ...prio('p', 100, '2').spec, preemptionPolicy: 'Never' } }, [small], [['a', prio('x', 0, '1')]],
      'preemption: not eligible due to preemptionPolicy=Never.'],
    ['only unresolvable failures', prio('p', 100, '1'), [tainted], [],
      'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.'],
    ['nothing of lower priority on the node', prio('p', 100, '2'), [small, tainted], [['a', prio('x', 100, '1')]],
      'preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.'],
    ['evicting everything lower is still not enough', prio('p', 100, '3'), [small], [['a', prio('x', 0, '1')]],
      'preemption: 0/1 nodes are available: 1 Insufficient cpu.'],
  ];
  for (const [what, pod, nodes, placed, want] of cases) {
    const r = postFilter(pod, nodes, placed);
    assert.equal(r.code, 'Unschedulable', what);
    assert.equal(r.message, want, what);
    assert.equal(r.nominatedNode, undefined, what);
  }
});

test('DefaultPreemption picks the node whose victims matter least', () => {
  const nodes = [mkNode('a', { cpu: '2' }), mkNode('b', { cpu: '2' })];
  const pod = prio('p', 100, '2');
  const cases: [string, [string, KObject][], string, string[]][] = [
    ['the lowest highest-victim priority', [['a', prio('a1', 1, '1')], ['a', prio('a2', 1, '1')], ['b', prio('b1', 5, '2')]], 'a', ['a1', 'a2']],
    ['then fewer victims (priorities shifted by 2^31 before summing)', [['a', prio('a1', 1, '1')], ['a', prio('a2', 1, '1')], ['b', prio('b1', 1, '2')]], 'b', ['b1']],
    ['then the smaller priority sum', [['a', prio('a1', 1, '1')], ['a', prio('a2', 5, '1')], ['b', prio('b1', 5, '1')], ['b', prio('b2', 5, '1')]], 'a', ['a1', 'a2']],
  ];
  for (const [what, placed, node, victims] of cases) {
    const r = postFilter(pod, nodes, placed);
    assert.equal(r.code, 'Success', what);
    assert.equal(r.nominatedNode, node, what);
    assert.deepEqual(r.victims!.map((v) => v.metadata.name).sort(), victims, what);
  }
});

test('DefaultPreemption keeps all the pods it can, PodDisruptionBudget-protected ones first', () => {
  const node = [mkNode('a', { cpu: '2' })];
  // Same priority: the later-started pod is less important, so without a PDB it goes.
  const older = at(prio('older', 1, '1', { app: 'db' }), '2026-01-01T00:00:00Z');
  const newer = at(prio('newer', 1, '1', { app: 'web' }), '2026-01-02T00:00:00Z');
  const placed: [string, KObject][] = [['a', older], ['a', newer]];
  const pod = prio('p', 100, '1');
  assert.deepEqual(postFilter(pod, node, placed).victims!.map((v) => v.metadata.name), ['newer']);
  const pdb = (app: string, allowed: number) => ({ metadata: { name: `pdb-${app}`, namespace: 'default' }, spec: { selector: { matchLabels: { app } } }, status: { disruptionsAllowed: allowed } });
  assert.deepEqual(postFilter(pod, node, placed, [pdb('web', 0)]).victims!.map((v) => v.metadata.name), ['older'], 'the protected pod is reprieved first');
  assert.deepEqual(postFilter(pod, node, placed, [pdb('web', 1)]).victims!.map((v) => v.metadata.name), ['newer'], 'a budget with room protects nothing');
  const empty = { metadata: { name: 'all', namespace: 'default' }, spec: { selector: {} }, status: { disruptionsAllowed: 0 } };
  assert.deepEqual(postFilter(pod, node, placed, [empty]).victims!.map((v) => v.metadata.name), ['newer'], 'an empty selector protects nothing here');
  // Between nodes: the one without PDB violations wins even with a higher-priority victim.
  const two = [mkNode('a', { cpu: '1' }), mkNode('b', { cpu: '1' })];
  const r = postFilter(pod, two, [['a', prio('cheap', 1, '1', { app: 'web' })], ['b', prio('dear', 50, '1')]], [pdb('web', 0)]);
  assert.equal(r.nominatedNode, 'b');
});

test('a pod whose victims are still terminating on its nominated node waits instead of preempting again', () => {
  const node = [mkNode('a', { cpu: '1' }), mkNode('b', { cpu: '1' })];
  const going = { ...prio('going', 1, '1'), metadata: { ...prio('going', 1, '1').metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } };
  const pod = { ...prio('p', 100, '1'), status: { nominatedNodeName: 'a' } };
  const r = postFilter(pod, node, [['a', going], ['b', prio('other', 1, '1')]]);
  assert.equal(r.code, 'Unschedulable');
  assert.equal(r.keepNomination, true);
  assert.equal(r.message, 'preemption: not eligible due to a terminating pod on the nominated node.');
  // Without the nomination, the terminating pod is no candidate but b's pod is.
  const fresh = postFilter(prio('p', 100, '1'), node, [['a', going], ['b', prio('other', 1, '1')]]);
  assert.equal(fresh.nominatedNode, 'b');
});
