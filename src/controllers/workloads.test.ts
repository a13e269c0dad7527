import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ordinalOf } from './statefulset/statefulset.js';
import { daemonTolerations, nodeEligible, nodeOfPod } from './daemonset/daemonset.js';
import { revisionData, templateOf } from './history.js';

test('StatefulSet ordinals from pod names', () => {
  const cases: [string, string, number][] = [['web', 'web-0', 0], ['web', 'web-12', 12], ['web', 'web-x', -1], ['web', 'webby-1', -1], ['a.b', 'a.b-3', 3], ['a.b', 'axb-3', -1]];
  for (const [sts, pod, want] of cases) assert.equal(ordinalOf(sts, pod), want, `${sts} ${pod}`);
});

test('DaemonSet node eligibility: selector, affinity, taints against the daemon tolerations', () => {
  const node = (labels: any = {}, taints: any[] = [], deleting = false) => ({ metadata: { name: 'n', labels, ...(deleting ? { deletionTimestamp: 'x' } : {}) }, spec: { taints } });
  const tmpl = (spec: any = {}) => ({ spec: { containers: [], ...spec } });
  const cases: [string, any, any, boolean][] = [
    ['plain node', tmpl(), node(), true],
    ['selector matches', tmpl({ nodeSelector: { role: 'w' } }), node({ role: 'w' }), true],
    ['selector misses', tmpl({ nodeSelector: { role: 'w' } }), node(), false],
    ['NoSchedule taint', tmpl(), node({}, [{ key: 'gpu', effect: 'NoSchedule' }]), false],
    ['tolerated taint', tmpl({ tolerations: [{ key: 'gpu', operator: 'Exists' }] }), node({}, [{ key: 'gpu', effect: 'NoSchedule' }]), true],
    ['unreachable node: daemon pods tolerate it', tmpl(), node({}, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }]), true],
    ['cordoned node: daemon pods tolerate it', tmpl(), node({}, [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]), true],
    ['node being deleted', tmpl(), node({}, [], true), false],
  ];
  for (const [what, t, n, want] of cases) assert.equal(nodeEligible(t, n), want, what);
  assert.equal(daemonTolerations({ spec: { tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }] } }).filter((t) => t.key === 'node.kubernetes.io/not-ready').length, 1, 'own tolerations are kept, not doubled');
  assert.equal(nodeOfPod({ metadata: {}, spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }] } } } } }), 'n7');
});

test('ControllerRevision data round-trips a template as kubectl rollout undo applies it', () => {
  const owner = { metadata: { name: 'x' }, spec: { template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } };
  const data = revisionData(owner);
  assert.equal(data.spec.template.$patch, 'replace');
  assert.deepEqual(templateOf({ metadata: {}, data }), owner.spec.template);
});
