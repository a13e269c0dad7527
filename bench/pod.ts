/**
 * Pod sandbox benchmark: a pod with one published port created, started and removed —
 * namespaces + CNI ADD (bridge, host-local, portmap, loopback) + CNI DEL — by Skiff and by
 * podman 4.3 (`podman pod create` + `podman pod start` + `podman pod rm -f -t 0`, with a
 * busybox infra image imported into a private podman storage, runc, netavark), in one run.
 * Prints medians and the ratio to podman.
 *
 *   npm run build && node dist/bench/pod.js [--rounds N]
 *
 * CLI figures run with NODE_EXTRA_CA_CERTS unset (see docs/benchmarks.md).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
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
  const podman = (...args: string[]) => exec('podman', ['--root', `${pr}/root`, '--runroot', `${pr}/run`, '--runtime', 'runc', ...args], { env });
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS; // see docs/benchmarks.md: it costs every node start ~60 ms
  const hadPodman0 = await exec('ip', ['link', 'show', 'podman0']).then(() => true, () => false);
  try {
    await podman('import', '-q', await infraTar(work), 'localhost/skiff-infra:latest');
    const mgr = new SandboxManager(root);
    const ports = [{ hostPort: PORT, containerPort: 80, protocol: 'tcp' as const }];
    const skiff = (...args: string[]) => exec(process.execPath, [SKIFF, '--root', root, ...args], { env });
    const results: Record<string, number[]> = {
      'skiff, library (create + remove)': [],
      'skiff pod create + skiff pod rm -f (CLI)': [],
      'podman pod create + start + rm -f -t 0': [],
      'skiff --version, twice (CLI start-up floor)': [],
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
      const floor = await timed(async () => {
        await skiff('--version');
        await skiff('--version');
      });
      if (i < 0) continue;
      results['skiff --version, twice (CLI start-up floor)'].push(floor);
      results['skiff, library (create + remove)'].push(lib);
      results['skiff pod create + skiff pod rm -f (CLI)'].push(cli);
      results['podman pod create + start + rm -f -t 0'].push(pod);
    }
    const base = median(results['podman pod create + start + rm -f -t 0']);
    console.log(`${rounds} rounds, medians (one pod, one published port, bridge + host-local + portmap + loopback):`);
    for (const [k, v] of Object.entries(results)) {
      console.log(`  ${k.padEnd(44)} ${median(v).toFixed(0).padStart(5)} ms   ratio to podman ${(median(v) / base).toFixed(2)}`);
    }
  } finally {
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
