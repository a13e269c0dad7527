/**
 * withLock: mutual exclusion within a process (queued in memory, in arrival order) and across
 * processes (the file lock), release on failure, on SIGTERM, and take-over of a stale lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withLock } from './lock.js';

test('holders in one process run one at a time, in arrival order, and a failure releases the lock', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-lock-'));
  const file = path.join(dir, 'x');
  let inside = 0;
  const order: number[] = [];
  const runs = Array.from({ length: 20 }, (_, i) => withLock(file, async () => {
    inside++;
    assert.equal(inside, 1, 'one holder at a time');
    await new Promise((r) => setTimeout(r, 2));
    order.push(i);
    inside--;
    if (i === 5) throw new Error('boom');
    return i;
  }));
  const results = await Promise.allSettled(runs);
  assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
  assert.equal(await withLock(file, async () => 'free again'), 'free again');
  await fs.rm(dir, { recursive: true, force: true });
});

test('another process holding the lock keeps this one out until it lets go', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-lock-'));
  const file = path.join(dir, 'x');
  const lockUrl = new URL('./lock.js', import.meta.url).href;
  // The other process takes the lock, says so, and holds it for 300 ms.
  const other = spawn(process.execPath, ['--input-type=module', '-e',
    `const { withLock } = await import(${JSON.stringify(lockUrl)}); await withLock(${JSON.stringify(file)}, async () => { console.log('held'); await new Promise((r) => setTimeout(r, 300)); console.log('released'); });`],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  // Listened for at once: the other process may exit before this one gets the lock.
  const exited = new Promise((r) => other.once('exit', r));
  let out = '';
  await new Promise<void>((r) => other.stdout.on('data', (d) => { out += d; if (out.includes('held')) r(); }));
  await withLock(file, async () => {
    assert.match(out, /released/, 'entered only after the other process released it');
  });
  await exited;
  await fs.rm(dir, { recursive: true, force: true });
});

const LOCK_JS = new URL('./lock.js', import.meta.url).href;

async function tmp(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'skiff-lock-test-'));
}

/** A child process that takes the lock of `file`, prints "held", and holds it until killed. */
function holder(file: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `const { withLock } = await import(${JSON.stringify(LOCK_JS)});
     await withLock(${JSON.stringify(file)}, async () => { console.log('held'); await new Promise(() => setInterval(() => {}, 1000)); });`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const held = new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
  return { child, held, exited };
}

test('another process waits for the holder; a holder ended by SIGTERM removes its lock', async () => {
  const dir = await tmp();
  const file = path.join(dir, 'thing');
  const h = holder(file);
  await h.held;
  let entered = false;
  const waiting = withLock(file, async () => { entered = true; });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(entered, false, 'entered while another process held the lock');
  h.child.kill('SIGTERM');
  assert.equal(await h.exited, 'SIGTERM', 'the holder still ends by the signal');
  await waiting;
  assert.equal(entered, true);
  assert.equal(existsSync(`${file}.lock`), false);
  await fs.rm(dir, { recursive: true });
});

test('a lock left by a killed holder is taken over once stale, not before', async () => {
  const dir = await tmp();
  const file = path.join(dir, 'thing');
  const h = holder(file);
  await h.held;
  h.child.kill('SIGKILL');
  await h.exited;
  assert.equal(existsSync(`${file}.lock`), true, 'SIGKILL cannot clean up');
  // Fresh: still respected for a while.
  let entered = false;
  const waiting = withLock(file, async () => { entered = true; });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(entered, false);
  // Not refreshed for longer than the stale limit: abandoned, taken over.
  const old = new Date(Date.now() - 60_000);
  await fs.utimes(`${file}.lock`, old, old);
  await waiting;
  assert.equal(entered, true);
  assert.equal(existsSync(`${file}.lock`), false);
  await fs.rm(dir, { recursive: true });
});
