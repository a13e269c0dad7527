/**
 * Reading CRI logs as the kubelet serves them: partial chunks joined, tail, since (after the
 * tail, inclusive), timestamps, the two streams apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { streamLogs } from './logs.js';

const LOG = [
  '2026-01-01T00:00:01.000000001+00:00 stdout F one',
  '2026-01-01T00:00:02.500000000+00:00 stderr F two',
  '2026-01-01T00:00:03.000000000+00:00 stdout P thr',
  '2026-01-01T00:00:03.000000100+00:00 stdout F ee',
  '2026-01-01T00:00:04.000000000+00:00 stdout F four',
].join('\n') + '\n';

async function read(o: Parameters<typeof streamLogs>[3]): Promise<{ out: string; err: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-logs-'));
  try {
    await fs.writeFile(path.join(dir, 'log'), LOG);
    const out = new PassThrough(), err = new PassThrough();
    let o1 = '', e1 = '';
    out.on('data', (d) => { o1 += d; });
    err.on('data', (d) => { e1 += d; });
    await streamLogs(path.join(dir, 'log'), out, err, o);
    return { out: o1, err: e1 };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('logs: streams, partial lines, tail, since and timestamps', async () => {
  assert.deepEqual(await read({}), { out: 'one\nthree\nfour\n', err: 'two\n' });
  assert.deepEqual(await read({ tail: 2 }), { out: 'three\nfour\n', err: '' });
  assert.deepEqual(await read({ tail: 0 }), { out: '', err: '' });
  const at = (s: string) => Date.parse(`2026-01-01T00:00:0${s}Z`);
  assert.deepEqual(await read({ since: at('2.5') }), { out: 'three\nfour\n', err: 'two\n' }, 'a line at the since time is kept');
  assert.deepEqual(await read({ since: at('2.501') }), { out: 'three\nfour\n', err: '' });
  // tail first, then since: the last 3 lines, of which those since 00:00:04.
  assert.deepEqual(await read({ tail: 3, since: at('4') }), { out: 'four\n', err: '' });
  assert.equal((await read({ tail: 1, timestamps: true })).out, '2026-01-01T00:00:04.000000000+00:00 four\n');
});
