import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../client/client.js';
import { daemonTolerations, nodeOfPod, nodeShouldRunDaemonPod, pinnedAffinity } from './nodes.js';
import { daemonSetStatus, manage, planDaemonSet, rollingUpdate, surgeAndUnavailable } from './plan.js';

const T0 = Date.parse('2024-01-01T00:00:00Z');

const node = (name: string, labels: Record<string, string> = {}, taints: any[] = []): KObject => ({ metadata: { name, labels }, spec: { taints } });
const tmpl = (spec: any = {}) => ({ metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c' }], ...spec } });

test('node fit: shouldRun and shouldContinueRunning (NodeShouldRunDaemonPod)', () => {
  const cases: [string, any, KObject, [boolean, boolean]][] = [
    ['plain node', tmpl(), node('n'), [true, true]],
    ['nodeSelector matches', tmpl({ nodeSelector: { role: 'w' } }), node('n', { role: 'w' }), [true, true]],
    ['nodeSelector misses', tmpl({ nodeSelector: { role: 'w' } }), node('n'), [false, false]],
    ['required affinity misses', tmpl({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } } }), node('n', { zone: 'b' }), [false, false]],
    ['template nodeName elsewhere', tmpl({ nodeName: 'other' }), node('n'), [false, false]],
    ['untolerated NoSchedule: no new pod, the running one stays', tmpl(), node('n', {}, [{ key: 'gpu', effect: 'NoSchedule' }]), [false, true]],
    ['untolerated NoExecute: the pod goes', tmpl(), node('n', {}, [{ key: 'gpu', effect: 'NoExecute' }]), [false, false]],
    ['PreferNoSchedule is no obstacle', tmpl(), node('n', {}, [{ key: 'gpu', effect: 'PreferNoSchedule' }]), [true, true]],
    ['tolerated taint', tmpl({ tolerations: [{ key: 'gpu', operator: 'Exists' }] }), node('n', {}, [{ key: 'gpu', effect: 'NoExecute' }]), [true, true]],
    ['not-ready node: daemon pods tolerate it', tmpl(), node('n', {}, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }]), [true, true]],
    ['cordoned node: daemon pods tolerate it', tmpl(), node('n', {}, [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]), [true, true]],
    ['memory pressure: tolerated', tmpl(), node('n', {}, [{ key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }]), [true, true]],
    ['network unavailable: only hostNetwork pods', tmpl(), node('n', {}, [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }]), [false, true]],
    ['network unavailable, hostNetwork', tmpl({ hostNetwork: true }), node('n', {}, [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }]), [true, true]],
  ];
  for (const [what, t, n, [run, stay]] of cases) assert.deepEqual(nodeShouldRunDaemonPod(t, n), { shouldRun: run, shouldContinueRunning: stay }, what);
});

test('daemon tolerations: the standard ones added, a same-key one replaced (tolerationSeconds dropped)', () => {
  const t = daemonTolerations(tmpl({ tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }, { key: 'x', operator: 'Exists' }] }));
  assert.deepEqual(t.map((x) => `${x.key}:${x.effect ?? ''}${x.tolerationSeconds ? `:${x.tolerationSeconds}` : ''}`), [
    'node.kubernetes.io/not-ready:NoExecute', 'x:', 'node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/disk-pressure:NoSchedule',
    'node.kubernetes.io/memory-pressure:NoSchedule', 'node.kubernetes.io/pid-pressure:NoSchedule', 'node.kubernetes.io/unschedulable:NoSchedule',
  ]);
  assert.ok(daemonTolerations(tmpl({ hostNetwork: true })).some((x) => x.key === 'node.kubernetes.io/network-unavailable'));
});

test('pinning: required node terms replaced by metadata.name, the rest kept; the node read back', () => {
  const aff = { podAntiAffinity: { x: 1 }, nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1 }], requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [] }] } } };
  const out = pinnedAffinity(aff, 'n7');
  assert.deepEqual(out.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }] });
  assert.deepEqual(out.podAntiAffinity, { x: 1 });
  assert.equal(out.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.length, 1);
  assert.equal(aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions !== undefined, true, 'the template is not changed');
  assert.equal(nodeOfPod({ metadata: {}, spec: { affinity: out } }), 'n7');
  assert.equal(nodeOfPod({ metadata: {}, spec: { nodeName: 'n1', affinity: out } }), 'n1', 'the binding wins');
  assert.equal(nodeOfPod({ metadata: {}, spec: {} }), undefined);
});

function ds(strategy: any = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, podSpec: any = {}): KObject {
  return { metadata: { name: 'd', namespace: 'ns', uid: 'ds', generation: 1 }, spec: { selector: { matchLabels: { app: 'd' } }, updateStrategy: strategy, template: tmpl(podSpec) } };
}

let seq = 0;
/** A pod on `node`: flags n (new hash), u (unready), p (pending, unbound), f (failed), s (succeeded), t (terminating). */
function pod(nodeName: string, flags = ''): KObject {
  const phase = flags.includes('f') ? 'Failed' : flags.includes('s') ? 'Succeeded' : flags.includes('p') ? 'Pending' : 'Running';
  const ready = phase === 'Running' && !flags.includes('u');
  seq++;
  return {
    metadata: {
      name: `d-${nodeName}-${seq}`, namespace: 'ns', uid: `u${seq}`, creationTimestamp: new Date(T0 - 100_000 + seq * 1000).toISOString(),
      labels: { app: 'd', 'controller-revision-hash': flags.includes('n') ? 'new' : 'old' }, ...(flags.includes('t') ? { deletionTimestamp: 'x' } : {}),
    },
    spec: { ...(flags.includes('p') ? {} : { nodeName }), affinity: pinnedAffinity(undefined, nodeName) },
    status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2023-12-31T00:00:00Z' }] },
  };
}
const names = (ps: KObject[]) => ps.map((p) => `${nodeOfPod(p)}${p.metadata.labels!['controller-revision-hash'] === 'new' ? '+' : ''}`).sort();

test('manage: a pod per node that should run one, extras and failed pods removed', () => {
  const nodes = [node('a'), node('b'), node('c', {}, [{ key: 'k', effect: 'NoExecute' }]), node('d', {}, [{ key: 'k', effect: 'NoSchedule' }])];
  const surge = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } };
  const cases: [string, KObject, string[], string[], string[]][] = [
    ['empty: pods on a and b only', ds(), [], ['a', 'b'], []],
    ['NoExecute node: its pod goes; NoSchedule node: its pod stays', ds(), ['a', 'b', 'c', 'd'], [], ['c']],
    ['two on a node: the newer goes', ds(), ['a', 'a', 'b'], [], ['a']],
    ['only a terminating pod: wait for it', ds(), ['a:t', 'b'], [], []],
    ['failed pod goes', ds(), ['a:f', 'b'], [], ['a']],
    ['succeeded pod goes', ds(), ['a:s', 'b'], [], ['a']],
    ['an unscheduled pod for a vanished node goes; a scheduled one is the pod GC\'s', ds(), ['a', 'b', 'gone:p', 'gone2'], [], ['gone']],
    ['surge: a terminating pod does not block a new one', ds(surge), ['a:t', 'b'], ['a'], []],
    ['surge: old ready and new unavailable stay', ds(surge), ['a', 'a:nu', 'b'], [], []],
    ['surge: new available, old goes', ds(surge), ['a', 'a:n', 'b'], [], ['a']],
    ['surge: old unready, it goes', ds(surge), ['a:u', 'a:nu', 'b'], [], ['a']],
  ];
  for (const [what, d, pods, create, remove] of cases) {
    const plan = manage({ ds: d, nodes, pods: pods.map((s) => { const [n, f] = s.split(':'); return pod(n, f); }), hash: 'new', now: T0 });
    assert.deepEqual(plan.create.sort(), create, `${what}: create`);
    assert.deepEqual(names(plan.remove).map((n) => n.replace('+', '')), remove, `${what}: remove`);
  }
  const failed = pod('a', 'f');
  let plan = manage({ ds: ds(), nodes: [node('a')], pods: [failed], hash: 'new', now: T0 });
  assert.deepEqual(plan.failed, [failed], 'a failed pod is reported for its event and backoff');
  plan = manage({ ds: ds(), nodes: [node('a')], pods: [failed], hash: 'new', now: T0, failedBackoffMs: () => 4000 });
  assert.deepEqual([plan.remove.length, plan.requeueAfterMs], [0, 4000], 'in backoff: kept, looked at again later');
});

test('rolling update: maxUnavailable and maxSurge', () => {
  const nodes = ['a', 'b', 'c', 'd'].map((n) => node(n));
  const ru = (maxUnavailable: any, maxSurge: any = 0) => ds({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable, maxSurge } });
  const P = (s: string) => s.split(' ').filter(Boolean).map((x) => { const [n, f] = x.split(':'); return pod(n, f); });
  const cases: [string, KObject, string, string[], string[]][] = [
    ['one at a time', ru(1), 'a b c d', [], ['a']],
    ['two at a time', ru(2), 'a b c d', [], ['a', 'b']],
    ['25% of 4 is 1', ru('25%'), 'a b c d', [], ['a']],
    ['30% of 4 rounds up to 2', ru('30%'), 'a b c d', [], ['a', 'b']],
    ['an updated pod not yet available uses the budget', ru(1), 'a:nu b c d', [], []],
    ['an updated available pod frees it', ru(1), 'a:n b c d', [], ['b']],
    ['an unavailable old pod is replaced at once, beyond the budget', ru(1), 'a:n b:u c d', [], ['b']],
    ['a node still waiting for its pod counts as unavailable', ru(1), 'b c d', [], []],
    ['done', ru(1), 'a:n b:n c:n d:n', [], []],
    ['both zero: one unavailable', ru(0, 0), 'a b c d', [], ['a']],
    ['surge one: a new pod beside an old one', ru(0, 1), 'a b c d', ['a'], []],
    ['surge: the surged node waits', ru(0, 1), 'a a:nu b c d', [], []],
    ['surge: available new pod: the old goes and the next node surges', ru(0, 1), 'a a:n b c d', ['b'], ['a']],
    ['surge: an unavailable old pod gets its new pod at once', ru(0, 1), 'a b:u c d', ['a', 'b'], []],
  ];
  for (const [what, d, pods, create, remove] of cases) {
    const plan = rollingUpdate({ ds: d, nodes, pods: P(pods), hash: 'new', now: T0 });
    assert.deepEqual(plan.create.sort(), create, `${what}: create`);
    assert.deepEqual(names(plan.remove).map((n) => n.replace('+', '')), remove, `${what}: remove`);
  }
  assert.deepEqual(surgeAndUnavailable(ru('50%', '10%'), 5), { maxSurge: 1, maxUnavailable: 3 });
  // planDaemonSet: manage first; the update only when manage has nothing to do; never for OnDelete.
  assert.deepEqual(planDaemonSet({ ds: ru(1), nodes, pods: P('a b c'), hash: 'new', now: T0 }).create, ['d']);
  assert.deepEqual(planDaemonSet({ ds: ru(1), nodes, pods: P('a b c'), hash: 'new', now: T0 }).remove, []);
  assert.deepEqual(planDaemonSet({ ds: ds({ type: 'OnDelete' }), nodes, pods: P('a b c d'), hash: 'new', now: T0 }).remove, []);
});

test('DaemonSet status', () => {
  const nodes = [node('a'), node('b'), node('c', { x: 'y' }), node('e', {}, [{ key: 'k', effect: 'NoSchedule' }])];
  const d = ds(undefined, { nodeSelector: { x: 'y' } });
  const all = ds();
  const P = (s: string) => s.split(' ').map((x) => { const [n, f] = x.split(':'); return pod(n, f); });
  const cases: [string, KObject, string, Record<string, number>][] = [
    ['all nodes', all, 'a:n b:nu e', { desiredNumberScheduled: 3, currentNumberScheduled: 2, numberReady: 1, numberAvailable: 1, updatedNumberScheduled: 2, numberMisscheduled: 1, numberUnavailable: 2 }],
    ['selector: a and b misscheduled', d, 'a b c:n', { desiredNumberScheduled: 1, currentNumberScheduled: 1, numberMisscheduled: 2, updatedNumberScheduled: 1, numberReady: 1 }],
    ['pods of vanished nodes do not count', all, 'a:n b:n zz', { desiredNumberScheduled: 3, currentNumberScheduled: 2, numberMisscheduled: 0 }],
  ];
  for (const [what, s, pods, want] of cases) {
    const st = daemonSetStatus(s, nodes, P(pods), 'new', T0);
    for (const [k, v] of Object.entries(want)) assert.equal(st[k], v, `${what}: ${k}`);
  }
});
