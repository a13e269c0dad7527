/**
 * Port-forward and SPDY streams end to end through `skiff up`: kubectl → API server (relay) →
 * node agent → localhost:PORT inside the pod's network namespace (real runc, CNI, busybox
 * httpd). kubectl 1.27 speaks SPDY/3.1, kubectl 1.33 tunnels SPDY in a WebSocket, and
 * @kubernetes/client-node uses the WebSocket channel protocol; kubectl 1.27's exec uses SPDY.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import crypto from 'node:crypto';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { SKIFF, ensureBusyboxImage, skiff } from './helpers/images.js';
import { kubectlBin } from './helpers/apiserver.js';
import { loadKubeconfig } from '../src/client/kubeconfig.js';
import { SpdySession } from '../src/agent/streams/spdy.js';
import WebSocket from 'ws';

let root: string;
let kubeconfig: string;
let proc: ChildProcess | undefined;
const forwards: ChildProcess[] = [];

// 2 MiB the pod serves (well past SPDY's 64 KiB initial window: no flow-control stall).
const BIG = Buffer.alloc(2 * 1024 * 1024, 'skiff\n');
const BIG_SHA = crypto.createHash('sha256').update(BIG).digest('hex');

function kubectl(v: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(kubectlBin(v), args, { env: { ...process.env, KUBECONFIG: kubeconfig, HOME: root }, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) c.stdin!.end(input);
  });
}

/** Starts `kubectl port-forward` and waits until it listens on every local port. */
async function portForward(v: string, args: string[], extra: string[] = []): Promise<{ p: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> }> {
  const p = spawn(kubectlBin(v), ['port-forward', ...extra, ...args], { env: { ...process.env, KUBECONFIG: kubeconfig, HOME: root }, stdio: ['ignore', 'pipe', 'pipe'] });
  forwards.push(p);
  let out = '', err = '';
  p.stdout!.on('data', (d) => { out += d; });
  p.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  const locals = args.slice(1).map((a) => a.split(':')[0]);
  await new Promise<void>((ok, fail) => {
    const t = setInterval(() => { if (locals.every((l) => out.includes(`Forwarding from 127.0.0.1:${l} ->`))) { clearInterval(t); ok(); } }, 50);
    void exited.then((c) => { clearInterval(t); fail(new Error(`kubectl port-forward exited ${c}: ${err}`)); });
  });
  return { p, out: () => out, err: () => err, exited };
}

function get(port: number, path = '/'): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Opens `n` TCP connections first, then sends a request on each: n streams at once. */
async function concurrent(port: number, n: number): Promise<string[]> {
  const socks = await Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((ok, fail) => {
    const s = net.connect(port, '127.0.0.1', () => ok(s));
    s.once('error', fail);
  })));
  return Promise.all(socks.map((s, i) => new Promise<string>((ok) => {
    let t = '';
    s.on('data', (d) => { t += d; });
    s.on('end', () => ok(t));
    s.write(`GET /index.html?c=${i} HTTP/1.0\r\nHost: x\r\n\r\n`);
  })));
}

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-pf-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  proc = spawn(process.execPath, [SKIFF, '--root', root, 'up', '--port', '0', '--node-name', 'pf-test'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' } });
  let out = '', err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  kubeconfig = await new Promise<string>((ok, fail) => {
    proc!.stdout!.on('data', (d) => { out += d; const m = /kubeconfig: (\S+)/.exec(out); if (m) ok(m[1]); });
    proc!.once('exit', (code) => fail(new Error(`skiff up exited ${code}: ${err}`)));
  });
  let r = await kubectl('1.33', ['wait', '--for=condition=Ready', 'node/pf-test', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  // httpd on :80 (the pod IP and loopback), a second one bound to 127.0.0.1:8081 only.
  const script = [
    'mkdir -p /www /lo', 'echo hello from the pod > /www/index.html', `yes skiff | head -c ${BIG.length} > /www/big.bin`,
    'echo only on loopback > /lo/index.html', 'httpd -p 127.0.0.1:8081 -h /lo', 'exec httpd -f -p 80 -h /www',
  ].join(' && ');
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'web', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script] }] } };
  r = await kubectl('1.33', ['apply', '-f', '-'], JSON.stringify(pod));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['wait', '--for=condition=Ready', 'pod/web', '--timeout=90s']);
  assert.equal(r.code, 0, r.stderr);
  // httpd writes its files before it listens: wait until the content is there.
  for (let i = 0; i < 100; i++) {
    r = await kubectl('1.33', ['exec', 'web', '--', 'sh', '-c', `test $(wc -c < /www/big.bin) -eq ${BIG.length} && wget -qO- http://127.0.0.1:8081/`]);
    if (r.code === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r.stdout, 'only on loopback\n', r.stderr);
});

after(async () => {
  for (const p of forwards) if (p.exitCode === null) p.kill('SIGKILL');
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  if (root) {
    await skiff(root, ['down']).catch(() => {});
    await fs.rm(root, { recursive: true, force: true });
  }
});

for (const v of ['1.27', '1.33']) {
  test(`kubectl ${v} port-forward (${v === '1.27' ? 'SPDY/3.1' : 'SPDY in a WebSocket'}): httpd in the pod, a server on the pod's 127.0.0.1, 2 MiB intact, 6 connections at once`, async () => {
    const base = v === '1.27' ? 18080 : 18090;
    const f = await portForward(v, ['pod/web', `${base}:80`, `${base + 1}:8081`], ['-v=4']);
    let r = await get(base);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello from the pod\n');
    r = await get(base + 1);
    assert.equal(r.body.toString(), 'only on loopback\n', 'reached a server bound to 127.0.0.1 inside the pod');
    r = await get(base, '/big.bin');
    assert.equal(r.body.length, BIG.length);
    assert.equal(crypto.createHash('sha256').update(r.body).digest('hex'), BIG_SHA);
    const answers = await concurrent(base, 6);
    for (const a of answers) assert.match(a, /^HTTP\/1\.[01] 200 OK[\s\S]*\r\n\r\nhello from the pod\n$/);
    assert.equal((f.out().match(/Handling connection for \d+/g) ?? []).length, 9);
    if (v === '1.33') assert.match(f.err(), /negotiated protocol: portforward\.k8s\.io/, 'the WebSocket tunnel was used, not the SPDY fallback');
    f.p.kill('SIGINT');
    await f.exited;
  });
}

test('a port with nothing listening: the kubelet\'s error reaches kubectl (1.27 and 1.33), which then gives up as it does with a kubelet', async () => {
  for (const [v, local] of [['1.27', 18082], ['1.33', 18092]] as const) {
    const f = await portForward(v, ['pod/web', `${local}:9`]);
    // The local connection is accepted, then closed without data.
    const got = await new Promise<string>((ok) => {
      const s = net.connect(local, '127.0.0.1');
      let t = '';
      s.on('data', (d) => { t += d; });
      s.on('close', () => ok(t));
      s.on('error', () => ok(t));
    });
    assert.equal(got, '');
    await f.exited;
    assert.match(f.err(), new RegExp(`an error occurred forwarding ${local} -> 9: error forwarding port 9 to pod [0-9a-f]{64}, uid : failed to execute portforward in network namespace \\\\?"[^"]+\\\\?": failed to connect to localhost:9 inside namespace \\\\?"[0-9a-f]{64}\\\\?", IPv4: dial tcp4 127\\.0\\.0\\.1:9: connect: connection refused IPv6 dial tcp6 \\[::1\\]:9: connect: `));
    assert.match(f.err(), /lost connection to pod/);
  }
});

test('one SPDY connection survives a failed forward: the next stream pairs on it are forwarded', async () => {
  const creds = await loadKubeconfig(kubeconfig);
  const url = new URL(creds.server);
  const sock = tls.connect({ host: url.hostname, port: Number(url.port), ca: creds.ca, cert: creds.cert, key: creds.key, ALPNProtocols: ['http/1.1'] });
  await new Promise<void>((ok, fail) => { sock.once('secureConnect', ok); sock.once('error', fail); });
  sock.write(`POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: ${url.host}\r\n${creds.token ? `Authorization: Bearer ${creds.token}\r\n` : ''}`
    + 'Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n');
  const head = await new Promise<string>((ok) => {
    let t = '';
    const on = (d: Buffer) => { t += d.toString('latin1'); if (t.includes('\r\n\r\n')) { sock.off('data', on); ok(t); } };
    sock.on('data', on);
  });
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(head, /\r\nX-Stream-Protocol-Version: portforward\.k8s\.io\r\n/i);
  const session = new SpdySession(sock, 'client');
  const text = (s: NodeJS.ReadableStream) => new Promise<string>((ok) => { let t = ''; s.on('data', (d) => { t += d; }); s.on('end', () => ok(t)); s.on('close', () => ok(t)); });
  const pairOf = async (port: number, id: number) => {
    const error = session.createStream({ streamtype: ['error'], port: [String(port)], requestid: [String(id)] });
    await error.replied;
    error.end(); // the client never writes on it
    const data = session.createStream({ streamtype: ['data'], port: [String(port)], requestid: [String(id)] });
    await data.replied;
    return { error, data };
  };
  // Nothing on port 9: the message on the error stream, both streams end.
  const bad = await pairOf(9, 0);
  const [msg, nothing] = await Promise.all([text(bad.error), text(bad.data)]);
  assert.match(msg, /^error forwarding port 9 to pod [0-9a-f]{64}, uid : failed to execute portforward in network namespace .*connection refused/);
  assert.equal(nothing, '');
  // A stream without a port is refused (reset), as the kubelet's httpStreamReceived does.
  const refused = session.createStream({ streamtype: ['data'] });
  await assert.rejects(refused.replied, /reset/);
  // The same connection then forwards, two pairs at once.
  const [a, b] = await Promise.all([pairOf(80, 1), pairOf(8081, 2)]);
  a.data.write('GET / HTTP/1.0\r\n\r\n');
  b.data.write('GET / HTTP/1.0\r\n\r\n');
  const [ra, rb, ea, eb] = await Promise.all([text(a.data), text(b.data), text(a.error), text(b.error)]);
  assert.match(ra, /\r\n\r\nhello from the pod\n$/);
  assert.match(rb, /\r\n\r\nonly on loopback\n$/);
  assert.deepEqual([ea, eb], ['', '']);
  session.close();
});

test('@kubernetes/client-node PortForward (WebSocket channels): data through a local server; an unserved port reports on the error channel', async () => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const pf = new k8s.PortForward(kc);
  const server = net.createServer((socket) => { void pf.portForward('default', 'web', [80], socket, null, socket); });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = await get(port);
    assert.equal(r.body.toString(), 'hello from the pod\n');
    const big = await get(port, '/big.bin');
    assert.equal(crypto.createHash('sha256').update(big.body).digest('hex'), BIG_SHA);
  } finally {
    server.close();
  }
  // Port 9: the error arrives on the port's error channel, then the WebSocket closes.
  let errText = '';
  const errOut = new Writable({ write(c, _e, cb) { errText += c; cb(); } });
  const ws = await pf.portForward('default', 'web', [9], new PassThrough(), errOut, new PassThrough()) as any;
  await new Promise<void>((ok) => ws.once('close', () => ok()));
  assert.match(errText, /^error forwarding port 9 to pod [0-9a-f]{64}, uid : .*connection refused/);
  // Without ports the kubelet refuses the WebSocket before upgrading.
  const creds = await loadKubeconfig(kubeconfig);
  const refused = await new Promise<{ code: number; body: string }>((ok, fail) => {
    const w = new WebSocket(`${creds.server.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/web/portforward`, ['v4.channel.k8s.io'],
      { ca: creds.ca, cert: creds.cert, key: creds.key, headers: creds.token ? { Authorization: `Bearer ${creds.token}` } : {} });
    w.on('unexpected-response', (_req, res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => ok({ code: res.statusCode ?? 0, body: b })); });
    w.on('open', () => fail(new Error('upgraded without ports')));
  });
  assert.deepEqual(refused, { code: 400, body: 'query parameter "port" is required\n' });
});

test('kubectl 1.27 exec over SPDY: stdout, stderr, stdin, exit codes, 1 MiB of output', async () => {
  let r = await kubectl('1.27', ['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'out\n');
  assert.match(r.stderr, /^err\n/);
  assert.match(r.stderr, /command terminated with exit code 3/);
  r = await kubectl('1.27', ['exec', '-i', 'web', '--', 'tr', 'a-z', 'A-Z'], 'shout\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'SHOUT\n');
  r = await kubectl('1.27', ['exec', 'web', '--', 'sh', '-c', 'yes spdy | head -c 1048576']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.length, 1048576);
  r = await kubectl('1.27', ['exec', 'web', '--', 'no-such-command']);
  assert.equal(r.code, 127, r.stderr);
});

/** PIDs of the socat processes whose parent is `ppid`. */
async function socatChildren(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const d of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await fs.readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && m[1] === 'socat' && Number(m[2]) === ppid) out.push(Number(d));
  }
  return out;
}

test('last: an agent killed mid-forward leaves no socat behind (each sees its stdin end)', async () => {
  const f = await portForward('1.27', ['pod/web', '18085:80']);
  const sock = net.connect(18085, '127.0.0.1');
  sock.on('error', () => {});
  sock.write('GET / HTTP/1.1\r\n'); // an unfinished request: httpd keeps the connection open
  let pids: number[] = [];
  for (let i = 0; i < 100 && !pids.length; i++) { pids = await socatChildren(proc!.pid!); if (!pids.length) await new Promise((r) => setTimeout(r, 50)); }
  assert.equal(pids.length, 1, 'one socat for the open connection');
  proc!.kill('SIGKILL');
  await new Promise((r) => proc!.once('exit', r));
  const alive = () => pids.filter((p) => { try { process.kill(p, 0); return true; } catch { return false; } });
  for (let i = 0; i < 100 && alive().length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(alive(), []);
  sock.destroy();
  f.p.kill('SIGKILL');
});
