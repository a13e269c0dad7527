import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANGE_CAUSE, DESIRED, HASH_LABEL, MAX, REVISION, REVISION_HISTORY, comparable, findNewReplicaSet, historyToDelete, newReplicaSet, newReplicaSetAnnotations } from './revisions.js';
import { fnv32a, safeEncode, templateHash } from '../pods.js';

const owner = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true };
const deploy = (annotations: Record<string, string> = {}, extra: any = {}) => ({
  metadata: { name: 'web', namespace: 'default', uid: 'u1', annotations },
  spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } }, ...extra },
  status: {} as any,
});

test('pod-template-hash: FNV-1a 32 over the canonical template, in the safe alphabet; collisionCount changes it', () => {
  assert.equal(fnv32a(''), 0x811c9dc5);
  assert.equal(fnv32a('a'), 0xe40c292c);
  assert.equal(fnv32a('foobar'), 0xbf9cf968);
  const t = deploy().spec.template;
  const h = templateHash(t);
  assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]+$/, 'no vowels, no 0/1/3: never a word');
  assert.equal(h, safeEncode(String(fnv32a(JSON.stringify({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ image: 'nginx:1', name: 'c' }] } })))));
  assert.equal(templateHash({ spec: t.spec, metadata: t.metadata }), h, 'key order does not matter');
  assert.notEqual(templateHash(t, 1), h, 'a collision gives another name');
  assert.notEqual(templateHash({ ...t, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } }), h);
});

test('templates compare as Kubernetes\' EqualIgnoreHash: nulls, empties and the hash label aside', () => {
  const a = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i', resources: {} }] } };
  const cases: [any, boolean, string][] = [
    [{ metadata: { creationTimestamp: null, labels: { app: 'x', [HASH_LABEL]: 'abc' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, true, 'what kubectl rollout undo sends'],
    [{ metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'j' }] } }, false, 'another image'],
    [{ metadata: { labels: { app: 'x', tier: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, false, 'another label'],
    [{ metadata: { labels: { app: 'x' }, annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, false, 'a restart'],
  ];
  for (const [b, equal, why] of cases) assert.equal(comparable(a) === comparable(b), equal, why);
});

test('the new ReplicaSet is the oldest one with the Deployment\'s template', () => {
  const d = deploy();
  const rs = (name: string, created: string, image: string) => ({ metadata: { name, creationTimestamp: created }, spec: { template: { metadata: { labels: { app: 'web', [HASH_LABEL]: name } }, spec: { containers: [{ name: 'c', image }] } } } });
  const rss = [rs('b', '2024-01-01T00:00:02Z', 'nginx:1'), rs('a', '2024-01-01T00:00:01Z', 'nginx:0'), rs('c', '2024-01-01T00:00:01Z', 'nginx:1')];
  assert.equal(findNewReplicaSet(d, rss)?.metadata.name, 'c');
  assert.equal(findNewReplicaSet(d, [rss[1]]), undefined);
});

test('annotations of the new ReplicaSet, as SetNewReplicaSetAnnotations', () => {
  const cases: { name: string; d: Record<string, string>; rs: Record<string, string>; revision: number; exists: boolean; want: Record<string, string> | undefined }[] = [
    { name: 'up to date: nothing to write', d: { [CHANGE_CAUSE]: 'x' }, rs: { [CHANGE_CAUSE]: 'x', [REVISION]: '2' }, revision: 2, exists: true, want: undefined },
    { name: 'a revision never goes down', d: {}, rs: { [REVISION]: '5' }, revision: 3, exists: true, want: undefined },
    { name: 'the Deployment\'s annotations are copied, its bookkeeping is not', d: { team: 'a', [CHANGE_CAUSE]: 'kubectl set image', [REVISION]: '9', 'kubectl.kubernetes.io/last-applied-configuration': '{}' }, rs: { [REVISION]: '1' }, revision: 1, exists: true, want: { team: 'a', [CHANGE_CAUSE]: 'kubectl set image', [REVISION]: '1' } },
    { name: 'rolled back to: new revision, the old one remembered', d: {}, rs: { [REVISION]: '1' }, revision: 3, exists: true, want: { [REVISION]: '3', [REVISION_HISTORY]: '1' } },
    { name: 'rolled back to again', d: {}, rs: { [REVISION]: '3', [REVISION_HISTORY]: '1' }, revision: 5, exists: true, want: { [REVISION]: '5', [REVISION_HISTORY]: '1,3' } },
    { name: 'about to be created: the replica counts too', d: {}, rs: {}, revision: 1, exists: false, want: { [REVISION]: '1', [DESIRED]: '3', [MAX]: '4' } },
  ];
  for (const c of cases) {
    assert.deepEqual(newReplicaSetAnnotations(deploy(c.d), { metadata: { annotations: c.rs } }, c.revision, c.exists, 1), c.want, c.name);
  }
});

test('a new ReplicaSet: <deployment>-<hash>, the hash in its labels, selector and template', () => {
  const d = deploy({ [CHANGE_CAUSE]: 'first' }, { minReadySeconds: 5 });
  const rs = newReplicaSet(d, owner, 2, 4, 1);
  const hash = templateHash(d.spec.template);
  assert.equal(rs.metadata.name, `web-${hash}`);
  assert.deepEqual(rs.metadata.labels, { app: 'web', [HASH_LABEL]: hash });
  assert.deepEqual(rs.spec.selector, { matchLabels: { app: 'web', [HASH_LABEL]: hash } });
  assert.deepEqual(rs.spec.template.metadata.labels, { app: 'web', [HASH_LABEL]: hash });
  assert.equal(d.spec.template.metadata.labels[HASH_LABEL], undefined, 'the Deployment\'s template is not touched');
  assert.equal(rs.spec.replicas, 2);
  assert.equal(rs.spec.minReadySeconds, 5);
  assert.deepEqual(rs.metadata.annotations, { [CHANGE_CAUSE]: 'first', [REVISION]: '4', [DESIRED]: '3', [MAX]: '4' });
  assert.deepEqual(rs.metadata.ownerReferences, [owner]);
  d.status.collisionCount = 1;
  assert.equal(newReplicaSet(d, owner, 2, 4, 1).metadata.name, `web-${templateHash(d.spec.template, 1)}`);
});

test('revisionHistoryLimit: the lowest revisions beyond the limit go, if empty and settled', () => {
  const rs = (name: string, revision: number, o: { replicas?: number; statusReplicas?: number; deleting?: boolean; generation?: number; observed?: number } = {}) => ({
    metadata: { name, annotations: { [REVISION]: String(revision) }, generation: o.generation ?? 1, ...(o.deleting ? { deletionTimestamp: 'x' } : {}) },
    spec: { replicas: o.replicas ?? 0 }, status: { replicas: o.statusReplicas ?? 0, observedGeneration: o.observed ?? 1 },
  });
  const cases: { name: string; olds: any[]; limit: number; want: string[] }[] = [
    { name: 'within the limit', olds: [rs('a', 1), rs('b', 2)], limit: 2, want: [] },
    { name: 'one over', olds: [rs('b', 2), rs('a', 1), rs('c', 3)], limit: 2, want: ['a'] },
    { name: 'limit 0', olds: [rs('b', 2), rs('a', 1)], limit: 0, want: ['a', 'b'] },
    { name: 'non-empty ones count but stay', olds: [rs('a', 1, { replicas: 1 }), rs('b', 2)], limit: 1, want: [] },
    { name: 'pods still terminating', olds: [rs('a', 1, { statusReplicas: 1 }), rs('b', 2)], limit: 1, want: [] },
    { name: 'a change its controller has not seen', olds: [rs('a', 1, { generation: 2, observed: 1 }), rs('b', 2)], limit: 1, want: [] },
    { name: 'ones being deleted do not count', olds: [rs('a', 1, { deleting: true }), rs('b', 2), rs('c', 3)], limit: 1, want: ['b'] },
  ];
  for (const c of cases) assert.deepEqual(historyToDelete(c.olds, c.limit).map((x) => x.metadata.name), c.want, c.name);
});
