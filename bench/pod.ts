/**
 * Pod sandbox benchmark: a pod with one published port created, started and removed —
 * namespaces + CNI ADD (bridge, host-local, portmap, loopback) + CNI DEL — by Skiff and by
 * podman 4.3 (`podman pod create` + `podman pod start` + `podman pod rm -f -t 0`, with a
 * busybox infra image imported into a private podman storage, runc, netavark), in one run.
 * Prints medians and the ratio to podman.
 *
 * Two more rows separate the sandbox work from process start-up on both sides: Skiff's engine
 * called in this process (what the node agent does for every pod), and podman's own engine
 * driven through its REST API (`podman system service` on a private socket: libpod in a
 * long-running process, the same create + start + remove with force and timeout 0). The
 * `--version` rows give each CLI's bare start-up cost.
 *
 *   npm run build && node dist/bench/pod.js [--rounds N]
 *
 * CLI figures run with NODE_EXTRA_CA_CERTS unset (see docs/benchmarks.md).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { SandboxManager } from '../src/engine/network/sandbox.js';
import { confDir, defaultConfList } from '../src/engine/network/config.js';
import { releaseMasquerade } from '../src/engine/network/masquerade.js';
import { writeJsonAtomic } from '../src/lib/atomic.js';
import { SKIFF } from '../test/helpers/images.js';

const exec = promisify(execFile);
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 10;
const BRIDGE = 'skbench0';
const SUBNET = '10.89.239.0/24';
const PORT = 18380;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One libpod REST call over a unix socket; rejects unless the status is 2xx. */
function libpod(socketPath: string, method: string, url: string, body?: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath, method, path: `/v4.0.0/libpod${url}`, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => {
        if (res.statusCode! >= 200 && res.statusCode! < 300) resolve(text);
        else reject(new Error(`podman API ${method} ${url}: ${res.statusCode} ${text.trim()}`));
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Waits until a unix socket accepts requests (podman system service starting). */
async function socketReady(socketPath: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await libpod(socketPath, 'GET', '/_ping').then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`podman system service did not answer on ${socketPath}`);
}

/** A busybox rootfs whose /pause sleeps: podman's infra container. */
async function infraTar(work: string): Promise<string> {
  const rootfs = path.join(work, 'infra');
  await fs.mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await fs.copyFile('/usr/bin/busybox', path.join(rootfs, 'bin/busybox'));
  await fs.chmod(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const n of ['sh', 'sleep']) await fs.symlink('busybox', path.join(rootfs, 'bin', n));
  await fs.writeFile(path.join(rootfs, 'pause'), '#!/bin/sh\nexec /bin/sleep 1000000\n', { mode: 0o755 });
  const out = path.join(work, 'infra.tar');
  await exec('tar', ['-C', rootfs, '-cf', out, '.']);
  return out;
}

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-pod-'));
  const root = path.join(work, 'skiff');
  await fs.mkdir(confDir(root), { recursive: true });
  await writeJsonAtomic(path.join(confDir(root), '10-bench.conflist'), defaultConfList(root, { bridge: BRIDGE, subnet: SUBNET, name: BRIDGE }));
  const pr = path.join(work, 'podman');
  const storage = ['--root', `${pr}/root`, '--runroot', `${pr}/run`, '--runtime', 'runc'];
  const podman = (...args: string[]) => exec('podman', [...storage, ...args], { env });
  const sock = path.join(work, 'podman.sock');
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS; // see docs/benchmarks.md: it costs every node start ~60 ms
  const hadPodman0 = await exec('ip', ['link', 'show', 'podman0']).then(() => true, () => false);
  let service: ReturnType<typeof spawn> | undefined;
  try {
    await podman('import', '-q', await infraTar(work), 'localhost/skiff-infra:latest');
    service = spawn('podman', [...storage, 'system', 'service', '--time=0', `unix://${sock}`], { env, stdio: 'ignore' });
    await socketReady(sock);
    const podSpec = { name: 'bench-api', infra_image: 'localhost/skiff-infra:latest', infra_command: ['/pause'], portmappings: [{ host_port: PORT, container_port: 80, protocol: 'tcp' }] };
    const mgr = new SandboxManager(root);
    const ports = [{ hostPort: PORT, containerPort: 80, protocol: 'tcp' as const }];
    const skiff = (...args: string[]) => exec(process.execPath, [SKIFF, '--root', root, ...args], { env });
    const results: Record<string, number[]> = {
      'skiff, library (create + remove)': [],
      'skiff pod create + skiff pod rm -f (CLI)': [],
      'podman pod create + start + rm -f -t 0': [],
      'skiff --version, twice (CLI start-up floor)': [],
      'podman REST API: create + start + rm (force, t=0)': [],
      'podman --version, three times (its CLI start-up floor)': [],
    };
    // One warm-up round each (bridge creation, first iptables chains, page cache).
    for (let i = -1; i < rounds; i++) {
      const lib = await timed(async () => mgr.remove((await mgr.create({ ports })).id));
      const cli = await timed(async () => {
        const id = (await skiff('pod', 'create', '-p', `${PORT}:80`)).stdout.trim();
        await skiff('pod', 'rm', '-f', id);
      });
      const pod = await timed(async () => {
        await podman('pod', 'create', '--name', 'bench', '--infra-image', 'localhost/skiff-infra:latest', '--infra-command', '/pause', '-p', `${PORT}:80`);
        await podman('pod', 'start', 'bench');
        await podman('pod', 'rm', '-f', '-t', '0', 'bench');
      });
      const api = await timed(async () => {
        await libpod(sock, 'POST', '/pods/create', podSpec);
        await libpod(sock, 'POST', '/pods/bench-api/start');
        await libpod(sock, 'DELETE', '/pods/bench-api?force=true&timeout=0');
      });
      const floor = await timed(async () => {
        await skiff('--version');
        await skiff('--version');
      });
      const podmanFloor = await timed(async () => {
        for (let k = 0; k < 3; k++) await exec('podman', ['--version'], { env });
      });
      if (i < 0) continue;
      results['skiff --version, twice (CLI start-up floor)'].push(floor);
      results['skiff, library (create + remove)'].push(lib);
      results['skiff pod create + skiff pod rm -f (CLI)'].push(cli);
      results['podman pod create + start + rm -f -t 0'].push(pod);
      results['podman REST API: create + start + rm (force, t=0)'].push(api);
      results['podman --version, three times (its CLI start-up floor)'].push(podmanFloor);
    }
    const base = median(results['podman pod create + start + rm -f -t 0']);
    console.log(`${rounds} rounds, medians (one pod, one published port, bridge + host-local + portmap + loopback):`);
    for (const [k, v] of Object.entries(results)) {
      console.log(`  ${k.padEnd(54)} ${median(v).toFixed(0).padStart(5)} ms   ratio to podman ${(median(v) / base).toFixed(2)}`);
    }
    // The in-process pair: Skiff's engine against podman's engine, neither paying a process start.
    const inproc = median(results['skiff, library (create + remove)']) / median(results['podman REST API: create + start + rm (force, t=0)']);
    console.log(`  skiff library / podman REST API: ${inproc.toFixed(2)}`);
  } finally {
    service?.kill();
    await podman('pod', 'rm', '-af', '-t', '0').catch(() => {});
    await podman('system', 'reset', '-f').catch(() => {});
    await exec('umount', ['-R', `${pr}/root/overlay`]).catch(() => {});
    await exec('ip', ['link', 'del', BRIDGE]).catch(() => {});
    // The bridge's masquerade rules (POSTROUTING jump and chain) go with it.
    await releaseMasquerade({ bridge: BRIDGE, subnet: SUBNET }).catch(() => {});
    if (!hadPodman0) await exec('ip', ['link', 'del', 'podman0']).catch(() => {});
    await fs.rm(work, { recursive: true, force: true });
  }
}

await main();
