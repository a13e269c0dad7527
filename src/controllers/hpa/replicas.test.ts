import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replicasForUtilization, stabilize } from './replicas.js';

const pods = (...u: (number | undefined)[]) => u.map((usage) => ({ usage, request: 100, ready: true }));

test('replicas from utilization, as Kubernetes\' replica calculator', () => {
  const cases: [string, number, ReturnType<typeof pods>, number, number][] = [
    ['at target', 2, pods(50, 50), 50, 2],
    ['within 10% tolerance', 2, pods(54, 54), 50, 2],
    ['double the target', 2, pods(100, 100), 50, 4],
    ['half the target', 4, pods(25, 25, 25, 25), 50, 2],
    ['rounds up', 3, pods(60, 60, 60), 50, 4],
    ['a missing pod counts as 0% when scaling up', 2, pods(100, undefined), 50, 2],
    ['a missing pod counts as 100% when scaling down', 2, pods(10, undefined), 50, 2],
  ];
  for (const [what, cur, ps, target, want] of cases) assert.equal(replicasForUtilization(cur, ps, target)?.replicas, want, what);
  assert.equal(replicasForUtilization(2, pods(undefined, undefined), 50), undefined, 'no metrics at all');
  assert.equal(replicasForUtilization(2, pods(80, 40), 50)?.utilization, 60);
});

test('min/max clamp and the scale-down stabilization window', () => {
  assert.deepEqual(stabilize(0, 1, 5, [], 0, 300_000), { replicas: 1, limited: 'TooFewReplicas' });
  assert.deepEqual(stabilize(9, 1, 5, [], 0, 300_000), { replicas: 5, limited: 'TooManyReplicas' });
  const hist = [{ at: 0, replicas: 4 }, { at: 100_000, replicas: 3 }];
  assert.equal(stabilize(1, 1, 5, hist, 200_000, 300_000).replicas, 4, 'scale down only to the highest recent recommendation');
  assert.equal(stabilize(1, 1, 5, hist, 350_000, 300_000).replicas, 3, 'older recommendations age out');
  assert.equal(stabilize(5, 1, 5, hist, 200_000, 300_000).replicas, 5, 'scale up is immediate');
});
