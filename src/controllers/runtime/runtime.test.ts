import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './queue.js';
import { FakeClock } from './clock.js';
import { Informer, keyOf } from './informer.js';
import { Controller } from './controller.js';
import { Expectations } from './expectations.js';
import { GoneError } from '../../core/errors.js';
import { ApiStatusError } from '../../client/client.js';
import type { ListWatchSource } from '../../client/listwatch.js';
import type { KObject, WatchEvent } from '../../client/client.js';

test('work queue: a key added many times is queued once, in FIFO order', async () => {
  const q = new WorkQueue(new FakeClock());
  for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
  assert.equal(q.length, 3);
  assert.deepEqual([await q.get(), await q.get(), await q.get()], ['a', 'b', 'c']);
});

test('work queue: a key being processed is not handed out again until done, then requeued once', async () => {
  const q = new WorkQueue(new FakeClock());
  q.add('a');
  const k = await q.get();
  q.add('a');
  q.add('a');
  assert.equal(q.length, 0, 'dirty while processing, not queued');
  q.done(k!);
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'a');
});

test('work queue: failures back off exponentially and forget resets', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue(clock, { baseMs: 10, maxMs: 50 });
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    q.addRateLimited('k');
    let t = 0;
    while (q.length === 0) { clock.advance(1); t++; }
    waits.push(t);
    q.done((await q.get())!);
  }
  assert.deepEqual(waits, [10, 20, 40, 50]);
  assert.equal(q.requeues('k'), 4);
  q.forget('k');
  assert.equal(q.requeues('k'), 0);
});

test('work queue: addAfter keeps the earliest deadline; shutDown releases waiters', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue(clock);
  q.addAfter('k', 100);
  q.addAfter('k', 500);
  clock.advance(100);
  assert.equal(q.length, 1);
  await q.get();
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
});

/** A list+watch source driven by hand (logic tests only). */
function handSource() {
  let items: KObject[] = [];
  let rv = 1;
  let push: ((e: WatchEvent | Error) => void) | undefined;
  const pending: (WatchEvent | Error)[] = [];
  const src: ListWatchSource = {
    async list() { return { items: structuredClone(items), resourceVersion: String(rv) }; },
    watch() {
      return {
        close() {},
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const e = pending.shift() ?? await new Promise<WatchEvent | Error>((r) => { push = r; });
            push = undefined;
            if (e instanceof Error) throw e;
            yield e;
          }
        },
      };
    },
  };
  const send = (e: WatchEvent | Error) => (push ? push(e) : pending.push(e));
  const obj = (name: string, v: number): KObject => ({ metadata: { name, namespace: 'ns', resourceVersion: String(v) } });
  return { src, send, obj, setItems: (xs: KObject[], r: number) => { items = xs; rv = r; } };
}

test('informer: lists, follows the watch, and after 410 Gone re-lists reporting the difference', async () => {
  const h = handSource();
  h.setItems([h.obj('a', 1), h.obj('b', 1)], 1);
  const seen: string[] = [];
  const inf = new Informer(h.src);
  inf.on({ add: (o) => seen.push(`add ${o.metadata.name}`), update: (_o, n) => seen.push(`update ${n.metadata.name}`), delete: (o) => seen.push(`delete ${o.metadata.name}`) });
  inf.addIndex('name', (o) => [o.metadata.name!]);
  inf.start();
  await inf.synced;
  assert.deepEqual(seen.splice(0), ['add a', 'add b']);
  h.send({ type: 'MODIFIED', object: h.obj('a', 2) });
  h.send({ type: 'ADDED', object: h.obj('c', 3) });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen.splice(0), ['update a', 'add c']);
  // History compacted: b was deleted and a changed while we were not watching.
  h.setItems([h.obj('a', 5), h.obj('c', 3)], 6);
  h.send(new GoneError('too old'));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen.splice(0).sort(), ['delete b', 'update a']);
  assert.equal(inf.resourceVersion, '6');
  assert.deepEqual(inf.byIndex('name', 'b'), []);
  assert.equal(inf.get('ns/a')?.metadata.resourceVersion, '5');
  assert.equal(inf.listNamespace('ns').length, 2);
  inf.stop();
});

test('controller: the same key is never synced twice at once, and a failing sync is retried', async () => {
  let active = 0, maxActive = 0, calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const c = new Controller('t', async (key) => {
    calls++;
    active++;
    maxActive = Math.max(maxActive, active);
    if (calls === 1) await gate;
    active--;
    if (key === 'bad' && calls < 4) throw new Error('boom');
  }, { workers: 4 });
  c.run();
  c.enqueue('k');
  await new Promise((r) => setTimeout(r, 5));
  c.enqueue('k');
  c.enqueue('k');
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(maxActive, 1, 'second sync of k waits for the first');
  release();
  await c.whenIdle();
  assert.equal(calls, 2, 'the adds during the first sync collapse into one more sync');
  c.enqueue('bad');
  await new Promise((r) => setTimeout(r, 100));
  await c.whenIdle();
  assert.equal(c.stats.failures, 1);
  assert.ok(calls >= 4);
  c.stop();
});

test('controller: a first 404 (object deleted mid-sync) is retried quietly; one that persists is logged', async () => {
  const warned: string[] = [];
  const log = { info() {}, debug() {}, error() {}, warn: (o: any) => { warned.push(o.key); } };
  const calls = new Map<string, number>();
  const c = new Controller('t', async (key) => {
    const n = (calls.get(key) ?? 0) + 1;
    calls.set(key, n);
    const notFound = new ApiStatusError(404, 'NotFound', `deployments.apps "${key}" not found`);
    if (key === 'deleted' && n === 1) throw notFound;
    if (key === 'missing' && n <= 3) throw notFound;
  }, { log });
  c.run();
  c.enqueue('deleted');
  c.enqueue('missing');
  for (let i = 0; i < 100 && ((calls.get('deleted') ?? 0) < 2 || (calls.get('missing') ?? 0) < 4); i++) await new Promise((r) => setTimeout(r, 20));
  await c.whenIdle();
  assert.equal(calls.get('deleted'), 2, 'retried once, then done');
  assert.equal(calls.get('missing'), 4);
  assert.deepEqual(warned, ['missing', 'missing'], 'the second and third 404 of the same key are logged, the first of each is not');
  c.stop();
});

test('expectations: unsatisfied until observed, and expire', () => {
  const clock = new FakeClock();
  const e = new Expectations(clock);
  e.expect('k', 2, 0);
  assert.equal(e.satisfied('k'), false);
  e.creationObserved('k');
  assert.equal(e.satisfied('k'), false);
  e.creationObserved('k');
  assert.equal(e.satisfied('k'), true);
  e.expect('k', 1, 1);
  clock.advance(5 * 60_000 + 1);
  assert.equal(e.satisfied('k'), true);
  assert.equal(keyOf({ metadata: { name: 'n' } }), 'n');
});
