/**
 * The shared conformance suite for Backend implementations (src/store/types.ts): every
 * backend (SQLite, etcd) registers these node:test tests with its own `open`, so they keep
 * one contract — etcd's. Each test opens a fresh, empty store and closes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, Watch, WatchEvent } from './types.js';

const b = (s: string) => Buffer.from(s);
const str = (kv?: { value: Buffer }) => kv?.value.toString();

/** Reads batches from `w` until `n` events arrived (fails instead of hanging forever). */
export async function collect(w: Watch, n: number, guardMs = 20_000): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const it = w[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watch delivered ${out.length} of ${n} events`)), guardMs);
  });
  try {
    while (out.length < n) {
      const r = await Promise.race([it.next(), guard]);
      if (r.done) break;
      out.push(...r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** Registers the contract tests for a backend called `name`, opened fresh by `open`. */
export function backendConformance(name: string, open: () => Promise<Backend>): void {
  const withStore = (title: string, fn: (s: Backend) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const s = await open();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    });

  withStore('revisions strictly increase across keys; create/mod revisions', async (s) => {
    const r0 = await s.currentRevision();
    const a = await s.create('/r/a', b('1'));
    const c = await s.create('/r/b', b('2'));
    const u = await s.update('/r/a', b('3'), a.kv.modRevision);
    const d = await s.delete('/r/b');
    assert.ok(r0 < a.revision && a.revision < c.revision && c.revision < u.revision && u.revision < d.revision);
    assert.equal(await s.currentRevision(), d.revision);
    assert.deepEqual([a.kv.createRevision, a.kv.modRevision], [a.revision, a.revision]);
    assert.deepEqual([u.kv.createRevision, u.kv.modRevision], [a.revision, u.revision]);
    assert.equal(str(d.kv), '2', 'delete returns the deleted value');
    const g = await s.get('/r/a');
    assert.equal(g.revision, d.revision);
    assert.deepEqual([str(g.kv), g.kv?.createRevision, g.kv?.modRevision], ['3', a.revision, u.revision]);
  });

  withStore('create, update and delete refuse what etcd refuses', async (s) => {
    const a = await s.create('/e/a', b('1'));
    await assert.rejects(s.create('/e/a', b('x')), { code: 'ALREADY_EXISTS' });
    await assert.rejects(s.update('/e/none', b('x'), 0), { code: 'NOT_FOUND' });
    await assert.rejects(s.delete('/e/none'), { code: 'NOT_FOUND' });
    const u = await s.update('/e/a', b('2'), a.kv.modRevision);
    await assert.rejects(s.update('/e/a', b('3'), a.kv.modRevision), { code: 'CONFLICT' });
    await assert.rejects(s.delete('/e/a', a.kv.modRevision), { code: 'CONFLICT' });
    const before = await s.currentRevision();
    assert.equal(before, u.revision, 'refused writes take no revision');
    assert.equal(str((await s.get('/e/a')).kv), '2', 'refused writes change nothing');
    await s.update('/e/a', b('4'), 0); // 0 = unconditional
    await s.delete('/e/a');
    const again = await s.create('/e/a', b('5'));
    assert.equal(again.kv.createRevision, again.revision, 'a recreated key starts a new life');
    await assert.rejects(s.update('/e/a', b('6'), u.revision), { code: 'CONFLICT' });
    await assert.rejects(s.create('', b('x')), { code: 'INVALID_ARGUMENT' });
  });

  withStore('get and list at old revisions; a future revision is refused', async (s) => {
    const a = await s.create('/h/a', b('a1'));
    const u = await s.update('/h/a', b('a2'), a.revision);
    const c = await s.create('/h/c', b('c1'));
    const d = await s.delete('/h/a');
    assert.equal(str((await s.get('/h/a', a.revision)).kv), 'a1');
    assert.equal(str((await s.get('/h/a', u.revision)).kv), 'a2');
    assert.equal((await s.get('/h/a', d.revision)).kv, undefined);
    assert.equal((await s.get('/h/c', u.revision)).kv, undefined, 'not yet created');
    const at = (r: number) => s.list('/h/', { revision: r }).then((l) => l.kvs.map((kv) => `${kv.key}=${str(kv)}@${kv.modRevision}`));
    assert.deepEqual(await at(a.revision), [`/h/a=a1@${a.revision}`]);
    assert.deepEqual(await at(c.revision), [`/h/a=a2@${u.revision}`, `/h/c=c1@${c.revision}`]);
    assert.deepEqual(await at(d.revision), [`/h/c=c1@${c.revision}`]);
    assert.equal((await s.list('/h/', { revision: c.revision })).revision, c.revision);
    await assert.rejects(s.get('/h/a', d.revision + 100), /future revision/);
    await assert.rejects(s.list('/h/', { revision: d.revision + 100 }), /future revision/);
  });

  withStore('prefixes are isolated (/a/ vs /ab/) and keys come in byte order', async (s) => {
    for (const k of ['/a/2', '/ab/1', '/a/1', '/a', '/a/\u00e9', '/a/z', '/b/1']) await s.create(k, b(k));
    assert.deepEqual((await s.list('/a/')).kvs.map((kv) => kv.key), ['/a/1', '/a/2', '/a/z', '/a/\u00e9']);
    assert.deepEqual((await s.list('/ab/')).kvs.map((kv) => kv.key), ['/ab/1']);
    assert.equal((await s.list('/a')).kvs.length, 6);
    assert.equal((await s.list('')).kvs.length, 7);
    assert.equal((await s.count('/a/')).count, 4);
    assert.equal((await s.count('/ab/')).count, 1);
    await s.delete('/a/1');
    assert.equal((await s.count('/a/')).count, 3, 'count ignores deleted keys');
    assert.equal((await s.list('/c/')).kvs.length, 0);
  });

  withStore('pagination: limit, startKey and more, at one revision while writes go on', async (s) => {
    for (let i = 0; i < 25; i++) await s.create(`/p/${String(i).padStart(2, '0')}`, b(String(i)));
    const first = await s.list('/p/', { limit: 10 });
    assert.equal(first.kvs.length, 10);
    assert.equal(first.more, true);
    await s.create('/p/99', b('late')); // after the first page: not in this list
    await s.delete('/p/20');
    const keys = first.kvs.map((kv) => kv.key);
    let start = keys[keys.length - 1] + '\u0000';
    for (;;) {
      const page = await s.list('/p/', { limit: 10, startKey: start, revision: first.revision });
      keys.push(...page.kvs.map((kv) => kv.key));
      if (!page.more) break;
      start = page.kvs[page.kvs.length - 1].key + '\u0000';
    }
    assert.deepEqual(keys, Array.from({ length: 25 }, (_, i) => `/p/${String(i).padStart(2, '0')}`));
    const exact = await s.list('/p/', { limit: 24 });
    assert.equal(exact.more, true, 'one key remains (25 now, /p/20 gone, /p/99 added)');
    assert.equal((await s.list('/p/', { limit: 25 })).more, false);
    assert.deepEqual((await s.list('/p/', { startKey: '/p/23' })).kvs.map((kv) => kv.key), ['/p/23', '/p/24', '/p/99']);
  });

  withStore('watch: events in revision order, puts and deletes with prevKv, prefix-filtered', async (s) => {
    const start = await s.currentRevision();
    const w = s.watch('/w/', start);
    const a = await s.create('/w/a', b('1'));
    await s.create('/wx/no', b('other prefix'));
    await s.update('/w/a', b('2'), a.revision);
    await s.delete('/w/a');
    const ev = await collect(w, 3);
    w.close();
    assert.deepEqual(ev.map((e) => e.type), ['put', 'put', 'delete']);
    assert.equal(ev[0].prevKv, undefined, 'a create has no prevKv');
    assert.equal(str(ev[1].prevKv), '1');
    assert.equal(str(ev[2].kv), '2', 'a delete event carries the deleted value');
    assert.equal(str(ev[2].prevKv), '2');
    assert.equal(ev[2].prevKv?.modRevision, ev[1].kv.modRevision);
    assert.ok(ev[2].kv.modRevision > ev[1].kv.modRevision && ev[1].kv.modRevision > ev[0].kv.modRevision);
  });

  withStore('watch from an old revision replays history, then continues live', async (s) => {
    const a = await s.create('/o/a', b('1'));
    const u = await s.update('/o/a', b('2'), a.revision);
    await s.delete('/o/a');
    await s.create('/o/b', b('b'));
    const w = s.watch('/o/', a.revision); // everything after the create
    const live = s.create('/o/c', b('c'));
    const ev = await collect(w, 4);
    await live;
    w.close();
    assert.deepEqual(ev.map((e) => `${e.type} ${e.kv.key}`), ['put /o/a', 'delete /o/a', 'put /o/b', 'put /o/c']);
    assert.equal(str(ev[0].prevKv), '1');
    assert.equal(str(ev[1].prevKv), '2');
    assert.equal(ev[1].prevKv?.modRevision, u.revision);
    const all = await collect(s.watch('/o/', 0), 5);
    assert.equal(all.length, 5, 'a watch from 0 replays everything kept');
  });

  withStore('watch under concurrent writers sees every write once, strictly in order', async (s) => {
    const start = await s.currentRevision();
    const w = s.watch('/cw/', start);
    const revs = (await Promise.all(Array.from({ length: 60 }, (_, i) => s.create(`/cw/${i}`, b(String(i)))))).map((r) => r.revision);
    const ev = await collect(w, 60);
    w.close();
    const seen = ev.map((e) => e.kv.modRevision);
    assert.deepEqual(seen, [...revs].sort((x, y) => x - y));
    assert.equal(new Set(revs).size, 60, 'every write took its own revision');
  });

  withStore('concurrent CAS writers lose no update', async (s) => {
    await s.create('/cas/n', b('0'));
    const writer = async () => {
      for (let done = 0; done < 10; ) {
        const { kv } = await s.get('/cas/n');
        try {
          await s.update('/cas/n', b(String(Number(str(kv)) + 1)), kv!.modRevision);
          done++;
        } catch (err) {
          if ((err as { code?: string }).code !== 'CONFLICT') throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, writer));
    assert.equal(str((await s.get('/cas/n')).kv), '100');
  });

  withStore('compaction: old revisions answer GoneError, current values stay', async (s) => {
    const a = await s.create('/k/a', b('1'));
    const u = await s.update('/k/a', b('2'), a.revision);
    const x = await s.create('/k/x', b('x'));
    await s.delete('/k/x');
    const c = await s.create('/k/c', b('c'));
    await s.compact(c.revision - 1);
    assert.equal(await s.compactRevision(), c.revision - 1);
    await assert.rejects(s.get('/k/a', a.revision), (e: Error & { code?: string }) => e.code === 'GONE' && /compacted/.test(e.message));
    await assert.rejects(s.list('/k/', { revision: u.revision }), { code: 'GONE' });
    assert.deepEqual((await s.list('/k/')).kvs.map((kv) => `${kv.key}=${str(kv)}`), ['/k/a=2', '/k/c=c']);
    assert.deepEqual((await s.list('/k/', { revision: c.revision - 1 })).kvs.map((kv) => kv.key), ['/k/a'], 'the compact revision itself stays readable');
    assert.equal((await s.get('/k/x', c.revision - 1)).kv, undefined);
    const old = s.watch('/k/', x.revision - 2);
    await assert.rejects(collect(old, 1), { code: 'GONE' });
    const ok = s.watch('/k/', c.revision - 1);
    const ev = await collect(ok, 1);
    ok.close();
    assert.equal(ev[0].kv.key, '/k/c');
    await s.compact(a.revision); // older than the compact revision: no-op
    assert.equal(await s.compactRevision(), c.revision - 1);
    await s.update('/k/a', b('3'), u.revision);
    assert.equal(str((await s.get('/k/a')).kv), '3', 'writes after compaction keep CAS on the kept row');
  });

  withStore('close ends a watch', async (s) => {
    const w = s.watch('/z/', await s.currentRevision());
    const it = w[Symbol.asyncIterator]();
    const next = it.next();
    w.close();
    assert.equal((await next).done, true);
  });
}
