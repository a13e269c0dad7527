import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeOrLatest, maxScaleDown, newReplicasForRollingUpdate, proportionalScale, resolveIntOrPercent, surgeAndUnavailable } from './rolling.js';

test('maxSurge rounds up, maxUnavailable down; both zero means one unavailable; Recreate has neither', () => {
  const d = (ru: any, replicas: number, type = 'RollingUpdate') => ({ spec: { replicas, strategy: { type, rollingUpdate: ru } } });
  const cases: { name: string; ru: any; replicas: number; type?: string; want: { surge: number; unavailable: number } }[] = [
    { name: 'defaults 25%/25% of 10', ru: undefined, replicas: 10, want: { surge: 3, unavailable: 2 } },
    { name: 'defaults of 1', ru: undefined, replicas: 1, want: { surge: 1, unavailable: 0 } },
    { name: 'defaults of 4', ru: undefined, replicas: 4, want: { surge: 1, unavailable: 1 } },
    { name: 'ints', ru: { maxSurge: 1, maxUnavailable: 0 }, replicas: 10, want: { surge: 1, unavailable: 0 } },
    { name: 'both zero', ru: { maxSurge: 0, maxUnavailable: 0 }, replicas: 10, want: { surge: 0, unavailable: 1 } },
    { name: 'both 0%', ru: { maxSurge: '0%', maxUnavailable: '0%' }, replicas: 3, want: { surge: 0, unavailable: 1 } },
    { name: 'percent rounding', ru: { maxSurge: '50%', maxUnavailable: '10%' }, replicas: 3, want: { surge: 2, unavailable: 0 } },
    { name: 'percent rounding 2', ru: { maxSurge: '34%', maxUnavailable: '34%' }, replicas: 3, want: { surge: 2, unavailable: 1 } },
    { name: '100% unavailable', ru: { maxSurge: 0, maxUnavailable: '100%' }, replicas: 5, want: { surge: 0, unavailable: 5 } },
    { name: 'unavailable capped at replicas', ru: { maxUnavailable: 20 }, replicas: 3, want: { surge: 1, unavailable: 3 } },
    { name: 'zero replicas', ru: { maxSurge: 0, maxUnavailable: 0 }, replicas: 0, want: { surge: 0, unavailable: 0 } },
    { name: 'Recreate', ru: { maxSurge: 5, maxUnavailable: 5 }, replicas: 4, type: 'Recreate', want: { surge: 0, unavailable: 0 } },
  ];
  for (const c of cases) assert.deepEqual(surgeAndUnavailable(d(c.ru, c.replicas, c.type)), c.want, c.name);
  assert.equal(resolveIntOrPercent('33%', 10, true, '0'), 4);
  assert.equal(resolveIntOrPercent('33%', 10, false, '0'), 3);
  assert.equal(resolveIntOrPercent(undefined, 8, true, '25%'), 2);
});

test('how far the new ReplicaSet grows', () => {
  const cases: [replicas: number, surge: number, newRs: number, total: number, want: number, why: string][] = [
    [4, 1, 0, 4, 1, 'room for one above 4'],
    [4, 1, 1, 5, 1, 'at the surge ceiling'],
    [4, 1, 3, 4, 4, 'never past replicas'],
    [10, 3, 0, 10, 3, 'surge 3'],
    [10, 3, 0, 14, 0, 'over the ceiling already (old ones not yet scaled down)'],
    [3, 0, 0, 3, 0, 'no surge: wait for the old ones to shrink'],
    [3, 0, 1, 2, 2, 'no surge: fill what was freed'],
    [5, 5, 0, 5, 5, '100% surge: all at once'],
  ];
  for (const [replicas, surge, newRs, total, want, why] of cases) assert.equal(newReplicasForRollingUpdate(replicas, surge, newRs, total), want, why);
});

test('how far old ReplicaSets shrink', () => {
  const cases: [replicas: number, unavailable: number, total: number, newRs: number, newAvail: number, want: number, why: string][] = [
    [4, 1, 5, 1, 0, 1, 'one may go: 5 - 3 - 1 unready new'],
    [4, 0, 5, 1, 0, 0, 'maxUnavailable 0 and the new pod not ready'],
    [4, 0, 5, 1, 1, 1, 'maxUnavailable 0 and the new pod available'],
    [10, 2, 13, 3, 3, 5, '13 - 8 - 0'],
    [10, 2, 13, 3, 0, 2, 'unready new pods are not counted on'],
  ];
  for (const [replicas, unavailable, total, newRs, newAvail, want, why] of cases) assert.equal(maxScaleDown(replicas, unavailable, total, newRs, newAvail), want, why);
});

test('proportional scaling as Kubernetes\' scale(): shares by size against max-replicas, largest first, leftovers to the first', () => {
  // Sets are [replicas, max-replicas annotation, created]; a larger `created` is newer.
  const cases: { name: string; sets: [number, number | undefined, number][]; replicas: number; surge: number; statusReplicas?: number; want: number[] }[] = [
    { name: '5 -> 10', sets: [[2, 5, 2], [3, 5, 1]], replicas: 10, surge: 0, want: [4, 6] },
    { name: '5 -> 3', sets: [[2, 5, 2], [3, 5, 1]], replicas: 3, surge: 0, want: [1, 2] },
    { name: '9 -> 4', sets: [[8, 9, 2], [1, 9, 1]], replicas: 4, surge: 0, want: [4, 0] },
    { name: '7 -> 10', sets: [[2, 7, 3], [3, 7, 1], [2, 7, 2]], replicas: 10, surge: 0, want: [3, 4, 3] },
    { name: '13 -> 8', sets: [[2, 13, 3], [8, 13, 1], [3, 13, 2]], replicas: 8, surge: 0, want: [1, 5, 2] },
    { name: 'leftover up goes to the newest of equals', sets: [[1, 3, 3], [1, 3, 2], [1, 3, 1]], replicas: 4, surge: 0, want: [2, 1, 1] },
    { name: 'leftover down comes from the largest', sets: [[1, 4, 3], [1, 4, 1], [2, 4, 2]], replicas: 3, surge: 0, want: [1, 1, 1] },
    { name: 'to zero', sets: [[3, 6, 2], [3, 6, 1]], replicas: 0, surge: 0, want: [0, 0] },
    { name: 'with surge: 10 (+3) -> 20 (+5)', sets: [[6, 13, 2], [7, 13, 1]], replicas: 20, surge: 5, want: [12, 13] },
    { name: 'no annotation: against status.replicas', sets: [[2, undefined, 2], [2, undefined, 1]], replicas: 8, surge: 0, statusReplicas: 4, want: [4, 4] },
    { name: 'nothing to do', sets: [[2, 4, 2], [2, 4, 1]], replicas: 4, surge: 0, want: [2, 2] },
  ];
  for (const c of cases) {
    const sets = c.sets.map(([replicas, maxReplicas, created], i) => ({ replicas, maxReplicas, created, name: `rs-${i}` }));
    const got = proportionalScale(sets, c.replicas, c.surge, c.statusReplicas ?? 0);
    assert.deepEqual(got, c.want, c.name);
    if (c.replicas > 0) assert.equal(got.reduce((a, b) => a + b, 0), c.replicas + c.surge, `${c.name}: sums to replicas + surge`);
  }
});

test('a plain resize goes to the only active ReplicaSet, else the new one, else the newest old one', () => {
  const rs = (replicas: number, created: number) => ({ replicas, created });
  const cases: { name: string; newRs?: { replicas: number; created: number }; olds: { replicas: number; created: number }[]; want: number | undefined }[] = [
    { name: 'only the new one active', newRs: rs(3, 3), olds: [rs(0, 1)], want: 0 },
    { name: 'only an old one active', newRs: rs(0, 3), olds: [rs(0, 1), rs(2, 2)], want: 2 },
    { name: 'none active: the new one', newRs: rs(0, 3), olds: [rs(0, 1)], want: 0 },
    { name: 'none active, no new one: the newest old', olds: [rs(0, 1), rs(0, 5), rs(0, 2)], want: 1 },
    { name: 'several active: none (proportional)', newRs: rs(1, 3), olds: [rs(2, 1)], want: undefined },
  ];
  for (const c of cases) {
    const all = [...(c.newRs ? [c.newRs] : []), ...c.olds];
    const got = activeOrLatest(c.newRs, c.olds);
    assert.equal(got === undefined ? undefined : all.indexOf(got), c.want, c.name);
  }
});
