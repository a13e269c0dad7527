/**
 * The integration contract, proven with real runc: two containers join one sandbox by its
 * pinned namespace paths (OCI linux.namespaces[].path) and bind-mount its /etc/hosts,
 * /etc/resolv.conf and /etc/hostname — as the container engine will — and talk over
 * localhost; the pod's published port reaches the container from the host. Bundles are
 * made here from busybox-static (no image store needed).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SandboxManager, type SandboxRecord } from '../src/engine/network/sandbox.js';
import { countLeaks, dropNetworkRoot, eventually, exec, networkRoot, type LeakCounts } from './network-helpers.js';

const BRIDGE = 'skrunc0';
let root: string;
let mgr: SandboxManager;
let base: LeakCounts;
const started: string[] = [];

before(async () => {
  root = await networkRoot('skiff-network-runc-', BRIDGE, '10.89.242.0/24');
  mgr = new SandboxManager(root);
  base = await countLeaks(root, BRIDGE);
});

after(async () => {
  for (const id of started) await runc('delete', '-f', id).catch(() => {});
  for (const r of await mgr.list()) await mgr.remove(r.id, { force: true }).catch(() => {});
  await dropNetworkRoot(root, BRIDGE);
});

const runc = (...args: string[]) => exec('runc', ['--root', path.join(root, 'runc'), ...args]);

/** A bundle running `busybox ARGS` in the sandbox's net/ipc/uts namespaces with its files. */
async function bundle(name: string, pod: SandboxRecord, args: string[]): Promise<string> {
  const dir = path.join(root, 'bundles', name);
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'www', 'proc', 'dev', 'sys', 'tmp']) await fs.mkdir(path.join(rootfs, d), { recursive: true });
  await fs.copyFile('/usr/bin/busybox', path.join(rootfs, 'bin/busybox'));
  await fs.chmod(path.join(rootfs, 'bin/busybox'), 0o755);
  await fs.writeFile(path.join(rootfs, 'www/index.html'), `served by ${name}\n`);
  for (const f of ['hosts', 'resolv.conf', 'hostname']) await fs.writeFile(path.join(rootfs, 'etc', f), '');
  await exec('runc', ['spec', '--bundle', dir]);
  const spec = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['/bin/busybox', ...args];
  spec.root.readonly = false;
  spec.hostname = undefined; // the UTS namespace is the pod's: its hostname is already set
  spec.linux.namespaces = [
    { type: 'pid' }, { type: 'mount' },
    { type: 'network', path: pod.namespaces.net },
    { type: 'ipc', path: pod.namespaces.ipc },
    { type: 'uts', path: pod.namespaces.uts },
  ];
  spec.mounts.push(
    { destination: '/etc/hosts', type: 'bind', source: pod.files.hosts, options: ['rbind', 'ro'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: pod.files.resolvConf, options: ['rbind', 'ro'] },
    { destination: '/etc/hostname', type: 'bind', source: pod.files.hostname, options: ['rbind', 'ro'] },
  );
  await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/** Starts a container detached (runc run -d) and remembers it for cleanup. */
async function runDetached(id: string, dir: string): Promise<void> {
  started.push(id);
  await new Promise<void>((resolve, reject) => {
    const p = spawn('runc', ['--root', path.join(root, 'runc'), 'run', '-d', '--bundle', dir, id], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run ${id}: ${err}`))));
  });
}

test('two runc containers in one pod share localhost, hostname and the pod files; -p reaches them', async () => {
  const pod = await mgr.create({ name: 'duo', hostname: 'duo-host', ports: [{ hostPort: 18280, containerPort: 80, protocol: 'tcp' }] });
  const tag = `${process.pid}`;
  await runDetached(`web-${tag}`, await bundle('web', pod, ['httpd', '-f', '-p', '80', '-h', '/www']));
  const client = await bundle('client', pod, ['sh', '-c', 'wget -qO- http://127.0.0.1:80/ && hostname && cat /etc/hostname && grep duo-host /etc/hosts']);
  const out = await eventually(async () => {
    const { stdout } = await runc('run', '--bundle', client, `client-${tag}`);
    if (!stdout.includes('served by web')) throw new Error(stdout);
    return stdout;
  });
  const lines = out.trim().split('\n');
  assert.equal(lines[0], 'served by web');
  assert.equal(lines[1], 'duo-host');
  assert.equal(lines[2], 'duo-host');
  assert.match(lines[3], new RegExp(`^${pod.ip!.replace(/\./g, '\\.')}\\tduo-host$`));
  const { stdout } = await eventually(() => exec('curl', ['-sSf', '--max-time', '5', 'http://127.0.0.1:18280/']));
  assert.equal(stdout, 'served by web\n');
  await runc('delete', '-f', `web-${tag}`);
  await mgr.remove(pod.id);
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
});
