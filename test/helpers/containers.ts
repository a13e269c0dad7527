/**
 * Leak counters for container tests: everything a container can leave behind, counted for
 * one data root, so a test can compare before and after.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readNetwork } from '../../src/engine/network/config.js';

const exec = promisify(execFile);

/** What exists for a data root: mounts, cgroups, runtime state, conmon processes, records, sockets. */
export interface LeakCounts {
  mounts: number;
  cgroups: number;
  runtime: number;
  conmon: number;
  records: number;
  sandboxes: number;
  veths: number;
  /** conmon's per-container symlinks under run/sock. */
  sockets: number;
  /** iptables rules the CNI plugins tagged with this root's network (published ports). */
  iptables: number;
}

/** Counts what a data root's containers hold right now. */
export async function countLeaks(root: string): Promise<LeakCounts> {
  const mounts = (await fs.readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.includes(` ${root}/`)).length;
  const ids = await fs.readdir(path.join(root, 'containers')).catch(() => [] as string[]);
  const records = ids.filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
  let runtime = 0;
  try {
    const { stdout } = await exec('runc', ['--root', path.join(root, 'runc'), 'list', '-q']);
    runtime = stdout.split('\n').filter(Boolean).length;
  } catch {
    runtime = 0;
  }
  const { stdout: ps } = await exec('ps', ['-eo', 'stat,args']);
  const conmon = ps.split('\n').filter((l) => !l.startsWith('Z') && l.includes('conmon') && l.includes(`${root}/`)).length;
  // Skiff's cgroups are named by container id (below /skiff, or below a node agent's pod
  // cgroups in /skiff/kubepods-*/); counting those of this root's known or former ids is
  // impossible after removal, so count every container and pod cgroup under skiff/ (tests run
  // one at a time).
  const base = await fs.stat('/sys/fs/cgroup/pids/skiff').then(() => '/sys/fs/cgroup/pids/skiff', () => '/sys/fs/cgroup/skiff');
  const cgroups = (await fs.readdir(base, { recursive: true }).catch(() => [] as string[]))
    .filter((n) => /(^|\/)([0-9a-f]{64}|pod[0-9a-f-]{36})$/.test(n)).length;
  const sandboxes = (await fs.readdir(path.join(root, 'sandboxes')).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
  const { stdout: links } = await exec('ip', ['-o', 'link', 'show', 'type', 'veth']);
  const veths = links.split('\n').filter(Boolean).length;
  const sockets = (await fs.readdir(path.join(root, 'run', 'sock')).catch(() => [] as string[])).length;
  // The default network is named per root (defaultNetworkName), so these are this root's alone.
  const network = await readNetwork(root).catch(() => undefined);
  const { stdout: rules } = await exec('iptables-save', ['-t', 'nat']);
  const iptables = network ? rules.split('\n').filter((l) => l.startsWith('-A ') && l.includes(`name: \\"${network.name}\\"`)).length : 0;
  return { mounts, cgroups, runtime, conmon, records, sandboxes, veths, sockets, iptables };
}

/**
 * Counts until they equal `want` or 10 s pass: conmon and its exit command finish a moment
 * after the container is gone.
 */
export async function settledLeaks(root: string, want: LeakCounts): Promise<LeakCounts> {
  let now = await countLeaks(root);
  for (let i = 0; i < 100 && JSON.stringify(now) !== JSON.stringify(want); i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = await countLeaks(root);
  }
  return now;
}
