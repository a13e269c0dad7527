import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareForDeletion, deletionCost, logBucket, podsToDelete, DELETION_COST } from './ranking.js';
import { replicaSetStatus } from './status.js';
import { slowStartBatches } from './replicaset.js';
import { rfc3339 } from '../runtime/clock.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const ago = (s: number) => rfc3339(NOW - s * 1000);

interface PodOpts { node?: string; phase?: string; ready?: boolean; readyAgo?: number; createdAgo?: number; restarts?: number; cost?: string; uid?: string; labels?: Record<string, string> }
const pod = (name: string, o: PodOpts = {}) => ({
  metadata: { name, uid: o.uid ?? name, creationTimestamp: ago(o.createdAgo ?? 100), labels: o.labels ?? { app: 'web' }, ...(o.cost !== undefined ? { annotations: { [DELETION_COST]: o.cost } } : {}) },
  spec: { nodeName: o.node ?? 'n1' },
  status: {
    phase: o.phase ?? 'Running',
    conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: ago(o.readyAgo ?? 50) }],
    containerStatuses: [{ name: 'c', restartCount: o.restarts ?? 0 }],
  },
});

test('slow start: batches of 1, 2, 4, ... up to what is left', () => {
  const cases: [number, number[]][] = [[0, []], [1, [1]], [2, [1, 1]], [3, [1, 2]], [10, [1, 2, 4, 3]], [15, [1, 2, 4, 8]], [500, [1, 2, 4, 8, 16, 32, 64, 128, 245]]];
  for (const [n, want] of cases) assert.deepEqual(slowStartBatches(n), want, `n=${n}`);
});

test('deletion order, rule by rule, as ActivePodsWithRanks', () => {
  // [a, rank a, b, rank b, which goes first, why]
  const cases: [any, number, any, number, 'a' | 'b', string][] = [
    [pod('a', { node: '' }), 0, pod('b'), 0, 'a', 'unscheduled before scheduled'],
    [pod('a', { phase: 'Running' }), 0, pod('b', { phase: 'Pending' }), 0, 'b', 'Pending before Running'],
    [pod('a', { phase: 'Unknown' }), 0, pod('b', { phase: 'Running' }), 0, 'a', 'Unknown before Running'],
    [pod('a'), 0, pod('b', { ready: false }), 0, 'b', 'not ready before ready'],
    [pod('a', { cost: '10' }), 0, pod('b', { cost: '-5' }), 0, 'b', 'lower deletion cost first'],
    [pod('a', { cost: '1' }), 0, pod('b'), 5, 'b', 'deletion cost before doubling up'],
    [pod('a', { cost: 'junk' }), 1, pod('b'), 2, 'b', 'an invalid cost counts as 0'],
    [pod('a'), 1, pod('b'), 3, 'b', 'doubled up on a node first'],
    [pod('a', { readyAgo: 3600 }), 1, pod('b', { readyAgo: 10 }), 1, 'b', 'ready for less time first'],
    [pod('a', { readyAgo: 40, uid: 'z' }), 1, pod('b', { readyAgo: 50, uid: 'y', restarts: 9 }), 1, 'b', 'ready times in the same log2 bucket: by uid, restarts not looked at'],
    [pod('a', { restarts: 1 }), 1, pod('b', { restarts: 4 }), 1, 'b', 'more restarts first'],
    [pod('a', { createdAgo: 7200 }), 1, pod('b', { createdAgo: 60 }), 1, 'b', 'newer first'],
    [pod('a', { createdAgo: 70, uid: 'b' }), 1, pod('b', { createdAgo: 100, uid: 'a' }), 1, 'b', 'created in the same log2 bucket: by uid'],
  ];
  for (const [a, ra, b, rb, first, why] of cases) {
    const ab = compareForDeletion({ pod: a, rank: ra }, { pod: b, rank: rb }, NOW);
    const ba = compareForDeletion({ pod: b, rank: rb }, { pod: a, rank: ra }, NOW);
    assert.ok(first === 'a' ? ab < 0 && ba > 0 : ab > 0 && ba < 0, why);
  }
  assert.equal(deletionCost(pod('x', { cost: '99999999999' })), 0, 'out of int32 range');
  assert.ok(logBucket(NOW - 1000, NOW) > logBucket(NOW - 10, NOW));
  assert.equal(logBucket(NOW + 5, NOW), -1, 'in the future');
});

test('which pods a scale-down picks: unhealthy first, then the most crowded node', () => {
  const pods = [
    pod('n1-a', { node: 'n1', readyAgo: 5000 }), pod('n1-b', { node: 'n1', readyAgo: 5000 }), pod('n1-c', { node: 'n1', readyAgo: 5000 }),
    pod('n2-a', { node: 'n2', readyAgo: 5000 }),
    pod('n3-pending', { node: 'n3', phase: 'Pending', ready: false }),
    pod('unscheduled', { node: '', phase: 'Pending', ready: false }),
  ];
  const names = (n: number, related: any[]) => podsToDelete(pods, related, n, NOW).map((p) => p.metadata.name);
  assert.deepEqual(names(2, pods), ['unscheduled', 'n3-pending']);
  assert.equal(names(3, pods)[2]!.slice(0, 3), 'n1-', 'the node with three pods gives one up first');
  // Pods of a sibling ReplicaSet (same Deployment) crowd n2: four there now.
  const siblings = [1, 2, 3].map((i) => pod(`s${i}`, { node: 'n2' }));
  assert.equal(names(3, [...pods, ...siblings])[2], 'n2-a');
  const finished = [1, 2, 3].map((i) => pod(`f${i}`, { node: 'n2', phase: 'Succeeded' }));
  assert.equal(names(3, [...pods, ...finished])[2]!.slice(0, 3), 'n1-', 'finished pods do not crowd a node');
  assert.equal(podsToDelete(pods, pods, 10, NOW).length, pods.length);
  const onlyN2 = [pod('n2-x', { node: 'n2', readyAgo: 5000 }), pod('n1-x', { node: 'n1', readyAgo: 5000 })];
  assert.deepEqual(podsToDelete(onlyN2, [...onlyN2, pod('s1', { node: 'n2' })], 1, NOW).map((p) => p.metadata.name), ['n2-x'], 'the doubled-up node loses a pod');
});

test('ReplicaSet status: counts, availability after minReadySeconds, ReplicaFailure while creates fail', () => {
  const rs = (o: any = {}) => ({ metadata: { name: 'web-1', generation: 3 }, spec: { replicas: o.replicas ?? 3, minReadySeconds: o.minReady ?? 0, template: { metadata: { labels: { app: 'web', tier: 'fe' } } } }, status: o.status ?? {} });
  const full = { app: 'web', tier: 'fe' };
  const pods = [pod('a', { labels: full, readyAgo: 100 }), pod('b', { labels: full, readyAgo: 5 }), pod('c', { labels: { app: 'web' }, ready: false })];
  let r = replicaSetStatus(rs(), pods, NOW);
  assert.deepEqual(r.status, { replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 3 });
  assert.equal(r.requeueAfterMs, undefined);
  r = replicaSetStatus(rs({ minReady: 30 }), pods, NOW);
  assert.equal(r.status.availableReplicas, 1, 'b has been ready 5 s of 30');
  assert.equal(r.requeueAfterMs, 26_000, 'looked at again when b becomes available');
  r = replicaSetStatus(rs({ replicas: 5 }), pods, NOW, { message: 'pods "web-1-x" is forbidden: exceeded quota' });
  assert.deepEqual(r.status.conditions, [{ type: 'ReplicaFailure', status: 'True', lastTransitionTime: rfc3339(NOW), reason: 'FailedCreate', message: 'pods "web-1-x" is forbidden: exceeded quota' }]);
  const failing = r.status;
  r = replicaSetStatus(rs({ replicas: 5, status: failing }), pods, NOW + 5000, { message: 'again' });
  assert.deepEqual(r.status.conditions, failing.conditions, 'an existing failure is kept as it was');
  r = replicaSetStatus(rs({ replicas: 1 }), pods, NOW, { message: 'cannot delete' });
  assert.equal(r.status.conditions[0].reason, 'FailedDelete');
  r = replicaSetStatus(rs({ status: failing }), pods, NOW);
  assert.equal(r.status.conditions, undefined, 'cleared once managing replicas works again');
  assert.deepEqual(replicaSetStatus(rs(), [], NOW).status, { replicas: 0, observedGeneration: 3 }, 'zero counts omitted');
});
