import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../client/client.js';
import { claimsFor, newPod, ordinalOf, ordinalRange } from './identity.js';
import { planStatefulSet, revisionForOrdinal, statefulSetStatus, type StsAction } from './plan.js';
import { claimIsStale, desiredClaimOwners } from './claims.js';

const T0 = Date.parse('2024-01-01T00:00:00Z');

function set(spec: any = {}, meta: any = {}): KObject {
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'ns', uid: 'set-uid', generation: 2, ...meta },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }, template: { metadata: { labels: { app: 'web' } }, spec: {} }, ...spec },
  };
}

/** A pod of `web`: "2" is web-2 Running+Ready at revision B (the update one); flags: u(nready), p(ending), t(erminating), f(ailed), s(ucceeded), o (old: revision A). */
function pod(spec: string): KObject {
  const [ord, flags = ''] = spec.split(':');
  const phase = flags.includes('p') ? 'Pending' : flags.includes('f') ? 'Failed' : flags.includes('s') ? 'Succeeded' : 'Running';
  const ready = phase === 'Running' && !flags.includes('u');
  const name = `web-${ord}`;
  return {
    metadata: {
      name, namespace: 'ns', uid: `uid-${ord}`, labels: { app: 'web', 'controller-revision-hash': flags.includes('o') ? 'A' : 'B', 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': ord },
      ...(flags.includes('t') ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}),
    },
    spec: {},
    status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2023-12-31T00:00:00Z' }] },
  };
}

/** Actions as short strings: +2 (create, "+2c" at the current revision), -2 (delete), L2 (relabel), C2 (claims). */
function short(a: StsAction): string {
  const o = (p: KObject) => p.metadata.name!.slice(4);
  switch (a.op) {
    case 'create': return `+${a.ordinal}${a.revision === 'current' ? 'c' : ''}`;
    case 'delete': return `-${o(a.pod)}`;
    case 'relabel': return `L${o(a.pod)}`;
    case 'claims': return `C${o(a.pod)}`;
  }
}

test('ordinals: of pod names, and the range of a set', () => {
  const cases: [string, string, number][] = [['web', 'web-0', 0], ['web', 'web-12', 12], ['web', 'web-x', -1], ['web', 'webby-1', -1],
    ['web', 'web-1-2', -1], ['web-1', 'web-1-2', 2], ['a.b', 'a.b-3', 3], ['a.b', 'axb-3', -1], ['web', 'web-', -1], ['web', 'web-99999999999', -1]];
  for (const [sts, p, want] of cases) assert.equal(ordinalOf(sts, p), want, `${sts} ${p}`);
  assert.deepEqual(ordinalRange(set({ replicas: 3 })), [0, 1, 2]);
  assert.deepEqual(ordinalRange(set({ replicas: 2, ordinals: { start: 5 } })), [5, 6]);
  assert.deepEqual(ordinalRange(set({ replicas: 0 })), []);
});

test('the revision of a new pod: below the partition the current one, else the update one', () => {
  const cases: [string, any, number, number, 'current' | 'update'][] = [
    ['no partition', { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }, 0, 0, 'update'],
    ['below the partition', { type: 'RollingUpdate', rollingUpdate: { partition: 2 } }, 1, 0, 'current'],
    ['at the partition', { type: 'RollingUpdate', rollingUpdate: { partition: 2 } }, 2, 0, 'update'],
    ['OnDelete: always the update revision', { type: 'OnDelete' }, 0, 3, 'update'],
    ['RollingUpdate without settings: below currentReplicas', { type: 'RollingUpdate' }, 1, 2, 'current'],
  ];
  for (const [what, updateStrategy, ord, cur, want] of cases) assert.equal(revisionForOrdinal(set({ updateStrategy }), ord, cur), want, what);
  assert.equal(revisionForOrdinal(set({ ordinals: { start: 10 }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }), 10), 'current', 'partition counts from the start ordinal');
});

test('StatefulSet plans: ordered creation, reverse scale down, failed pods, partitioned one-at-a-time updates', () => {
  const rolling = (partition: number) => ({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } });
  const cases: [string, any, string[], string[], string?][] = [
    ['nothing yet: only the first pod', {}, [], ['+0'], 'web-0 to be Running and Ready'],
    ['web-0 not ready: wait', {}, ['0:u'], [], 'web-0 to be Running and Ready'],
    ['web-0 pending: wait', {}, ['0:p'], [], 'web-0 to be Running and Ready'],
    ['web-0 ready: web-1', {}, ['0'], ['+1']],
    ['a gap is filled first', {}, ['0', '2'], ['+1']],
    ['Parallel: all at once', { podManagementPolicy: 'Parallel' }, [], ['+0', '+1', '+2']],
    ['Parallel: not waiting for readiness', { podManagementPolicy: 'Parallel' }, ['0:u'], ['+1', '+2']],
    ['ordinals.start', { replicas: 2, ordinals: { start: 5 } }, [], ['+5']],
    ['pods below the start are condemned', { replicas: 2, ordinals: { start: 1 } }, ['0', '1', '2'], ['-0']],
    ['all ready and updated: nothing to do', {}, ['0', '1', '2'], []],
    ['scale down: the highest first, one at a time', { replicas: 1 }, ['0', '1', '2'], ['-2']],
    ['scale down waits for the terminating one', { replicas: 1 }, ['0', '1', '2:t'], [], 'web-2 to terminate'],
    ['scale down waits for an unready replica', { replicas: 1 }, ['0:u', '1', '2'], [], 'web-0 to be Running and Ready'],
    ['an unready condemned pod that is the first unhealthy goes', { replicas: 1 }, ['0', '1', '2:u'], ['-2']],
    ['an unready condemned pod behind a lower unhealthy one waits', { replicas: 1 }, ['0', '1:u', '2:u'], [], 'web-2 to be Running and Ready before scale down'],
    ['Parallel scale down: all at once', { replicas: 1, podManagementPolicy: 'Parallel' }, ['0', '1', '2'], ['-2', '-1']],
    ['scale to zero', { replicas: 0 }, ['0', '1'], ['-1']],
    ['a failed pod is deleted, then waited for', {}, ['0', '1:f', '2'], ['-1'], 'web-1 to be recreated'],
    ['a succeeded pod too', {}, ['0:s'], ['-0']],
    ['a failed pod being deleted: wait for it', {}, ['0:ft'], [], 'web-0 to be recreated'],
    ['Parallel: failed pods deleted, others go on', { podManagementPolicy: 'Parallel' }, ['0:f', '2'], ['-0', '+1']],
    ['rolling update: the highest ordinal first', {}, ['0:o', '1:o', '2:o'], ['-2'], 'web-2 to be updated'],
    ['rolling update: the next once the updated one is healthy', {}, ['0:o', '1:o', '2'], ['-1']],
    ['rolling update: wait for the updated pod', {}, ['0:o', '1:o', '2:u'], [], 'web-2 to be Running and Ready'],
    ['Parallel rolling update: wait for the updated pod', { podManagementPolicy: 'Parallel' }, ['0:o', '1:o', '2:u'], [], 'web-2 to update'],
    ['rolling update waits for a recreation', {}, ['0:o', '1:o'], ['+2']],
    ['partition 2: only web-2', rolling(2), ['0:o', '1:o', '2:o'], ['-2']],
    ['partition 2: done once web-2 is updated', rolling(2), ['0:o', '1:o', '2'], []],
    ['partition 3 of 3: nothing', rolling(3), ['0:o', '1:o', '2:o'], []],
    ['partition 1, a new pod below it: the current revision', { ...rolling(1), replicas: 3 }, [], ['+0c']],
    ['OnDelete: nothing to update', { updateStrategy: { type: 'OnDelete' } }, ['0:o', '1:o', '2:o'], []],
    ['scale down before update', { replicas: 2 }, ['0:o', '1:o', '2:o'], ['-2']],
    ['Parallel updates are one at a time too', { podManagementPolicy: 'Parallel' }, ['0:o', '1:o', '2:o'], ['-2']],
    ['Parallel: scale down and update in one sync', { podManagementPolicy: 'Parallel', replicas: 2 }, ['0:o', '1:o', '2:o'], ['-2', '-1']],
    ['being deleted: nothing', {}, [], [], 'deletion'],
  ];
  for (const [what, spec, pods, want, waiting] of cases) {
    const s = what === 'being deleted: nothing' ? set(spec, { deletionTimestamp: 'x' }) : set(spec);
    const plan = planStatefulSet({ set: s, pods: pods.map(pod), updateRevision: 'B', now: T0 });
    assert.deepEqual(plan.actions.map(short), want, what);
    if (waiting) assert.equal(plan.waitingFor, waiting, `${what}: waiting for`);
  }
});

test('StatefulSet plans: identity labels repaired, claims fixed, stale claims block creation, minReadySeconds', () => {
  const relabelled = pod('1');
  delete relabelled.metadata.labels!['apps.kubernetes.io/pod-index'];
  let plan = planStatefulSet({ set: set(), pods: [pod('0'), relabelled, pod('2')], updateRevision: 'B', now: T0 });
  assert.deepEqual(plan.actions.map(short), ['L1']);
  plan = planStatefulSet({ set: set({ replicas: 1 }), pods: [pod('0'), pod('1')], updateRevision: 'B', now: T0, claimsNeedWork: (p) => p.metadata.name === 'web-1' });
  assert.deepEqual(plan.actions.map(short), ['C1', '-1'], 'a condemned pod\'s claims get their owners before it goes');
  plan = planStatefulSet({ set: set(), pods: [pod('0')], updateRevision: 'B', now: T0, claimStale: (o) => o === 1 });
  assert.deepEqual(plan.actions.map(short), [], 'a claim still owned by the old web-1 blocks the new one');
  assert.equal(plan.waitingFor, 'stale claims of web-1');
  // Ready since 2023-12-31: available with 10 s, not with 2 days.
  plan = planStatefulSet({ set: set({ minReadySeconds: 10 }), pods: [pod('0')], updateRevision: 'B', now: T0 });
  assert.deepEqual(plan.actions.map(short), ['+1']);
  plan = planStatefulSet({ set: set({ minReadySeconds: 2 * 86400 }), pods: [pod('0')], updateRevision: 'B', now: T0 });
  assert.deepEqual(plan.actions.map(short), []);
  assert.equal(plan.waitingFor, 'web-0 to be available');
});

test('StatefulSet status: counts, and a finished rolling update makes the update revision current', () => {
  const cases: [string, any, string[], Record<string, unknown>][] = [
    ['mid-update', {}, ['0:o', '1:o', '2'], { replicas: 3, readyReplicas: 3, currentReplicas: 2, updatedReplicas: 1, currentRevision: 'A', updateRevision: 'B' }],
    ['complete', {}, ['0', '1', '2'], { replicas: 3, currentReplicas: 3, updatedReplicas: 3, currentRevision: 'B' }],
    ['complete needs readiness', {}, ['0', '1', '2:u'], { readyReplicas: 2, currentReplicas: 0, currentRevision: 'A' }],
    ['terminating pods count as replicas, not as current', {}, ['0:o', '1:ot'], { replicas: 2, currentReplicas: 1, readyReplicas: 2 }],
    ['OnDelete never completes', { updateStrategy: { type: 'OnDelete' } }, ['0'], { currentRevision: 'A', updatedReplicas: 1 }],
    ['availability after minReadySeconds', { minReadySeconds: 2 * 86400 }, ['0:o'], { readyReplicas: 1, availableReplicas: 0 }],
  ];
  for (const [what, spec, pods, want] of cases) {
    const st = statefulSetStatus(set(spec), pods.map(pod), 'A', 'B', 0, T0);
    for (const [k, v] of Object.entries(want)) assert.equal(st[k], v, `${what}: ${k}`);
    assert.equal(st.observedGeneration, 2);
  }
});

test('pods and claims of an ordinal: names, labels, hostname, volumes', () => {
  const s = set({ serviceName: 'web-svc', volumeClaimTemplates: [{ metadata: { name: 'data', labels: { tier: 'db' } }, spec: { resources: { requests: { storage: '1Gi' } } } }] });
  const p = newPod(s, { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c' }], volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'x' } }] } }, 4, 'web-abc');
  assert.equal(p.metadata.name, 'web-4');
  assert.deepEqual(p.metadata.labels, { app: 'web', 'statefulset.kubernetes.io/pod-name': 'web-4', 'apps.kubernetes.io/pod-index': '4', 'controller-revision-hash': 'web-abc' });
  assert.equal(p.spec.hostname, 'web-4');
  assert.equal(p.spec.subdomain, 'web-svc');
  assert.deepEqual(p.spec.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-web-4' } }, { name: 'cfg', configMap: { name: 'x' } }], 'the claim replaces a template volume of its name');
  assert.equal(p.metadata.ownerReferences[0].kind, 'StatefulSet');
  const [c] = claimsFor(s, 4);
  assert.equal(c.metadata.name, 'data-web-4');
  assert.deepEqual(c.metadata.labels, { tier: 'db', app: 'web' });
});

test('claim owners follow the retention policy', () => {
  const s = (whenScaled: string, whenDeleted: string, replicas = 2) => set({ replicas, persistentVolumeClaimRetentionPolicy: { whenScaled, whenDeleted } });
  const claim: KObject = { metadata: { name: 'data-web-1', ownerReferences: [{ apiVersion: 'v1', kind: 'Thing', name: 'other', uid: 'o' }] } };
  const refs = (x: KObject, p: KObject) => desiredClaimOwners(claim, x, p).map((r) => `${r.kind}/${r.name}${r.controller ? '*' : ''}`).sort().join(',');
  const cases: [string, string, number, string][] = [
    ['Retain', 'Retain', 2, 'Thing/other'],
    ['Retain', 'Delete', 2, 'StatefulSet/web*,Thing/other'],
    ['Delete', 'Retain', 2, 'Thing/other'],
    ['Delete', 'Retain', 1, 'Pod/web-1*,Thing/other'],
    ['Delete', 'Delete', 2, 'StatefulSet/web*,Thing/other'],
    ['Delete', 'Delete', 1, 'Pod/web-1*,Thing/other'],
    ['Retain', 'Delete', 1, 'StatefulSet/web*,Thing/other'],
  ];
  for (const [scaled, deleted, replicas, want] of cases) assert.equal(refs(s(scaled, deleted, replicas), pod('1')), want, `${scaled}/${deleted} replicas=${replicas}`);
  const foreign: KObject = { metadata: { name: 'c', ownerReferences: [{ apiVersion: 'v1', kind: 'Other', name: 'x', uid: 'x', controller: true }] } };
  assert.deepEqual(desiredClaimOwners(foreign, s('Delete', 'Delete', 1), pod('1')).map((r) => r.kind), ['Other'], 'a claim controlled by another owner is left alone');
  assert.equal(claimIsStale(undefined, 'web-1'), false);
  assert.equal(claimIsStale({ metadata: { name: 'c', ownerReferences: [{ kind: 'Pod', name: 'web-1', uid: 'old' }] } }, 'web-1'), true);
  assert.equal(claimIsStale({ metadata: { name: 'c', deletionTimestamp: 'x' } }, 'web-1'), true);
});
