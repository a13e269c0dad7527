import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budget, scaled } from './disruption/disruption.js';
import { desiredTaints, evictionTime } from './nodelifecycle/nodelifecycle.js';
import { usage, formatUsage } from '../core/quota.js';

test('disruption budgets: minAvailable and maxUnavailable, ints and percentages (rounded up)', () => {
  const cases: [any, number, number, { desiredHealthy: number; expectedPods: number }][] = [
    [{ minAvailable: 2 }, 3, 5, { desiredHealthy: 2, expectedPods: 3 }],
    [{ minAvailable: '50%' }, 3, 5, { desiredHealthy: 3, expectedPods: 5 }],
    [{ maxUnavailable: 1 }, 3, 5, { desiredHealthy: 4, expectedPods: 5 }],
    [{ maxUnavailable: '30%' }, 3, 5, { desiredHealthy: 3, expectedPods: 5 }],
  ];
  for (const [spec, selected, expected, want] of cases) assert.deepEqual(budget(spec, selected, expected), want, JSON.stringify(spec));
  assert.equal(scaled('10%', 5), 1);
});

test('node taints follow Ready and cordoning; NoExecute eviction times follow tolerations', () => {
  const node = (ready: string, unschedulable = false, taints: any[] = []) => ({ metadata: {}, spec: { unschedulable, taints }, status: { conditions: [{ type: 'Ready', status: ready }] } });
  const keys = (n: any) => desiredTaints(n, 'T').map((t) => `${t.key}:${t.effect}`);
  assert.deepEqual(keys(node('True')), []);
  assert.deepEqual(keys(node('Unknown')), ['node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute']);
  assert.deepEqual(keys(node('False', true, [{ key: 'mine', effect: 'NoSchedule' }])), ['mine:NoSchedule', 'node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/unschedulable:NoSchedule']);
  const taint = [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' }];
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const pod = (tolerations: any[]) => ({ metadata: {}, spec: { tolerations } });
  assert.equal(evictionTime(pod([]), taint, t0 + 5), t0 + 5, 'not tolerated: now');
  assert.equal(evictionTime(pod([{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }]), taint, t0), t0 + 30_000);
  assert.equal(evictionTime(pod([{ operator: 'Exists' }]), taint, t0), undefined, 'tolerated forever');
});

test('quota usage per resource, as admission and the controller count it', () => {
  const pods = { resource: 'pods', group: '' };
  const p = { metadata: {}, spec: { containers: [{ resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1' } } }, { resources: { requests: { cpu: '250m' } } }] } };
  assert.equal(usage('pods', pods, p), 1);
  assert.equal(usage('count/pods', pods, p), 1);
  assert.equal(usage('requests.cpu', pods, p), 0.5);
  assert.equal(usage('cpu', pods, p), 0.5);
  assert.equal(usage('limits.cpu', pods, p), 1);
  assert.equal(usage('requests.memory', pods, p), 64 * 2 ** 20);
  assert.equal(usage('pods', pods, { ...p, status: { phase: 'Succeeded' } }), 0, 'finished pods use nothing');
  assert.equal(usage('count/deployments.apps', { resource: 'deployments', group: 'apps' }, {}), 1);
  assert.equal(usage('services', pods, p), undefined);
  assert.equal(usage('services.nodeports', { resource: 'services', group: '' }, { spec: { type: 'NodePort', ports: [{}, {}] } }), 2);
  assert.deepEqual(['requests.cpu', 'requests.memory', 'pods'].map((n, i) => formatUsage(n, [0.4, 128 * 2 ** 20, 2][i])), ['400m', '128Mi', '2']);
});
