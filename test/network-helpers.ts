/**
 * Helpers for the pod network tests: a temporary data root with its own bridge, subnet and
 * network name (so test files never share host-local allocations or iptables comments),
 * processes started inside a pod's namespaces with nsenter + busybox-static, and counters of
 * everything a sandbox can leak.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultConfList, confDir, ipamDataDir, readNetwork } from '../src/engine/network/config.js';
import { masqueradeOf, releaseMasquerade } from '../src/engine/network/masquerade.js';
import { writeJsonAtomic } from '../src/lib/atomic.js';
import { mountPoints } from '../src/engine/network/netns.js';
import type { SandboxRecord } from '../src/engine/network/sandbox.js';

/** Promisified execFile. */
export const exec = promisify(execFile);

/** A data root whose default conflist uses `bridge`, `subnet` and network name `bridge`. */
export async function networkRoot(prefix: string, bridge: string, subnet: string): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.mkdir(confDir(root), { recursive: true });
  await writeJsonAtomic(path.join(confDir(root), '10-test.conflist'), defaultConfList(root, { bridge, subnet, name: bridge }));
  return root;
}

/** Deletes a bridge and the masquerade rules Skiff keeps for it (as `skiff down` would once it is unused). */
export async function dropBridge(bridge: string, subnet: string): Promise<void> {
  await exec('ip', ['link', 'del', bridge]).catch(() => {});
  await releaseMasquerade({ bridge, subnet });
}

/** Removes the test's bridge and data root. */
export async function dropNetworkRoot(root: string, bridge: string): Promise<void> {
  await exec('ip', ['link', 'del', bridge]).catch(() => {});
  const masq = await readNetwork(root).then((n) => n && masqueradeOf(n), () => undefined);
  if (masq) await releaseMasquerade(masq);
  await fs.rm(root, { recursive: true, force: true });
}

/** Runs busybox inside a pod's net/UTS/IPC namespaces to completion. */
export async function inPod(rec: SandboxRecord, args: string[], timeoutMs = 15_000): Promise<string> {
  const { stdout } = await exec('nsenter', [...nsFlags(rec), '/usr/bin/busybox', ...args], { timeout: timeoutMs });
  return stdout;
}

/** Starts a long-running busybox applet inside a pod; the caller kills it. */
export function startInPod(rec: SandboxRecord, args: string[]): ChildProcess {
  return spawn('nsenter', [...nsFlags(rec), '/usr/bin/busybox', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Kills a child and waits for it to be gone. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/** Retries `fn` until it resolves (servers take a moment to listen), up to `tries` times. */
export async function eventually<T>(fn: () => Promise<T>, tries = 50): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What sandboxes can leak, counted on the live system. */
export interface LeakCounts {
  veths: number;
  ips: number;
  iptables: number;
  pins: number;
  cache: number;
}

/** Counts veths on `bridge`, IPs allocated, iptables lines naming network `bridge`, pins, cache entries. */
export async function countLeaks(root: string, bridge: string): Promise<LeakCounts> {
  const links = await exec('ip', ['-o', 'link', 'show', 'master', bridge]).then((r) => r.stdout, () => '');
  const ipFiles = (await fs.readdir(path.join(ipamDataDir(root), bridge)).catch(() => [] as string[])).filter((f) => /^[0-9.]+$/.test(f));
  const rules = (await exec('iptables-save', [])).stdout.split('\n').filter((l) => l.includes(`name: \\"${bridge}\\"`));
  const mounts = [...(await mountPoints())].filter((m) => m.startsWith(root + '/'));
  const cache = await fs.readdir(path.join(root, 'cni', 'results')).catch(() => [] as string[]);
  return { veths: links.split('\n').filter((l) => l.includes('veth')).length, ips: ipFiles.length, iptables: rules.length, pins: mounts.length, cache: cache.length };
}

function nsFlags(rec: SandboxRecord): string[] {
  return [`--net=${rec.namespaces.net}`, `--uts=${rec.namespaces.uts}`, `--ipc=${rec.namespaces.ipc}`];
}
