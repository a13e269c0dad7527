import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calculateStatus, deploymentComplete, pausedConditions, rolloutStatus } from './status.js';
import { rfc3339 } from '../runtime/clock.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const at = (s: number) => T0 + s * 1000;
const rs = (name: string, spec: number, replicas: number, ready: number, available: number, conditions?: any[]) =>
  ({ metadata: { name }, spec: { replicas: spec }, status: { replicas, readyReplicas: ready, availableReplicas: available, ...(conditions ? { conditions } : {}) } });
const deploy = (status: any = {}, spec: any = {}) => ({ metadata: { name: 'web', generation: 2 }, spec: { replicas: 3, progressDeadlineSeconds: 60, ...spec }, status });
const progressing = (reason: string, status = 'True', updated = 0, transition = 0) => ({ type: 'Progressing', status, reason, message: '', lastUpdateTime: rfc3339(at(updated)), lastTransitionTime: rfc3339(at(transition)) });
const cond = (st: any, type: string) => st.conditions.find((c: any) => c.type === type);

test('counts over all ReplicaSets; Available against replicas - maxUnavailable', () => {
  const cases: { name: string; newRs: any; olds: any[]; unavailable: number; want: any; available: string }[] = [
    { name: 'mid rollout', newRs: rs('n', 2, 2, 1, 1), olds: [rs('o', 2, 2, 2, 2)], unavailable: 1,
      want: { replicas: 4, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 1 }, available: 'MinimumReplicasAvailable' },
    { name: 'below the minimum', newRs: rs('n', 3, 3, 1, 1), olds: [], unavailable: 1,
      want: { replicas: 3, updatedReplicas: 3, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 2 }, available: 'MinimumReplicasUnavailable' },
    { name: 'more available than asked: no negative unavailable', newRs: rs('n', 3, 4, 4, 4), olds: [], unavailable: 0,
      want: { replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4, unavailableReplicas: 0 }, available: 'MinimumReplicasAvailable' },
  ];
  for (const c of cases) {
    const st = calculateStatus(deploy({ collisionCount: 1 }), c.newRs, c.olds, c.unavailable, at(0));
    const { conditions, observedGeneration, collisionCount, ...counts } = st;
    assert.deepEqual(counts, c.want, c.name);
    assert.equal(observedGeneration, 2);
    assert.equal(collisionCount, 1);
    assert.equal(cond(st, 'Available').reason, c.available, c.name);
  }
});

test('Progressing: created, progressing, complete, stuck past the deadline', () => {
  type Case = { name: string; prev: any; newRs: any; olds?: any[]; now: number; want: { reason: string; status: string; updated?: number; transition?: number }; spec?: any };
  const cases: Case[] = [
    { name: 'new ReplicaSet created, no pods yet: keeps NewReplicaSetCreated', prev: { conditions: [progressing('NewReplicaSetCreated')] }, newRs: rs('n', 3, 0, 0, 0), now: 10,
      want: { reason: 'NewReplicaSetCreated', status: 'True', updated: 0 } },
    { name: 'more updated pods: ReplicaSetUpdated, transition time kept', prev: { conditions: [progressing('NewReplicaSetCreated', 'True', 0, 0)] }, newRs: rs('n', 3, 2, 0, 0), now: 10,
      want: { reason: 'ReplicaSetUpdated', status: 'True', updated: 10, transition: 0 } },
    { name: 'fewer old pods is progress too', prev: { replicas: 4, updatedReplicas: 1, conditions: [progressing('ReplicaSetUpdated', 'True', 0, 0)] }, newRs: rs('n', 3, 1, 0, 0), olds: [rs('o', 2, 2, 2, 2)], now: 20,
      want: { reason: 'ReplicaSetUpdated', status: 'True', updated: 20 } },
    { name: 'all updated and available: NewReplicaSetAvailable', prev: { replicas: 3, updatedReplicas: 3, availableReplicas: 2, conditions: [progressing('ReplicaSetUpdated')] }, newRs: rs('n', 3, 3, 3, 3), now: 30,
      want: { reason: 'NewReplicaSetAvailable', status: 'True' } },
    { name: 'complete stays complete when a pod fails', prev: { replicas: 3, updatedReplicas: 3, availableReplicas: 3, conditions: [progressing('NewReplicaSetAvailable', 'True', 5, 5)] }, newRs: rs('n', 3, 3, 2, 2), now: 300,
      want: { reason: 'NewReplicaSetAvailable', status: 'True', updated: 5 } },
    { name: 'no progress within the deadline: still progressing', prev: { replicas: 3, updatedReplicas: 3, conditions: [progressing('ReplicaSetUpdated', 'True', 0, 0)] }, newRs: rs('n', 3, 3, 0, 0), now: 59,
      want: { reason: 'ReplicaSetUpdated', status: 'True', updated: 0 } },
    { name: 'no progress past the deadline: ProgressDeadlineExceeded', prev: { replicas: 3, updatedReplicas: 3, conditions: [progressing('ReplicaSetUpdated', 'True', 0, 0)] }, newRs: rs('n', 3, 3, 0, 0), now: 61,
      want: { reason: 'ProgressDeadlineExceeded', status: 'False', updated: 61, transition: 61 } },
    { name: 'progress after the deadline: back to True', prev: { replicas: 3, updatedReplicas: 3, conditions: [progressing('ProgressDeadlineExceeded', 'False', 61, 61)] }, newRs: rs('n', 3, 3, 1, 1), now: 90,
      want: { reason: 'ReplicaSetUpdated', status: 'True', updated: 90, transition: 90 } },
    { name: 'the deadline counts from a resume', prev: { replicas: 3, updatedReplicas: 3, conditions: [progressing('DeploymentResumed', 'Unknown', 100, 100)] }, newRs: rs('n', 3, 3, 0, 0), now: 150,
      want: { reason: 'DeploymentResumed', status: 'Unknown', updated: 100 } },
  ];
  for (const c of cases) {
    const { status } = rolloutStatus(deploy(c.prev, c.spec), c.newRs, c.olds ?? [], 1, at(c.now));
    const p = cond(status, 'Progressing');
    assert.equal(p.reason, c.want.reason, c.name);
    assert.equal(p.status, c.want.status, c.name);
    if (c.want.updated !== undefined) assert.equal(p.lastUpdateTime, rfc3339(at(c.want.updated)), `${c.name}: lastUpdateTime`);
    if (c.want.transition !== undefined) assert.equal(p.lastTransitionTime, rfc3339(at(c.want.transition)), `${c.name}: lastTransitionTime`);
  }
});

test('a stuck rollout is looked at again when its deadline passes; none without a deadline', () => {
  const d = deploy({ replicas: 3, updatedReplicas: 3, conditions: [progressing('ReplicaSetUpdated', 'True', 0, 0)] });
  assert.equal(rolloutStatus(d, rs('n', 3, 3, 0, 0), [], 1, at(20)).requeueAfterMs, 41_000, '40 s left, plus one');
  assert.equal(rolloutStatus(d, rs('n', 3, 3, 3, 3), [], 1, at(20)).requeueAfterMs, undefined, 'complete');
  const none = rolloutStatus(deploy(d.status, { progressDeadlineSeconds: 2147483647 }), rs('n', 3, 3, 0, 0), [], 1, at(20));
  assert.equal(none.requeueAfterMs, undefined);
  assert.equal(cond(none.status, 'Progressing'), undefined, 'no deadline: no Progressing condition');
});

test('a ReplicaSet\'s ReplicaFailure shows on the Deployment while it lasts', () => {
  const failure = { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'exceeded quota', lastTransitionTime: rfc3339(at(3)) };
  let { status } = rolloutStatus(deploy({ conditions: [progressing('NewReplicaSetCreated')] }), rs('n', 3, 0, 0, 0, [failure]), [], 1, at(5));
  assert.deepEqual(cond(status, 'ReplicaFailure'), { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'exceeded quota', lastUpdateTime: rfc3339(at(3)), lastTransitionTime: rfc3339(at(3)) });
  ({ status } = rolloutStatus(deploy(status), rs('n', 3, 3, 0, 0), [], 1, at(6)));
  assert.equal(cond(status, 'ReplicaFailure'), undefined);
});

test('complete means this generation observed, every replica updated and available', () => {
  const cases: [any, boolean, string][] = [
    [{ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }, true, 'done'],
    [{ observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }, false, 'older generation'],
    [{ observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }, false, 'an old pod left'],
    [{ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 }, false, 'one unavailable'],
  ];
  for (const [st, want, why] of cases) assert.equal(deploymentComplete(deploy(), st), want, why);
});

test('paused and resumed, as checkPausedConditions', () => {
  const cases: { name: string; paused: boolean; prev?: string; deadline?: number; want: string | undefined }[] = [
    { name: 'pausing', paused: true, prev: 'NewReplicaSetAvailable', want: 'DeploymentPaused' },
    { name: 'still paused', paused: true, prev: 'DeploymentPaused', want: undefined },
    { name: 'resuming', paused: false, prev: 'DeploymentPaused', want: 'DeploymentResumed' },
    { name: 'running', paused: false, prev: 'ReplicaSetUpdated', want: undefined },
    { name: 'no deadline, no condition', paused: true, prev: 'NewReplicaSetAvailable', deadline: 2147483647, want: undefined },
  ];
  for (const c of cases) {
    const d = deploy({ conditions: c.prev ? [progressing(c.prev)] : [] }, { paused: c.paused, ...(c.deadline ? { progressDeadlineSeconds: c.deadline } : {}) });
    const got = pausedConditions(d, at(1));
    assert.equal(got && cond({ conditions: got }, 'Progressing').reason, c.want, c.name);
    if (got) assert.equal(cond({ conditions: got }, 'Progressing').status, 'Unknown');
  }
});
