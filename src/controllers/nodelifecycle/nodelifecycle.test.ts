import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredTaints, evictionTime, TAINT } from './nodelifecycle.js';

const node = (ready: string | undefined, extra: any = {}) => ({
  metadata: { name: 'n' },
  spec: { ...extra },
  status: { conditions: ready ? [{ type: 'Ready', status: ready }] : [] },
});
const keys = (ts: any[]) => ts.map((t) => `${t.key}:${t.effect}`).sort();

test('taints follow the Ready condition and spec.unschedulable', () => {
  const cases: [string, any, string[]][] = [
    ['ready node: none', node('True'), []],
    ['Unknown: unreachable, both effects', node('Unknown'), [`${TAINT.unreachable}:NoExecute`, `${TAINT.unreachable}:NoSchedule`]],
    ['False: not-ready, both effects', node('False'), [`${TAINT.notReady}:NoExecute`, `${TAINT.notReady}:NoSchedule`]],
    ['cordoned', node('True', { unschedulable: true }), [`${TAINT.unschedulable}:NoSchedule`]],
    ['a user taint is kept', node('True', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] }), ['dedicated:NoSchedule']],
    ['recovered: managed taints go, others stay', node('True', { taints: [{ key: TAINT.unreachable, effect: 'NoExecute' }, { key: 'a', effect: 'NoExecute' }] }), ['a:NoExecute']],
    ['Unknown replaces not-ready', node('Unknown', { taints: [{ key: TAINT.notReady, effect: 'NoExecute' }] }), [`${TAINT.unreachable}:NoExecute`, `${TAINT.unreachable}:NoSchedule`]],
  ];
  for (const [what, n, want] of cases) assert.deepEqual(keys(desiredTaints(n as any, '2026-01-01T00:00:00Z')), want, what);
});

test('a NoExecute taint keeps its timeAdded; a new one gets now', () => {
  const kept = desiredTaints(node('Unknown', { taints: [{ key: TAINT.unreachable, effect: 'NoExecute', timeAdded: '2025-01-01T00:00:00Z' }] }) as any, '2026-01-01T00:00:00Z');
  assert.equal(kept.find((t) => t.effect === 'NoExecute').timeAdded, '2025-01-01T00:00:00Z');
  const fresh = desiredTaints(node('Unknown') as any, '2026-01-01T00:00:00Z');
  assert.equal(fresh.find((t) => t.effect === 'NoExecute').timeAdded, '2026-01-01T00:00:00Z');
  assert.equal(fresh.find((t) => t.effect === 'NoSchedule').timeAdded, undefined, 'NoSchedule taints carry no time');
});

test('when a pod must leave a node with NoExecute taints', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const unreachable = [{ key: TAINT.unreachable, effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' }];
  const pod = (tolerations?: any[]) => ({ metadata: { name: 'p' }, spec: { tolerations } });
  const tol = (extra: any = {}) => ({ key: TAINT.unreachable, operator: 'Exists', effect: 'NoExecute', ...extra });
  const cases: [string, any, any[], number | undefined][] = [
    ['no toleration: now', pod(), unreachable, t0 + 5000],
    ['tolerated for 300 s from the taint', pod([tol({ tolerationSeconds: 300 })]), unreachable, t0 + 300_000],
    ['tolerated forever', pod([tol()]), unreachable, undefined],
    ['a wildcard toleration (Exists, no key)', pod([{ operator: 'Exists' }]), unreachable, undefined],
    ['tolerationSeconds 0 or less: now', pod([tol({ tolerationSeconds: -5 })]), unreachable, t0],
    ['a toleration of another key does not help', pod([{ key: TAINT.notReady, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }]), unreachable, t0 + 5000],
    ['a NoSchedule toleration does not help', pod([tol({ effect: 'NoSchedule' })]), unreachable, t0 + 5000],
    ['two taints: the earliest deadline wins', pod([tol({ tolerationSeconds: 60 }), { key: 'other', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }]),
      [...unreachable, { key: 'other', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:10Z' }], t0 + 40_000],
  ];
  cases.push(
    ['the first matching toleration counts: 30 s before a forever', pod([tol({ tolerationSeconds: 30 }), tol()]), unreachable, t0 + 30_000],
    ['the first matching toleration counts: forever before 30 s', pod([tol(), tol({ tolerationSeconds: 30 })]), unreachable, undefined],
  );
  for (const [what, p, taints, want] of cases) assert.equal(evictionTime(p as any, taints, t0 + 5000), want, what);
});
