import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContentStore, digestOf } from './content.js';

async function tmpStore(): Promise<ContentStore> {
  return new ContentStore(await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-content-')));
}

test('put stores by digest and is idempotent', async () => {
  const cs = await tmpStore();
  const d = await cs.put('hello');
  assert.equal(d, digestOf('hello'));
  assert.equal((await cs.read(d)).toString(), 'hello');
  assert.equal(await cs.put('hello'), d);
  assert.deepEqual(await cs.list(), [d]);
  assert.equal(await cs.size(d), 5);
});

test('a digest mismatch stores nothing', async () => {
  const cs = await tmpStore();
  const wrong = digestOf('other');
  await assert.rejects(cs.putStream(wrong, (async function* () { yield Buffer.from('hello'); })()), /digest mismatch/);
  assert.deepEqual(await cs.list(), []);
  assert.deepEqual(await fs.readdir(path.join(cs.dir, 'ingest')), []);
});

test('a size mismatch or failing source stores nothing', async () => {
  const cs = await tmpStore();
  const d = digestOf('hello');
  await assert.rejects(cs.putStream(d, (async function* () { yield Buffer.from('hello'); })(), 4), /larger than/);
  await assert.rejects(cs.putStream(d, (async function* () { yield Buffer.from('he'); throw new Error('dropped'); })()), /dropped/);
  assert.equal(await cs.has(d), false);
});

test('a suspended ingest resumes where it stopped', async () => {
  const cs = await tmpStore();
  const data = Buffer.from('0123456789');
  const d = digestOf(data);
  const w1 = await cs.ingest(d, data.length);
  await w1.write(data.subarray(0, 4));
  await w1.suspend();
  assert.equal(await cs.has(d), false);
  const w2 = await cs.ingest(d, data.length);
  assert.equal(w2.offset, 4);
  await w2.write(data.subarray(4));
  await w2.commit();
  assert.deepEqual(await cs.read(d), data);
});

test('malformed digests are refused', async () => {
  const cs = await tmpStore();
  assert.throws(() => cs.path('sha256:xyz'), /malformed digest/);
  assert.throws(() => cs.path('md5:' + 'a'.repeat(32)), /malformed digest/);
});
