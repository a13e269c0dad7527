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

/** Parses a flat keyed file ("key value" per line: memory.stat, cpu.stat, memory.events). */
export function parseKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

async function readKeyed(file: string): Promise<Record<string, number> | undefined> {
  try {
    return parseKeyed(await fs.readFile(file, 'utf8'));
  } catch {
    return undefined; // absent: no stats
  }
}

/** A cgroup's resource usage, as cadvisor derives it from the cgroup files. */
export interface CgroupStats {
  /** Total CPU time used, in nanoseconds (cpuacct.usage; v2 cpu.stat usage_usec). */
  cpuNs: number;
  /** The working set, bytes: usage minus inactive file pages (page cache that can be dropped), as cadvisor and docker. */
  memoryBytes: number;
  /** Memory charged to the cgroup, bytes (memory.usage_in_bytes; v2 memory.current). */
  memoryUsage: number;
  /** Anonymous memory and swap cache, bytes (v1 total_rss; v2 anon). */
  rssBytes: number;
  /** Page faults, and the major ones. */
  pageFaults: number;
  majorPageFaults: number;
  /** Memory limit, bytes (Infinity when unlimited). */
  memoryLimit: number;
  /** Processes and threads in the cgroup. */
  pids: number;
  /** Whether the cgroup's CPU and memory files were there (false: a cgroup that is gone). */
  found: boolean;
}

/** Where to read a cgroup: the mount (default /sys/fs/cgroup), its layout, the cgroup's path in it. */
export interface CgroupRef {
  base?: string;
  mode?: CgroupMode;
  /** `/skiff/<id>` for a container, `/` for the root (the whole machine). */
  path: string;
}

/**
 * Reads a cgroup's statistics; zeros (found false) for a cgroup that is gone. v2's root cgroup
 * has no memory.current: its usage is anon + file from the root memory.stat, as runc computes it.
 */
export async function readCgroupStats(ref: CgroupRef): Promise<CgroupStats> {
  const base = ref.base ?? CG;
  const mode = ref.mode ?? cgroupMode();
  if (mode === 'v2') {
    const f = (file: string) => path.join(base, ref.path, file);
    const [cpu, current, stat, max, pids] = await Promise.all([readKeyed(f('cpu.stat')), readNum(f('memory.current')), readKeyed(f('memory.stat')), readNum(f('memory.max')), readNum(f('pids.current'))]);
    const s = stat ?? {};
    const usage = current ?? (s.anon ?? 0) + (s.file ?? 0);
    return {
      cpuNs: (cpu?.usage_usec ?? 0) * 1000,
      memoryBytes: workingSet(usage, s.inactive_file),
      memoryUsage: usage, rssBytes: s.anon ?? 0, pageFaults: s.pgfault ?? 0, majorPageFaults: s.pgmajfault ?? 0,
      memoryLimit: max ?? Infinity,
      pids: pids ?? 0,
      found: cpu !== undefined || stat !== undefined,
    };
  }
  const f = (controller: string, file: string) => path.join(base, controller, ref.path, file);
  const [usage, stat, limit, cpu, pids] = await Promise.all([
    readNum(f('memory', 'memory.usage_in_bytes')), readKeyed(f('memory', 'memory.stat')), readNum(f('memory', 'memory.limit_in_bytes')),
    readNum(f('cpuacct', 'cpuacct.usage')), readNum(f('pids', 'pids.current')),
  ]);
  const s = stat ?? {};
  return {
    cpuNs: cpu ?? 0,
    memoryBytes: workingSet(usage ?? 0, s.total_inactive_file),
    memoryUsage: usage ?? 0, rssBytes: s.total_rss ?? 0, pageFaults: s.total_pgfault ?? 0, majorPageFaults: s.total_pgmajfault ?? 0,
    // v1 reports "no limit" as a huge page-aligned number.
    memoryLimit: limit === undefined || limit >= 2 ** 62 ? Infinity : limit,
    pids: pids ?? 0,
    found: cpu !== undefined || usage !== undefined,
  };
}

/** cadvisor's working set: usage less inactive file pages, never below zero. */
export function workingSet(usage: number, inactiveFile: number | undefined): number {
  return Math.max(0, usage - (inactiveFile ?? 0));
}

/** Reads a container's statistics; zeros for a cgroup that is gone. */
export function readStats(id: string): Promise<CgroupStats> {
  return readCgroupStats({ path: cgroupsPath(id) });
}

/** How many times the kernel's OOM killer killed a process in the container's cgroup. */
export async function oomKills(id: string): Promise<number> {
  if (cgroupMode() === 'v2') return (await readKeyed(v2(id, 'memory.events')))?.oom_kill ?? 0;
  return (await readKeyed(v1('memory', id, 'memory.oom_control')))?.oom_kill ?? 0;
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
