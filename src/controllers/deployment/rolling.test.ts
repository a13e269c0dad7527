import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxScaleDown, newReplicasForRollingUpdate, proportionalShares, resolveIntOrPercent, surgeAndUnavailable } from './rolling.js';
import { comparable } from './deployment.js';
import { deploymentStatus } from './status.js';

test('maxSurge rounds up, maxUnavailable down; both zero means one unavailable', () => {
  const d = (ru: any, replicas = 10, type = 'RollingUpdate') => ({ spec: { replicas, strategy: { type, rollingUpdate: ru } } });
  const cases: [any, number, { surge: number; unavailable: number }][] = [
    [undefined, 10, { surge: 3, unavailable: 2 }], // 25% of 10: surge ceil 2.5=3, unavailable floor 2.5=2
    [{ maxSurge: 1, maxUnavailable: 0 }, 10, { surge: 1, unavailable: 0 }],
    [{ maxSurge: 0, maxUnavailable: 0 }, 10, { surge: 0, unavailable: 1 }],
    [{ maxSurge: '50%', maxUnavailable: '10%' }, 3, { surge: 2, unavailable: 0 }],
    [{ maxUnavailable: 20 }, 3, { surge: 1, unavailable: 3 }],
  ];
  for (const [ru, replicas, want] of cases) assert.deepEqual(surgeAndUnavailable(d(ru, replicas)), want, JSON.stringify(ru));
  assert.deepEqual(surgeAndUnavailable(d(undefined, 4, 'Recreate')), { surge: 0, unavailable: 0 });
  assert.equal(resolveIntOrPercent('33%', 10, true, '0'), 4);
});

test('how far the new ReplicaSet grows and the old ones shrink', () => {
  // replicas 4, surge 1: total may reach 5.
  assert.equal(newReplicasForRollingUpdate(4, 1, 0, 4), 1);
  assert.equal(newReplicasForRollingUpdate(4, 1, 1, 5), 1, 'at the surge ceiling');
  assert.equal(newReplicasForRollingUpdate(4, 1, 3, 4), 4);
  // replicas 4, maxUnavailable 1, total 5, new RS 1 replica not yet available: 5 - 3 - 1 = 1 old may go.
  assert.equal(maxScaleDown(4, 1, 5, 1, 0), 1);
  assert.equal(maxScaleDown(4, 0, 5, 1, 0), 0);
});

test('proportional scaling spreads a change over ReplicaSets by size, leftovers to the first', () => {
  assert.deepEqual(proportionalShares([6, 4], 5), [3, 2]);
  assert.deepEqual(proportionalShares([6, 4], -5), [-3, -2]);
  assert.deepEqual(proportionalShares([1, 1, 1], 2).reduce((a, b) => a + b, 0), 2);
  assert.deepEqual(proportionalShares([2, 0], -3), [-2, 0], 'never below zero');
});

test('templates compare as Kubernetes\' semantic equality does', () => {
  const a = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i', resources: {} }] } };
  const b = { metadata: { creationTimestamp: null, labels: { app: 'x', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
  assert.equal(comparable(a), comparable(b));
  assert.notEqual(comparable(a), comparable({ ...b, spec: { containers: [{ name: 'c', image: 'j' }] } }));
});

test('status: Available and Progressing conditions with Kubernetes\' reasons', () => {
  const d = { metadata: { generation: 2 }, spec: { replicas: 2, progressDeadlineSeconds: 10 }, status: {} as any };
  const rs = (replicas: number, available: number) => ({ metadata: { name: 'web-1' }, spec: { replicas }, status: { replicas, readyReplicas: available, availableReplicas: available } });
  let r = deploymentStatus(d, rs(2, 0), [], 0, 0, { reason: 'NewReplicaSetCreated', message: 'Created new replica set "web-1"' });
  assert.equal(r.status.conditions[0].reason, 'MinimumReplicasUnavailable');
  assert.equal(r.status.conditions[1].reason, 'NewReplicaSetCreated');
  d.status = r.status;
  r = deploymentStatus(d, rs(2, 0), [], 0, 11_000);
  assert.equal(r.status.conditions[1].reason, 'ProgressDeadlineExceeded', 'no progress for longer than the deadline');
  d.status = r.status;
  r = deploymentStatus(d, rs(2, 2), [], 0, 12_000);
  assert.deepEqual(r.status.conditions.map((c: any) => c.reason), ['MinimumReplicasAvailable', 'NewReplicaSetAvailable']);
  assert.equal(r.status.observedGeneration, 2);
});
