/**
 * Stress: 200 sequential and 20 concurrent `skiff run --rm` leave no mounts, cgroups, runtime
 * state, conmon processes, records or attach links behind; a skiff killed mid-create is cleaned
 * up by the next command, and the deep recovery pass removes attach links left dangling.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ensureBusyboxImage, skiff, SKIFF } from './helpers/images.js';
import { countLeaks, settledLeaks } from './helpers/containers.js';

let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-stress-'));
  await ensureBusyboxImage(root);
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

test('200 sequential run --rm leave nothing behind', async () => {
  const before = await countLeaks(root);
  for (let i = 0; i < 200; i++) {
    // Every 10th on the bridge network (a pod sandbox each), the rest without a network.
    const r = await skiff(root, ['run', '--rm', ...(i % 10 ? ['--network', 'none'] : []), 'busybox', 'true']);
    assert.equal(r.code, 0, `run ${i}: ${r.stderr}`);
  }
  assert.deepEqual(await settledLeaks(root, before), before);
});

test('20 concurrent run --rm (bridge network) leave nothing behind', async () => {
  const before = await countLeaks(root);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => skiff(root, ['run', '--rm', 'busybox', 'sh', '-c', `echo ${i}`])));
  results.forEach((r, i) => {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${i}\n`);
  });
  assert.deepEqual(await settledLeaks(root, before), before);
});

test('a skiff killed mid-create is cleaned up by the next command', async () => {
  const before = await countLeaks(root);
  // Kill the creating process at several moments: before, during and after the runtime's create.
  for (const delayMs of [60, 120, 180, 240, 300]) {
    const child = spawn(process.execPath, [SKIFF, '--root', root, 'run', 'busybox', 'sleep', '100'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, delayMs));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Whatever it left: the next command reconciles (a running container it had started is
    // a legitimate container; remove those as a user would).
    const ps = await skiff(root, ['ps', '-aq']);
    for (const id of ps.stdout.split('\n').filter(Boolean)) await skiff(root, ['rm', '-f', id]);
  }
  // A run killed right after making its sandbox's directory leaves it empty; the next command
  // that comes more than 2 s later (the margin given to live creators) removes it.
  await new Promise((r) => setTimeout(r, 2500));
  await skiff(root, ['ps', '-a']);
  assert.deepEqual(await settledLeaks(root, before), before);
});

test('the deep recovery pass (ps -a) removes attach links whose container is gone, and only those', async () => {
  const r = await skiff(root, ['run', '-d', 'busybox', 'sleep', '100']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const sock = path.join(root, 'run', 'sock');
  // As left by a crash between the unlink and the record's removal (or by an older version).
  await fs.symlink(path.join(root, 'containers', 'f'.repeat(64), 'bundle'), path.join(sock, 'f'.repeat(12)));
  assert.equal((await skiff(root, ['ps', '-a'])).code, 0);
  assert.deepEqual(await fs.readdir(sock), [id.slice(0, 12)], 'the live container keeps its link');
  assert.equal((await skiff(root, ['rm', '-f', id])).code, 0);
  assert.deepEqual(await fs.readdir(sock), []);
});
