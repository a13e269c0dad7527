import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, nextBackoffRecord, remainingBackoff } from './backoff.js';
import { countIndexes, firstPendingIndexes, formatIndexes, parseIndexes, withIndexes } from './indexes.js';
import { isComplete, isPodFailed, wantActive, pastBackoffLimitOnFailure, deletionOrder } from './util.js';
import { activePodsForRemoval } from './job.js';
import { jobPod, podGenerateName } from './podcontrol.js';
import { ttlExpiry } from './ttl.js';

test('job arithmetic: pods wanted and completion, table', () => {
  const cases: [string, { completions?: number; parallelism?: number }, number, number, number, boolean][] = [
    // why, spec, succeeded, active, want, complete
    ['fresh, completions 3 / parallelism 2', { completions: 3, parallelism: 2 }, 0, 0, 2, false],
    ['one left to do', { completions: 3, parallelism: 2 }, 2, 1, 1, false],
    ['done, nothing running', { completions: 3, parallelism: 2 }, 3, 0, 0, true],
    ['done but a pod still runs', { completions: 3, parallelism: 2 }, 3, 1, 0, false],
    ['parallelism 0 pauses', { completions: 3, parallelism: 0 }, 0, 0, 0, false],
    ['work queue before any success', { parallelism: 3 }, 0, 1, 3, false],
    ['work queue after a success: no new pods, wait for the rest', { parallelism: 3 }, 1, 2, 2, false],
    ['work queue: one success and all ended', { parallelism: 3 }, 1, 0, 0, true],
    ['work queue: nothing succeeded yet, nothing running', { parallelism: 2 }, 0, 0, 2, false],
  ];
  for (const [why, spec, succeeded, active, want, complete] of cases) {
    assert.equal(wantActive(spec, succeeded, active), want, `want: ${why}`);
    assert.equal(isComplete(spec, succeeded, active), complete, `complete: ${why}`);
  }
});

test('pod failure backoff: 10 s doubling to the cap, reset by a success, table', () => {
  assert.deepEqual([1, 2, 3, 4, 6, 7, 20].map((n) => backoffDelay(n) / 1000), [10, 20, 40, 80, 320, 600, 600]);
  assert.equal(backoffDelay(0), 0);
  const cases: [string, any, number[], number[], number, number | undefined][] = [
    // why, previous record, succeeded finish times, failed finish times, failures after, lastFailureTime
    ['first failure', undefined, [], [5], 1, 1000],
    ['another failure adds up', { failuresAfterLastSuccess: 2, lastFailureTime: 1 }, [], [5, 6], 4, 1000],
    ['nothing new keeps the record', { failuresAfterLastSuccess: 2, lastFailureTime: 7 }, [], [], 2, 7],
    ['a success resets', { failuresAfterLastSuccess: 3, lastFailureTime: 7 }, [9], [], 0, undefined],
    ['failures after the success count anew', { failuresAfterLastSuccess: 3, lastFailureTime: 7 }, [9], [8, 10, 11], 2, 1000],
  ];
  for (const [why, prev, s, f, n, last] of cases) {
    const r = nextBackoffRecord(prev, s, f, 1000);
    assert.equal(r.failuresAfterLastSuccess, n, why);
    assert.equal(r.lastFailureTime, last, why);
  }
  assert.equal(remainingBackoff({ failuresAfterLastSuccess: 2, lastFailureTime: 1000 }, 6000), 15_000);
  assert.equal(remainingBackoff({ failuresAfterLastSuccess: 2, lastFailureTime: 1000 }, 30_000), 0);
  assert.equal(remainingBackoff(undefined, 0), 0);
});

test('completed indexes: parse, format ("0-2,4"), add, pending, table', () => {
  const cases: [string, number, string, number][] = [
    ['0-2,4', 10, '0-2,4', 4],
    ['0,1', 10, '0,1', 2],
    ['3,0,1,2', 10, '0-3', 4],
    ['0-9', 5, '0-4', 5],
    ['', 5, '', 0],
    ['x,1', 5, '1', 1],
  ];
  for (const [input, completions, out, count] of cases) {
    const iv = parseIndexes(input, completions);
    assert.equal(formatIndexes(iv), out, input);
    assert.equal(countIndexes(iv), count, input);
  }
  assert.equal(formatIndexes(withIndexes(parseIndexes('0-2', 10), [4, 3, 7, 8])), '0-4,7,8');
  assert.deepEqual(firstPendingIndexes(parseIndexes('0,2', 6), new Set([1]), 2, 6), [3, 4]);
  assert.deepEqual(firstPendingIndexes(parseIndexes('0-5', 6), new Set(), 2, 6), []);
});

const job = (spec: any = {}) => ({
  apiVersion: 'batch/v1', kind: 'Job',
  metadata: { name: 'pi', namespace: 'default', uid: 'job-uid' },
  spec: { completions: 3, parallelism: 2, backoffLimit: 2, template: { metadata: { labels: { 'job-name': 'pi' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } }, ...spec },
});
const pod = (name: string, o: { phase?: string; deleting?: boolean; node?: string; ready?: boolean; index?: number; restarts?: number; created?: string } = {}) => ({
  metadata: {
    name, uid: name, creationTimestamp: o.created ?? '2026-01-01T00:00:00Z',
    ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:01:00Z' } : {}),
    ...(o.index !== undefined ? { annotations: { 'batch.kubernetes.io/job-completion-index': String(o.index) } } : {}),
  },
  spec: o.node ? { nodeName: o.node } : {},
  status: {
    phase: o.phase ?? 'Running',
    conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: '2026-01-01T00:00:10Z' }],
    containerStatuses: [{ restartCount: o.restarts ?? 0 }],
  },
});

test('pod accounting: failed means phase Failed or deleted before success, table', () => {
  const cases: [string, any, any, boolean][] = [
    ['Failed', pod('a', { phase: 'Failed' }), job(), true],
    ['Succeeded', pod('a', { phase: 'Succeeded' }), job(), false],
    ['running', pod('a'), job(), false],
    ['deleted while running', pod('a', { deleting: true }), job(), true],
    ['deleted after success', pod('a', { phase: 'Succeeded', deleting: true }), job(), false],
    ['deleted while running, podReplacementPolicy Failed', pod('a', { deleting: true }), job({ podReplacementPolicy: 'Failed' }), false],
  ];
  for (const [why, p, j, want] of cases) assert.equal(isPodFailed(p, j), want, why);
  const onFailure = job({ backoffLimit: 2, template: { spec: { restartPolicy: 'OnFailure' } } });
  assert.equal(pastBackoffLimitOnFailure(onFailure, [pod('a', { restarts: 1 })]), false);
  assert.equal(pastBackoffLimitOnFailure(onFailure, [pod('a', { restarts: 1 }), pod('b', { restarts: 1 })]), true);
});

test('pods removed first: unscheduled, then not ready, newer first; Indexed duplicates and strays', () => {
  const pods = [pod('ready', { node: 'n', ready: true }), pod('unscheduled'), pod('notready-old', { node: 'n' }), pod('notready-new', { node: 'n', created: '2026-01-01T00:05:00Z' })];
  assert.deepEqual([...pods].sort(deletionOrder).map((p) => p.metadata.name), ['unscheduled', 'notready-new', 'notready-old', 'ready']);
  assert.deepEqual(activePodsForRemoval(job(), pods, 2).map((p) => p.metadata.name), ['unscheduled', 'notready-new']);
  const ix = job({ completionMode: 'Indexed', completions: 3 });
  const ipods = [pod('i0', { index: 0, node: 'n', ready: true }), pod('i0-dup', { index: 0 }), pod('i7', { index: 7, node: 'n' }), pod('i1', { index: 1, node: 'n' })];
  assert.deepEqual(activePodsForRemoval(ix, ipods, 0).map((p) => p.metadata.name).sort(), ['i0-dup', 'i7']);
});

test('job pods: finalizer, generateName, and for Indexed Jobs the index as annotation, label, hostname and env', () => {
  const p = jobPod(job());
  assert.equal(p.metadata.generateName, 'pi-');
  assert.deepEqual(p.metadata.finalizers, ['batch.kubernetes.io/job-tracking']);
  assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'job-uid', controller: true, blockOwnerDeletion: true }]);
  assert.equal(p.spec.hostname, undefined);
  const q = jobPod(job({ completionMode: 'Indexed' }), 4);
  assert.equal(q.metadata.generateName, 'pi-4-');
  assert.equal(q.metadata.annotations['batch.kubernetes.io/job-completion-index'], '4');
  assert.equal(q.metadata.labels['batch.kubernetes.io/job-completion-index'], '4');
  assert.equal(q.metadata.labels['job-name'], 'pi');
  assert.equal(q.spec.hostname, 'pi-4');
  assert.deepEqual(q.spec.containers[0].env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }]);
  assert.equal(podGenerateName('x'.repeat(70), 12), `${'x'.repeat(54)}-12-`);
  assert.equal(podGenerateName('x'.repeat(70)).length, 58);
});

test('ttlSecondsAfterFinished: expiry from the finished condition, table', () => {
  const done = (type: string, ttl?: number, deleting = false) => ({
    metadata: { name: 'j', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl },
    status: { conditions: [{ type, status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
  });
  const at = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(ttlExpiry(done('Complete', 60)), at + 60_000);
  assert.equal(ttlExpiry(done('Failed', 0)), at);
  assert.equal(ttlExpiry(done('SuccessCriteriaMet', 60)), undefined, 'interim condition: not finished yet');
  assert.equal(ttlExpiry(done('Complete')), undefined, 'no TTL');
  assert.equal(ttlExpiry(done('Complete', 60, true)), undefined, 'already being deleted');
});
