import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiClient, KObject } from '../client/client.js';
import { ApiStatusError } from '../client/client.js';
import { newRevision, revisionData, revisionName, syncRevisions, templateOf, truncateHistory } from './history.js';

const owner = (image: string, extra: any = {}): KObject => ({
  apiVersion: 'apps/v1', kind: 'StatefulSet',
  metadata: { name: 'web', namespace: 'ns', uid: 'uid-1', annotations: { 'kubernetes.io/change-cause': `set ${image}` } },
  spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } } },
  ...extra,
});

/** An in-memory stand-in for the API's ControllerRevision endpoints, recording the calls. */
function fakeClient(initial: KObject[] = []) {
  const store = new Map(initial.map((r) => [r.metadata.name!, r]));
  const calls: string[] = [];
  const client = {
    async create(_r: unknown, _ns: string, o: KObject) {
      calls.push(`create ${o.metadata.name} #${o.revision}`);
      if (store.has(o.metadata.name!)) throw new ApiStatusError(409, 'AlreadyExists', 'exists');
      const out = { ...o, metadata: { ...o.metadata, creationTimestamp: `2024-01-01T00:00:0${store.size}Z` } };
      store.set(o.metadata.name!, out);
      return out;
    },
    async get(_r: unknown, _ns: string, name: string) { calls.push(`get ${name}`); return store.get(name)!; },
    async update(_r: unknown, _ns: string, o: KObject) { calls.push(`update ${o.metadata.name} #${o.revision}`); store.set(o.metadata.name!, o); return o; },
    async delete(_r: unknown, _ns: string, name: string) { calls.push(`delete ${name}`); store.delete(name); return {}; },
  };
  return { client: client as unknown as ApiClient, calls, store };
}

test('revision data: the template as a replace patch, keys sorted as Go marshals them', () => {
  const data = revisionData(owner('nginx:1'));
  assert.equal(JSON.stringify(data), '{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1","name":"c"}]}}}}');
  assert.deepEqual(templateOf({ metadata: {}, data }), owner('nginx:1').spec.template);
  const rev = newRevision(owner('nginx:1'), 'StatefulSet', 3, 0);
  assert.match(rev.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
  assert.equal(rev.metadata.labels!['controller-revision-hash'], rev.metadata.name!.slice(4));
  assert.equal(rev.metadata.labels!.app, 'web', 'template labels, so kubectl finds revisions by the selector');
  assert.equal(rev.metadata.annotations!['kubernetes.io/change-cause'], 'set nginx:1', 'owner annotations, for rollout history');
  assert.deepEqual(rev.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  assert.equal(rev.revision, 3);
  assert.notEqual(newRevision(owner('nginx:1'), 'StatefulSet', 3, 1).metadata.name, rev.metadata.name, 'the collision count changes the hash');
  assert.equal(revisionName('x'.repeat(300), 'h').length, 225);
});

test('syncRevisions: first revision, unchanged template, new template, rollback renumbers, collisions counted', async () => {
  const { client, calls, store } = fakeClient();
  let r = await syncRevisions(client, owner('a'), 'StatefulSet', []);
  assert.deepEqual(calls.splice(0), [`create ${r.update.metadata.name} #1`]);
  assert.equal(r.current, r.update, 'no currentRevision yet: the update one');
  const revA = r.update;
  r = await syncRevisions(client, owner('a', { status: { currentRevision: revA.metadata.name } }), 'StatefulSet', [...store.values()]);
  assert.deepEqual(calls.splice(0), [], 'same template: nothing written');
  r = await syncRevisions(client, owner('b', { status: { currentRevision: revA.metadata.name } }), 'StatefulSet', [...store.values()]);
  assert.equal(r.update.revision, 2);
  assert.equal(r.current.metadata.name, revA.metadata.name);
  const revB = r.update;
  calls.splice(0);
  r = await syncRevisions(client, owner('a'), 'StatefulSet', [...store.values()]);
  assert.deepEqual(calls.splice(0), [`update ${revA.metadata.name} #3`], 'rollback: the old revision becomes the newest');
  assert.equal(r.update.metadata.name, revA.metadata.name);
  assert.deepEqual(r.history.map((x) => x.revision), [2, 3]);
  // A foreign revision squats on the name of the next template's revision.
  const squat = newRevision(owner('c'), 'StatefulSet', 9, 0);
  store.set(squat.metadata.name!, { ...squat, data: { other: true } });
  r = await syncRevisions(client, owner('c'), 'StatefulSet', [revA, revB].map((x) => store.get(x.metadata.name!)!));
  assert.equal(r.collisionCount, 1);
  assert.notEqual(r.update.metadata.name, squat.metadata.name);
  assert.equal(r.update.revision, 4);
});

test('truncateHistory keeps the newest unused revisions up to the limit, and every live one', async () => {
  const revs = [1, 2, 3, 4, 5].map((n) => ({ metadata: { name: `r${n}`, namespace: 'ns' }, revision: n }));
  const cases: [number, string[], string[]][] = [
    [10, [], []],
    [2, ['r5'], ['r1', 'r2']],
    [0, ['r5', 'r1'], ['r2', 'r3', 'r4']],
    [1, ['r2', 'r3', 'r4', 'r5'], []],
  ];
  for (const [limit, live, gone] of cases) {
    const { client, calls } = fakeClient(revs);
    assert.deepEqual(await truncateHistory(client, revs, new Set(live), limit), gone, `limit ${limit}`);
    assert.deepEqual(calls, gone.map((n) => `delete ${n}`));
  }
});
