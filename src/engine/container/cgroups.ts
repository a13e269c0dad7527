/**
 * cgroups, v1 (per-controller hierarchies, as on this machine, possibly "hybrid" with an
 * empty v2 at /sys/fs/cgroup/unified) and v2 (unified): which one the host runs, where a
 * container's cgroup lives, and its statistics. runc creates and removes the cgroups; Skiff
 * only reads them (stats, OOM kills) and removes leftovers after a crash.
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The host's cgroup layout. */
export type CgroupMode = 'v1' | 'hybrid' | 'v2';

const CG = '/sys/fs/cgroup';

let cachedMode: CgroupMode | undefined;

/** Detects the cgroup layout: v2 when /sys/fs/cgroup is cgroup2, hybrid when v1 plus an unified mount. */
export function cgroupMode(): CgroupMode {
  if (cachedMode) return cachedMode;
  if (existsSync(`${CG}/cgroup.controllers`)) cachedMode = 'v2';
  else if (existsSync(`${CG}/unified/cgroup.controllers`)) cachedMode = 'hybrid';
  else cachedMode = 'v1';
  return cachedMode;
}

/** The cgroupsPath Skiff gives runc for a container (relative to each hierarchy's root). */
export function cgroupsPath(id: string): string {
  return `/skiff/${id}`;
}

function v1(controller: string, id: string, file: string): string {
  return path.join(CG, controller, cgroupsPath(id), file);
}

function v2(id: string, file: string): string {
  return path.join(CG, cgroupsPath(id), file);
}

async function readNum(file: string): Promise<number | undefined> {
  try {
    const s = (await fs.readFile(file, 'utf8')).trim();
    if (s === 'max') return Infinity;
    const n = Number(s.split(/\s+/)[0]);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

async function readKeyed(file: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    for (const line of (await fs.readFile(file, 'utf8')).split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined) out[k] = Number(v);
    }
  } catch {
    // absent: no stats
  }
  return out;
}

/** A container's resource usage, read from its cgroup. */
export interface CgroupStats {
  /** Total CPU time used, in nanoseconds. */
  cpuNs: number;
  /** Memory in use, bytes (page cache that can be dropped excluded, like docker). */
  memoryBytes: number;
  /** Memory limit, bytes (Infinity when unlimited). */
  memoryLimit: number;
  /** Processes and threads in the cgroup. */
  pids: number;
}

/** Reads a container's statistics; zeros for a cgroup that is gone. */
export async function readStats(id: string): Promise<CgroupStats> {
  if (cgroupMode() === 'v2') {
    const cpu = await readKeyed(v2(id, 'cpu.stat'));
    const mem = await readNum(v2(id, 'memory.current')) ?? 0;
    const stat = await readKeyed(v2(id, 'memory.stat'));
    return {
      cpuNs: (cpu.usage_usec ?? 0) * 1000,
      memoryBytes: Math.max(0, mem - (stat.inactive_file ?? 0)),
      memoryLimit: (await readNum(v2(id, 'memory.max'))) ?? Infinity,
      pids: (await readNum(v2(id, 'pids.current'))) ?? 0,
    };
  }
  const usage = (await readNum(v1('memory', id, 'memory.usage_in_bytes'))) ?? 0;
  const stat = await readKeyed(v1('memory', id, 'memory.stat'));
  const limit = (await readNum(v1('memory', id, 'memory.limit_in_bytes'))) ?? Infinity;
  return {
    cpuNs: (await readNum(v1('cpuacct', id, 'cpuacct.usage'))) ?? 0,
    memoryBytes: Math.max(0, usage - (stat.total_inactive_file ?? 0)),
    // v1 reports "no limit" as a huge page-aligned number.
    memoryLimit: limit >= 2 ** 62 ? Infinity : limit,
    pids: (await readNum(v1('pids', id, 'pids.current'))) ?? 0,
  };
}

/** How many times the kernel's OOM killer killed a process in the container's cgroup. */
export async function oomKills(id: string): Promise<number> {
  if (cgroupMode() === 'v2') return (await readKeyed(v2(id, 'memory.events'))).oom_kill ?? 0;
  return (await readKeyed(v1('memory', id, 'memory.oom_control'))).oom_kill ?? 0;
}

/** PIDs in the container's cgroup. */
export async function cgroupPids(id: string): Promise<number[]> {
  const file = cgroupMode() === 'v2' ? v2(id, 'cgroup.procs') : v1('pids', id, 'cgroup.procs');
  try {
    return (await fs.readFile(file, 'utf8')).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every cgroup directory a container id may have (for leak checks and crash cleanup). */
export function cgroupDirs(id: string): string[] {
  if (cgroupMode() === 'v2') return [path.join(CG, cgroupsPath(id))];
  return ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'cpuset', 'devices', 'freezer', 'net_cls', 'perf_event', 'hugetlb', 'net_prio', 'rdma', 'misc', 'systemd']
    .map((c) => path.join(CG, c, cgroupsPath(id)))
    .filter((d) => existsSync(d));
}

/** Container ids that have a cgroup under Skiff's parent cgroup (memory or unified hierarchy). */
export async function cgroupIds(): Promise<string[]> {
  const dir = cgroupMode() === 'v2' ? path.join(CG, 'skiff') : path.join(CG, 'pids', 'skiff');
  try {
    return (await fs.readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** Removes a container's leftover (empty) cgroup directories; rmdir is how cgroups go. */
export async function removeCgroups(id: string): Promise<void> {
  for (const d of cgroupDirs(id)) await fs.rmdir(d).catch(() => {});
}
