/**
 * The kubelet's --streaming-connection-idle-timeout through `skiff up` (set to 1 s here; 4 h by
 * default) with the real kubectl 1.27 (SPDY) and 1.33 (WebSocket; port-forward as SPDY in a
 * WebSocket): an exec, attach or port-forward connection that carries nothing for the timeout is
 * closed, one that keeps carrying data is not. Bounds are generous: what is asserted is which
 * connection ends, not how fast.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import http from 'node:http';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { ensureBusyboxImage } from './helpers/images.js';
import { kubectlBin } from './helpers/apiserver.js';
import { skiffUp, skiffUpCleanup } from './helpers/up.js';

const NODE = 'idle-test';
let root: string;
let proc: ChildProcess | undefined;
const children: ChildProcess[] = [];

const env = () => ({ PATH: process.env.PATH, HOME: root, KUBECONFIG: path.join(root, 'kubeconfig.yaml') });

/** Runs kubectl `v` to completion: exit code, output and how long it ran. */
function kubectl(v: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const c = execFile(kubectlBin(v), args, { env: env(), timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr, ms: Date.now() - t0 });
    });
    c.stdin!.end();
  });
}

/** Starts `kubectl port-forward pod/idle PORT:8080` and waits until it listens. */
async function portForward(v: string, port: number): Promise<{ p: ChildProcess; exited: Promise<number | null>; err: () => string }> {
  const p = spawn(kubectlBin(v), ['port-forward', 'pod/idle', `${port}:8080`], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  let out = '', err = '';
  p.stdout!.on('data', (d) => { out += d; });
  p.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  await new Promise<void>((ok, fail) => {
    const t = setInterval(() => { if (out.includes(`Forwarding from 127.0.0.1:${port}`)) { clearInterval(t); ok(); } }, 50);
    void exited.then((c) => { clearInterval(t); fail(new Error(`kubectl port-forward exited ${c}: ${err}`)); });
  });
  return { p, exited, err: () => err };
}

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/index.html', agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-idle-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  proc = await skiffUp(root, NODE, {}, ['--streaming-connection-idle-timeout', '1s']);
  let r = await kubectl('1.33', ['wait', '--for=condition=Ready', `node/${NODE}`, '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  const pod = (name: string, command: string[]) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command }] },
  });
  const list = { apiVersion: 'v1', kind: 'List', items: [
    pod('idle', ['httpd', '-f', '-p', '8080', '-h', '/var/www']),
    pod('ticker', ['sh', '-c', 'while true; do echo tick; sleep 0.25; done']),
  ] };
  r = await new Promise((resolve) => {
    const c = execFile(kubectlBin('1.33'), ['apply', '-f', '-'], { env: env() }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr, ms: 0 }));
    c.stdin!.end(JSON.stringify(list));
  });
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['wait', '--for=condition=Ready', 'pod/idle', 'pod/ticker', '--timeout=90s']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await skiffUpCleanup(proc, root);
});

for (const v of ['1.27', '1.33']) {
  test(`kubectl ${v} exec: a silent command's connection is closed, a talking one is not`, async () => {
    // Output every 0.25 s for 5 s: five times the timeout, never idle for it.
    const talk = await kubectl(v, ['exec', 'idle', '--', 'sh', '-c', 'for i in $(seq 1 20); do echo tick $i; sleep 0.25; done']);
    assert.equal(talk.code, 0, talk.stderr);
    assert.equal(talk.stdout.trim().split('\n').length, 20);
    assert.match(talk.stdout, /tick 20\n$/);
    // 60 s of silence: the connection is closed long before the command would end. (How
    // kubectl ends then is its own: 1.27 sees its SPDY streams end without a status and exits 0,
    // as with a kubelet.)
    const silent = await kubectl(v, ['exec', 'idle', '--', 'sleep', '60']);
    assert.ok(silent.ms < 30_000, `the idle exec ran ${silent.ms} ms (exit ${silent.code}: ${silent.stderr})`);
    assert.equal(silent.stdout, '');
    // The agent ended the exec'd process with its connection.
    for (let i = 0; i < 50; i++) {
      const ps = await kubectl('1.33', ['exec', 'idle', '--', 'ps', '-o', 'args']);
      if (!/sleep 60/.test(ps.stdout)) return;
      await sleep(200);
    }
    assert.fail('the idle exec left its process running');
  });

  test(`kubectl ${v} port-forward: an idle connection is closed, a busy one is not`, async () => {
    const port = v === '1.27' ? 18127 : 18133;
    const busy = await portForward(v, port);
    // A request every 0.3 s for 5 s.
    for (let i = 0; i < 16; i++) {
      assert.equal(await get(port), 200);
      await sleep(300);
    }
    assert.equal(busy.p.exitCode, null, `the busy port-forward ended: ${busy.err()}`);
    // Now nothing: kubectl loses its connection and exits.
    const code = await Promise.race([busy.exited, sleep(30_000).then(() => 'running')]);
    assert.notEqual(code, 'running', 'the idle port-forward connection was not closed');
    assert.match(busy.err(), /lost connection to pod|an error occurred forwarding|error/i);
  });
}

test('kubectl 1.33 attach: a silent container\'s session is closed, a talking one\'s is not', async () => {
  // httpd writes nothing: the attach connection idles and is closed.
  const silent = await kubectl('1.33', ['attach', 'idle'], 60_000);
  assert.ok(silent.ms < 30_000, `the idle attach ran ${silent.ms} ms`);
  // A container printing every 0.25 s keeps its session for 5 s and more.
  const p = spawn(kubectlBin('1.33'), ['attach', 'ticker'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  let out = '';
  p.stdout!.on('data', (d) => { out += d; });
  await sleep(5000);
  assert.equal(p.exitCode, null, 'the busy attach ended');
  assert.ok(out.split('tick').length > 10, out);
  p.kill('SIGTERM');
});
