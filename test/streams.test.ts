/**
 * Interactive pod streams end to end through `skiff up`: the real kubectl (1.30+ over WebSocket
 * v5.channel.k8s.io, 1.27 over SPDY/3.1) → API server relay → node agent → runc/conmon, driven
 * from a real pseudo-terminal (node-pty) as a user at a terminal would: `kubectl exec -it` (prompt,
 * commands, the terminal's size and its changes, the shell's exit code), `kubectl attach`
 * (a stdin+tty container; a stdin-only container whose stdin closes after the session; a
 * container without stdin whose output streams), `kubectl run -it --rm --restart=Never`,
 * `kubectl cp` both ways with a directory tree. A raw v4.channel.k8s.io client checks the
 * older protocol and the Status the kubelet writes. Last, `skiff up` restarts and an attach
 * finds the same shell.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { ensureBusyboxImage, skiff } from './helpers/images.js';
import { kubectlBin } from './helpers/apiserver.js';
import { skiffUp, upStderr } from './helpers/up.js';
import { Terminal } from './helpers/terminal.js';
import { loadKubeconfig } from '../src/client/kubeconfig.js';

let root: string;
let proc: ChildProcess | undefined;
const terminals: Terminal[] = [];

const env = () => ({ PATH: process.env.PATH, HOME: root, KUBECONFIG: path.join(root, 'kubeconfig.yaml') });

/** Runs kubectl (1.33 unless `v`) to completion (never throws). */
function kubectl(args: string[], input?: string, v = '1.33'): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(kubectlBin(v), args, { env: env(), timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

/** kubectl (1.33 unless `v`) on a new pseudo-terminal of `cols`×`rows`. */
function kubectlTerminal(args: string[], cols = 100, rows = 30, v = '1.33'): Terminal {
  const t = new Terminal(kubectlBin(v), args, { cols, rows, env: { ...env(), TERM: 'xterm' } });
  terminals.push(t);
  return t;
}

const pod = (name: string, c: Record<string, unknown>, restartPolicy = 'Always') => JSON.stringify({
  apiVersion: 'v1', kind: 'Pod', metadata: { name },
  spec: { terminationGracePeriodSeconds: 1, restartPolicy, containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', ...c }] },
});

/** Types `stty size` until the shell reports `rows cols` (a resize travels apart from the keys). */
async function expectSize(t: Terminal, rows: number, cols: number): Promise<void> {
  const from = t.mark();
  for (let i = 0; i < 100; i++) {
    t.write('stty size\r');
    try { await t.waitFor(new RegExp(`\\r\\n${rows} ${cols}\\r\\n`), from, 300); return; } catch { /* not yet applied */ }
  }
  throw new Error(`the shell never saw ${rows}x${cols}: ${JSON.stringify(t.output.slice(from))}`);
}

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-streams-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  proc = await skiffUp(root, 'streams-test');
  let r = await kubectl(['wait', '--for=condition=Ready', 'node/streams-test', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  const pods = [
    pod('shell', { command: ['sleep', '3600'] }),
    pod('tty', { command: ['sh'], stdin: true, tty: true }, 'Never'),
    pod('reader', { command: ['sh', '-c', 'while read l; do echo "got $l"; done; echo "stdin closed"'], stdin: true, stdinOnce: true }, 'Never'),
    pod('ticker', { command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'] }),
    pod('keeper', { command: ['sh'], stdin: true, tty: true }),
  ];
  for (const p of pods) {
    r = await kubectl(['apply', '-f', '-'], p);
    assert.equal(r.code, 0, r.stderr);
  }
  r = await kubectl(['wait', '--for=condition=Ready', 'pod/shell', 'pod/tty', 'pod/reader', 'pod/ticker', 'pod/keeper', '--timeout=90s']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  for (const t of terminals) t.kill();
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  if (root) {
    await skiff(root, ['down']).catch(() => {});
    await fs.rm(root, { recursive: true, force: true });
  }
});

// kubectl 1.27 speaks SPDY; 1.30 is the first to speak WebSocket (v5) for exec by default.
for (const v of ['1.27', '1.30', '1.33']) test(`kubectl ${v} exec -it: a shell on a real terminal sees its size and resizes, and exits with its code`, async () => {
  const t = kubectlTerminal(['exec', '-it', 'shell', '--', 'sh'], 100, 30, v);
  await t.waitFor(/\/ # /);
  await expectSize(t, 30, 100);
  let from = t.mark();
  t.write('echo "term=$TERM on $(tty)"; echo $((6 * 7))\r');
  await t.waitFor(/term=xterm on \/dev\/pts\/\d+\r\n42\r\n/, from);
  // The window grows: kubectl sends the size on channel 4, the agent resizes runc's terminal.
  t.resize(132, 41);
  await expectSize(t, 41, 132);
  // Raw input: a Ctrl-C reaches the shell's terminal (interrupting the command line), not kubectl.
  from = t.mark();
  t.write('echo waiting; sleep 30; echo after\r');
  await t.waitFor(/\r\nwaiting\r\n/, from);
  t.write('\x03');
  t.write('echo interrupted\r');
  await t.waitFor(/\r\ninterrupted\r\n/, from, 20_000);
  assert.doesNotMatch(t.output.slice(from), /\r\nafter\r\n/);
  t.write('exit 7\r');
  assert.equal(await t.exited, 7);
});

test('kubectl exec -it: a client that vanishes hangs up the shell, and nothing is left running', async () => {
  const t = kubectlTerminal(['exec', '-it', 'shell', '--', 'sh']);
  await t.waitFor(/\/ # /);
  const from = t.mark();
  t.write('echo started; sleep 777\r');
  await t.waitFor(/\r\nstarted\r\n/, from);
  const shellLine = /\d+ root +sh\n/;
  let r = await kubectl(['exec', 'shell', '--', 'ps']);
  assert.match(r.stdout, /sleep 777/);
  assert.match(r.stdout, shellLine);
  t.kill();
  for (let i = 0; i < 100 && /sleep 777/.test(r.stdout); i++) {
    await new Promise((ok) => setTimeout(ok, 100));
    r = await kubectl(['exec', 'shell', '--', 'ps']);
  }
  assert.doesNotMatch(r.stdout, /sleep 777/);
  assert.doesNotMatch(r.stdout, shellLine, 'the shell is gone too');
  assert.doesNotMatch((await new Promise<string>((ok) => execFile('ps', ['-eo', 'args'], (_e, out) => ok(out)))), new RegExp(`runc .*${root}.* exec --tty`), 'no runc exec left on the host');
});

test('kubectl exec -it of a command that does not exist: exit code 127', async () => {
  const t = kubectlTerminal(['exec', '-it', 'shell', '--', 'no-such-command']);
  assert.equal(await t.exited, 127, t.output);
  assert.match(t.output, /command terminated with exit code 127/);
});

test('kubectl attach -it to a pod with stdin and tty: its shell, its terminal size, its exit', async () => {
  const t = kubectlTerminal(['attach', '-it', 'tty'], 90, 25);
  await t.waitFor(/If you don't see a command prompt, try pressing enter\./);
  t.write('\r');
  await t.waitFor(/\/ # /);
  await expectSize(t, 25, 90);
  t.resize(110, 35);
  await expectSize(t, 35, 110);
  const from = t.mark();
  t.write('echo "attached to $(hostname)"\r');
  await t.waitFor(/attached to tty\r\n/, from);
  t.write('exit 0\r');
  assert.equal(await t.exited, 0);
  const r = await kubectl(['wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/tty', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
});

test('kubectl attach -i to a stdinOnce container: input in, output out, stdin closed after the session', async () => {
  const r = await kubectl(['attach', '-i', 'reader'], 'hello\nworld\n');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /got hello\ngot world\nstdin closed\n/);
  const w = await kubectl(['wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/reader', '--timeout=60s']);
  assert.equal(w.code, 0, w.stderr);
});

test('kubectl attach to a container without stdin streams its output as it comes', async () => {
  const child = spawn(kubectlBin('1.33'), ['attach', 'ticker'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  try {
    const deadline = Date.now() + 30_000;
    let first: number | undefined;
    // Three new ticks after the first one seen: the output is live, not a replay of the log.
    while (Date.now() < deadline) {
      const ticks = [...out.matchAll(/tick (\d+)\n/g)].map((m) => Number(m[1]));
      if (ticks.length) first ??= ticks[0];
      if (first !== undefined && ticks.includes(first + 3)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ticks = [...out.matchAll(/tick (\d+)\n/g)].map((m) => Number(m[1]));
    assert.ok(ticks.length >= 4, out);
    assert.deepEqual(ticks, ticks.map((_, i) => ticks[0] + i), 'consecutive ticks');
    assert.ok(ticks[0] > 1, 'attach starts at the present, not at the log\'s start');
  } finally {
    child.kill('SIGINT');
  }
});

test('kubectl run -it --rm --restart=Never: a shell, then the pod is gone and its exit code returned', async () => {
  const t = kubectlTerminal(['run', 'oneshot', '-it', '--rm', '--restart=Never', '--image=busybox:1.36', '--image-pull-policy=IfNotPresent', '--', 'sh'], 80, 24);
  await t.waitFor(/If you don't see a command prompt, try pressing enter\./);
  t.write('\r');
  await t.waitFor(/\/ # /);
  const from = t.mark();
  t.write('echo "in $(hostname)"\r');
  await t.waitFor(/in oneshot\r\n/, from);
  t.write('exit 3\r');
  assert.equal(await t.exited, 3);
  assert.match(t.output, /pod "oneshot" deleted/);
  const r = await kubectl(['get', 'pod', 'oneshot', '--ignore-not-found', '-o', 'name']);
  assert.equal(r.stdout.trim(), '', 'the pod is deleted');
});

for (const v of ['1.27', '1.33']) test(`kubectl ${v} cp copies a directory tree into a pod and back out, byte for byte`, async () => {
  const src = path.join(root, `cp-src-${v}`);
  const files: Record<string, Buffer> = {
    'a.txt': Buffer.from('alpha\n'),
    'sub/b.txt': Buffer.from('beta with spaces\n'),
    'sub/deeper/c.bin': randomBytes(300_000),
  };
  for (const [f, data] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(src, f)), { recursive: true });
    await fs.writeFile(path.join(src, f), data);
  }
  const tree = `/tmp/tree-${v}`;
  let r = await kubectl(['cp', src, `shell:${tree}`], undefined, v);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl(['exec', 'shell', '--', 'sh', '-c', `cd ${tree} && find . -type f | sort && md5sum sub/deeper/c.bin && cat a.txt`]);
  assert.equal(r.code, 0, r.stderr);
  const md5 = createHash('md5').update(files['sub/deeper/c.bin']).digest('hex');
  assert.equal(r.stdout, `./a.txt\n./sub/b.txt\n./sub/deeper/c.bin\n${md5}  sub/deeper/c.bin\nalpha\n`);
  const dst = path.join(root, `cp-dst-${v}`);
  r = await kubectl(['cp', `shell:${tree}`, dst], undefined, v);
  assert.equal(r.code, 0, r.stderr);
  for (const [f, data] of Object.entries(files)) assert.ok((await fs.readFile(path.join(dst, f))).equals(data), f);
  // One file out, under a new name.
  r = await kubectl(['cp', `shell:${tree}/sub/b.txt`, path.join(root, `b-copy-${v}.txt`)], undefined, v);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await fs.readFile(path.join(root, `b-copy-${v}.txt`), 'utf8'), 'beta with spaces\n');
});

test('the v4 channel protocol: a terminal, input, and the exit code as a NonZeroExitCode Status', async () => {
  const creds = await loadKubeconfig(path.join(root, 'kubeconfig.yaml'));
  const q = new URLSearchParams([['command', 'sh'], ['stdin', 'true'], ['stdout', 'true'], ['tty', 'true']]);
  const ws = new WebSocket(`${creds.server.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/shell/exec?${q}`, ['v4.channel.k8s.io'], { ca: creds.ca, cert: creds.cert, key: creds.key });
  const got: Record<number, string> = {};
  ws.on('message', (m: Buffer) => { got[m[0]] = (got[m[0]] ?? '') + m.subarray(1).toString(); });
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  assert.equal(ws.protocol, 'v4.channel.k8s.io');
  ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('echo "tty: $(tty) term: $TERM"; exit 4\n')]));
  await new Promise((ok) => ws.once('close', ok));
  assert.match(got[1], /tty: \/dev\/pts\/\d+ term: xterm\r\n/);
  assert.equal(got[2], undefined, 'no stderr channel with a terminal');
  assert.deepEqual(JSON.parse(got[3]), {
    metadata: {}, status: 'Failure', message: 'command terminated with non-zero exit code: error executing command [sh], exit code 4',
    reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '4' }] },
  });
});

test('last: after skiff up restarts, attach reaches the same shell (adopted under its conmon)', async () => {
  let t = kubectlTerminal(['attach', '-it', 'keeper']);
  await t.waitFor(/If you don't see a command prompt, try pressing enter\./);
  let from = t.mark();
  t.write('MARK=set-before-the-restart; echo marked\r');
  await t.waitFor(/\r\nmarked\r\n/, from);
  t.kill();
  proc!.kill('SIGTERM');
  assert.equal(await new Promise((ok) => proc!.once('exit', ok)), 0, upStderr(proc!));
  proc = await skiffUp(root, 'streams-test');
  const r = await kubectl(['wait', '--for=condition=Ready', 'pod/keeper', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  t = kubectlTerminal(['attach', '-it', 'keeper']);
  await t.waitFor(/If you don't see a command prompt, try pressing enter\./);
  from = t.mark();
  t.write('echo "mark=$MARK"\r');
  await t.waitFor(/\r\nmark=set-before-the-restart\r\n/, from);
  t.kill();
});
