/**
 * `skiff server` as a user runs it: prints where the kubeconfig is, writes credentials 0600,
 * reuses them on restart, refuses bad flags with one line, and stops cleanly on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../src/client/client.js';

const SKIFF = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cmd/skiff.js');

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile(process.execPath, [SKIFF, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
    resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr })));
}

async function serve(root: string) {
  const proc = spawn(process.execPath, [SKIFF, '--root', root, 'server', '--port', '0', '--store', 'memory://'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((ok, fail) => {
    proc.stdout!.on('data', (d) => { out += d; if (out.includes('kubeconfig:')) ok(); });
    proc.once('exit', (code) => fail(new Error(`exited ${code}`)));
  });
  return { proc, out };
}

test('skiff server: credentials, kubeconfig, restart, SIGTERM', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-srv-'));
  try {
    const { proc, out } = await serve(root);
    assert.match(out, /^skiff: API server listening on https:\/\/127\.0\.0\.1:\d+\nskiff: kubeconfig: .*kubeconfig\.yaml\nskiff: running .+\n$/);
    assert.equal((await fs.stat(path.join(root, 'kubeconfig.yaml'))).mode & 0o777, 0o600);
    for (const f of await fs.readdir(path.join(root, 'server'))) assert.equal((await fs.stat(path.join(root, 'server', f))).mode & 0o777, 0o600, f);
    const c = await ApiClient.fromKubeconfig(path.join(root, 'kubeconfig.yaml'));
    assert.equal((await c.get({ group: '', version: 'v1', resource: 'namespaces' }, undefined, 'default')).metadata.name, 'default');
    c.close();
    // skiff kubectl: the real kubectl with this root's kubeconfig, exit status passed through.
    const k = await run(['--root', root, 'kubectl', 'get', 'namespaces', '-o', 'name'], { HOME: root });
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, /^namespace\/default$/m);
    const missing = await run(['--root', root, 'kubectl', 'get', 'pod', 'nothere'], { HOME: root });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pods "nothere" not found/);
    const ca = await fs.readFile(path.join(root, 'server', 'ca.crt'), 'utf8');
    proc.kill('SIGTERM');
    const code = await new Promise((r) => proc.once('exit', (c2) => r(c2)));
    assert.equal(code, 0, 'a clean stop');
    const again = await serve(root);
    assert.equal(await fs.readFile(path.join(root, 'server', 'ca.crt'), 'utf8'), ca, 'the CA is kept across restarts');
    again.proc.kill('SIGTERM');
    await new Promise((r) => again.proc.once('exit', r));
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('skiff server: bad flags are one line and a non-zero exit', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-srv-'));
  try {
    let r = await run(['--root', root, 'server', '--port', 'abc']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr, 'skiff: invalid --port "abc": want 0-65535\n');
    r = await run(['--root', root, 'server', '--port', '0', '--store', 'postgres://x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^skiff: unsupported store URL "postgres:\/\/x": use sqlite:\/\/PATH, etcd:\/\/HOST:PORT or memory:\/\/\n$/);
    r = await run(['--root', root, 'server', '--port', '0', '--disable', 'kube-proxy']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^skiff: unknown component kube-proxy in --disable \(known: scheduler, controllers.*\)\n$/);
    r = await run(['--root', root, 'server', '--port', '0', '--node-monitor-grace-period', '-1']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr, 'skiff: invalid --node-monitor-grace-period "-1": want seconds > 0\n');
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});
