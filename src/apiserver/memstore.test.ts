/**
 * The in-memory backend keeps the store contract (src/store/types.ts): revisions, CAS,
 * reads in the past, prefix isolation, watch replay with prevKv, compaction → GoneError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryBackend } from './memstore.js';
import type { WatchEvent } from '../store/types.js';
import { backendConformance } from '../store/conformance.js';

const b = (s: string) => Buffer.from(s);

test('revisions, CAS, past reads and prefixes', async () => {
  const s = openMemoryBackend();
  const r1 = await s.create('/a/x', b('1'));
  const r2 = await s.create('/ab/y', b('2'));
  assert.ok(r2.revision > r1.revision);
  await assert.rejects(s.create('/a/x', b('again')), /exists/);
  await assert.rejects(s.update('/a/x', b('3'), r2.revision), /modified/);
  const r3 = await s.update('/a/x', b('3'), r1.kv.modRevision);
  assert.equal(r3.kv.createRevision, r1.revision);
  assert.equal((await s.get('/a/x', r1.revision)).kv?.value.toString(), '1', 'the past is readable');
  assert.deepEqual((await s.list('/a/')).kvs.map((k) => k.key), ['/a/x'], '/a/ does not see /ab/');
  const page = await s.list('/', { limit: 1 });
  assert.equal(page.more, true);
  await s.delete('/a/x');
  assert.equal((await s.get('/a/x')).kv, undefined);
  assert.equal((await s.list('/a/', { revision: r3.revision })).kvs.length, 1);
  await s.close();
});

test('watch replays from a revision with prevKv; compaction makes old starts Gone', async () => {
  const s = openMemoryBackend();
  const start = await s.currentRevision();
  await s.create('/w/a', b('1'));
  const u = await s.update('/w/a', b('2'), 0);
  await s.delete('/w/a');
  const w = s.watch('/w/', start);
  const seen: WatchEvent[] = [];
  for await (const batch of w) { seen.push(...batch); if (seen.length >= 3) break; }
  assert.deepEqual(seen.map((e) => `${e.type} ${e.kv.value} ${e.prevKv?.value ?? '-'}`), ['put 1 -', 'put 2 1', 'delete 2 2']);
  assert.ok(seen[2].kv.modRevision > u.revision, 'a delete carries its own revision');
  await s.compact(await s.currentRevision());
  const old = s.watch('/w/', start);
  await assert.rejects((async () => { for await (const _ of old) { /* never */ } })(), /compacted/);
  await s.close();
});

// The store's shared conformance suite, which every Backend runs.
backendConformance('memory', async () => openMemoryBackend());
