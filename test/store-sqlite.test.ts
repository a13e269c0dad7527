/**
 * The SQLite backend: the shared conformance suite, plus what only a file-backed store has —
 * state and compaction surviving a reopen, one process per file, values of any size.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openSqliteBackend } from '../src/store/sqlite.js';
import { backendConformance, collect } from '../src/store/conformance.js';
import type { WatchEvent } from '../src/store/types.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skiff-store-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(dir, `s${n++}.db`);

backendConformance('sqlite', () => openSqliteBackend(fresh(), { compactIntervalMs: 0 }));

test('sqlite: revisions, history and compaction survive a reopen', async () => {
  const file = fresh();
  let s = await openSqliteBackend(file, { compactIntervalMs: 0 });
  assert.equal(await s.currentRevision(), 1, 'a new store starts at revision 1 like etcd');
  const a = await s.create('/x/a', Buffer.from('1'));
  const u = await s.update('/x/a', Buffer.from('2'), a.revision);
  const d = await s.delete('/x/a');
  await s.close();
  s = await openSqliteBackend(file, { compactIntervalMs: 0 });
  assert.equal(await s.currentRevision(), d.revision);
  assert.equal((await s.get('/x/a', u.revision)).kv?.value.toString(), '2');
  const c = await s.create('/x/b', Buffer.from('b'));
  assert.equal(c.revision, d.revision + 1);
  await s.compact(c.revision);
  // A deleted key's rows are all gone after compaction, yet the revision counter never goes back.
  await s.close();
  s = await openSqliteBackend(file, { compactIntervalMs: 0 });
  assert.equal(await s.compactRevision(), c.revision);
  assert.equal(await s.currentRevision(), c.revision);
  await assert.rejects(s.get('/x/a', u.revision), { code: 'GONE' });
  const again = await s.create('/x/a', Buffer.from('3'));
  assert.equal(again.revision, c.revision + 1);
  await s.close();
});

test('sqlite: a second process cannot open a store in use', async () => {
  const file = fresh();
  const s = await openSqliteBackend(file, { compactIntervalMs: 0 });
  await s.create('/k', Buffer.from('v'));
  const mod = new URL('../src/store/sqlite.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { openSqliteBackend } from ${JSON.stringify(mod)};
    try { const s = await openSqliteBackend(${JSON.stringify(file)}); await s.get('/k'); console.log('opened'); }
    catch (e) { console.log(e.code + ': ' + e.message); }`], { encoding: 'utf8' });
  assert.match(r.stdout, /^UNAVAILABLE: store .* is in use by another process/);
  await s.close();
});

test('sqlite: large values and many keys round-trip; a watch replays across windows', async () => {
  const s = await openSqliteBackend(fresh(), { compactIntervalMs: 0 });
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  const r = await s.create('/big', big);
  assert.ok((await s.get('/big')).kv!.value.equals(big));
  await Promise.all(Array.from({ length: 4500 }, (_, i) => s.create(`/many/${i}`, Buffer.from(String(i)))));
  const w = s.watch('/many/', r.revision);
  const ev = await collect(w, 4500);
  w.close();
  assert.equal(ev.length, 4500);
  assert.ok(ev.every((e, i) => i === 0 || e.kv.modRevision > ev[i - 1].kv.modRevision));
  assert.equal((await s.count('/many/')).count, 4500);
  await s.close();
});

test('sqlite: the periodic compactor keeps a window of history', async () => {
  const s = await openSqliteBackend(fresh(), { compactIntervalMs: 0 });
  const { Compactor } = await import('../src/store/compactor.js');
  const c = new Compactor(s, { compactIntervalMs: 0, keepRevisions: 5 });
  for (let i = 0; i < 20; i++) await s.create(`/c/${i}`, Buffer.from('v'));
  assert.equal(await c.tick(), undefined, 'the first round only remembers where it was');
  for (let i = 20; i < 23; i++) await s.create(`/c/${i}`, Buffer.from('v'));
  const second = await s.currentRevision();
  assert.equal(await c.tick(), second - 5, 'never closer than keepRevisions');
  for (let i = 23; i < 40; i++) await s.create(`/c/${i}`, Buffer.from('v'));
  assert.equal(await c.tick(), second, 'then to the revision seen one round earlier');
  await assert.rejects(s.get('/c/0', second - 1), { code: 'GONE' });
  assert.equal((await s.list('/c/')).kvs.length, 40);
  await s.close();
});

test('sqlite: a file that is not a store is refused in one line and left as it was', async () => {
  const file = fresh();
  fs.writeFileSync(file, 'not a database, just some bytes that are long enough to look like a header '.repeat(20));
  const before = fs.readFileSync(file);
  await assert.rejects(openSqliteBackend(file), (e: Error & { code?: string }) =>
    e.code === 'UNAVAILABLE' && /cannot open store/.test(e.message) && !e.message.includes('\n'));
  assert.ok(fs.readFileSync(file).equals(before));
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(file) + '-')), [], 'no -wal or -shm left behind');
});

test('sqlite: a closed store refuses reads, writes and watches', async () => {
  const s = await openSqliteBackend(fresh(), { compactIntervalMs: 0 });
  await s.close();
  await assert.rejects(s.get('/a'), { code: 'UNAVAILABLE' });
  await assert.rejects(s.create('/a', Buffer.from('v')), { code: 'UNAVAILABLE' });
  await assert.rejects(collect(s.watch('/', 0), 1), { code: 'UNAVAILABLE' });
});

test('sqlite: the store and its WAL are 0600 (it holds Secrets); a failed open of a new file leaves nothing', async () => {
  const file = fresh();
  const s = await openSqliteBackend(file, { compactIntervalMs: 0 });
  await s.create('/registry/secrets/default/x', Buffer.from('hush'));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(`${file}-wal`).mode & 0o777, 0o600);
  await s.close();
  await assert.rejects(openSqliteBackend(path.join(dir, 'no-such-dir', 'x.db')), { code: 'UNAVAILABLE' });
  assert.equal(fs.existsSync(path.join(dir, 'no-such-dir')), false);
});

test('sqlite: a watch still replaying when its history is compacted ends with GoneError', async () => {
  const s = await openSqliteBackend(fresh(), { compactIntervalMs: 0 });
  const start = await s.currentRevision();
  for (let i = 0; i < 50; i++) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => s.create(`/r/${i}-${j}`, Buffer.from('v'))));
  }
  const w = s.watch('/r/', start);
  const it = w[Symbol.asyncIterator]();
  const first = await it.next();
  assert.ok(!first.done && first.value.length > 0 && first.value.length < 5000, 'replay comes in windows');
  await s.compact(await s.currentRevision());
  await assert.rejects(it.next(), { code: 'GONE' });
  await s.close();
});

test('sqlite: a compaction cut short by a crash is finished on the next open', async () => {
  const file = fresh();
  let s = await openSqliteBackend(file, { compactIntervalMs: 0 });
  const a = await s.create('/c/a', Buffer.from('0'));
  let rev = a.revision;
  for (let i = 1; i <= 30; i++) rev = (await s.update('/c/a', Buffer.from(String(i)), rev)).revision;
  await s.close();
  // What a crash after compaction's first commit leaves: compact_rev raised, no row deleted yet.
  const Database = (await import('better-sqlite3')).default;
  const raw = new Database(file);
  raw.prepare(`INSERT INTO meta (k, v) VALUES ('compact_rev', ?)`).run(rev);
  assert.equal((raw.prepare('SELECT COUNT(*) AS n FROM kv').get() as { n: number }).n, 31);
  raw.close();
  s = await openSqliteBackend(file, { compactIntervalMs: 0 });
  await assert.rejects(s.get('/c/a', rev - 1), { code: 'GONE' });
  assert.equal((await s.get('/c/a')).kv?.value.toString(), '30');
  await new Promise((r) => setImmediate(r));
  await s.close();
  const after = new Database(file, { readonly: true });
  assert.equal((after.prepare('SELECT COUNT(*) AS n FROM kv').get() as { n: number }).n, 1, 'only the current row is left');
  after.close();
});

test('sqlite: a list longer than one internal page is complete, ordered and consistent', async () => {
  const s = await openSqliteBackend(fresh(), { compactIntervalMs: 0 });
  await Promise.all(Array.from({ length: 1203 }, (_, i) => s.create(`/l/${String(i).padStart(5, '0')}`, Buffer.from(String(i)))));
  const listing = s.list('/l/');
  const late = s.create('/l/99999', Buffer.from('late')); // commits while the list reads its pages
  const all = await listing;
  await late;
  assert.equal(all.kvs.length, 1203, 'the list reads at the revision it started at');
  assert.ok(all.kvs.every((kv, i) => kv.key === `/l/${String(i).padStart(5, '0')}`));
  const limited = await s.list('/l/', { limit: 1000, startKey: '/l/00100' });
  assert.equal(limited.kvs.length, 1000);
  assert.equal(limited.kvs[0].key, '/l/00100');
  assert.equal(limited.more, true);
  assert.equal((await s.list('/l/', { limit: 1203, revision: all.revision })).more, false);
  assert.equal((await s.list('/l/', { limit: 1203 })).more, true, 'the late key is there now');
  await s.close();
});

test('sqlite: writes are answered after their fdatasync; watches opened between a commit and its sync see each event once', async () => {
  const s = await openSqliteBackend(fresh(), { compactIntervalMs: 0 });
  const start = await s.currentRevision();
  const N = 400;
  // Writers in many event-loop turns (many transactions, several per fdatasync), and a watch
  // opened at the current revision after every few of them: between commits and their syncs.
  const watches: Array<{ from: number; events: Promise<WatchEvent[]> }> = [];
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    writes.push(s.create(`/k/${i}`, Buffer.from(String(i))));
    if (i % 40 === 0) {
      await new Promise<void>((r) => setImmediate(r));
      const from = await s.currentRevision();
      watches.push({ from, events: collect(s.watch('/k/', from), start + N - from) });
      // And from the start: replayed from the table up to here, the rest live, nothing twice.
      watches.push({ from: start, events: collect(s.watch('/k/', start), N) });
    }
  }
  const acks = (await Promise.all(writes)) as Array<{ revision: number }>;
  assert.deepEqual(acks.map((a) => a.revision), Array.from({ length: N }, (_, i) => start + 1 + i), 'answered in revision order');
  for (const w of watches) {
    const revs = (await w.events).map((e) => e.kv.modRevision);
    assert.deepEqual(revs, Array.from({ length: start + N - w.from }, (_, i) => w.from + 1 + i), `watch from ${w.from}: every later event once, in order`);
  }
  await s.close();
  // All of it is on disk: a reopen reads the same revision.
  const again = await openSqliteBackend(path.join(dir, `s${n - 1}.db`), { compactIntervalMs: 0 });
  assert.equal(await again.currentRevision(), start + N);
  await again.close();
});
