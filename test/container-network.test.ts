/**
 * `skiff run` on the pod network (real CNI plugins): the default bridge network with a
 * published port served to curl on the host, containers sharing a network with
 * `--network container:NAME` and `--pod`, and everything released on removal.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, skiff } from './helpers/images.js';
import { countLeaks, settledLeaks } from './helpers/containers.js';
import { freePort } from './helpers/registry.js';

const exec = promisify(execFile);
let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-ctrnet-'));
  await ensureBusyboxImage(root);
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

test('bridge by default, -p served to curl on the host, container:NAME and --pod share a network, nothing leaks', async () => {
  const before = await countLeaks(root);
  const ip = await skiff(root, ['run', '--rm', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(ip.stdout, /inet 10\.89\.\d+\.\d+\/16/, ip.stderr);
  const port = await freePort();
  const web = await skiff(root, ['run', '-d', '--name', 'web', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/var/www']);
  assert.equal(web.code, 0, web.stderr);
  let body = '';
  for (let i = 0; i < 50 && !body; i++) {
    body = await exec('curl', ['-s', '--max-time', '2', `http://127.0.0.1:${port}/`]).then((r) => r.stdout, () => '');
    if (!body) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(body, 'hello from skiff busybox\n');
  const side = await skiff(root, ['run', '--rm', '--network', 'container:web', 'busybox', 'wget', '-qO-', 'http://127.0.0.1/']);
  assert.equal(side.stdout, 'hello from skiff busybox\n', side.stderr);
  assert.equal(JSON.parse((await skiff(root, ['inspect', 'web'])).stdout)[0].HostConfig.NetworkMode, 'bridge');
  const pod = await skiff(root, ['pod', 'create', '--name', 'duo']);
  assert.equal(pod.code, 0, pod.stderr);
  await skiff(root, ['run', '-d', '--pod', 'duo', '--name', 'srv', 'busybox', 'httpd', '-f', '-p', '81', '-h', '/var/www']);
  const local = await skiff(root, ['run', '--rm', '--pod', 'duo', 'busybox', 'wget', '-qO-', 'http://localhost:81/']);
  assert.equal(local.stdout, 'hello from skiff busybox\n', local.stderr);
  const hostname = await skiff(root, ['run', '--rm', '--pod', 'duo', 'busybox', 'hostname']);
  assert.equal(hostname.stdout, 'duo\n', 'containers see the pod\'s hostname');
  const refused = await skiff(root, ['pod', 'rm', 'duo']);
  assert.match(refused.stderr, /has containers \(srv\)/);
  assert.equal((await skiff(root, ['rm', '-f', 'srv', 'web'])).code, 0);
  assert.equal((await skiff(root, ['pod', 'rm', 'duo'])).code, 0);
  assert.deepEqual(await settledLeaks(root, before), before);
});
