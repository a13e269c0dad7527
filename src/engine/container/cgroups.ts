/**
 * cgroups, v1 (per-controller hierarchies, as on this machine, possibly "hybrid" with an
 * empty v2 at /sys/fs/cgroup/unified) and v2 (unified): which one the host runs, where a
 * container's cgroup lives, and its statistics. runc creates and removes containers' cgroups;
 * Skiff reads them (stats, OOM kills) and removes leftovers after a crash. A container's cgroup
 * is `<parent>/<id>`, the parent `/skiff` unless the caller names another (`cgroupParent`: the
 * node agent's pod cgroups). Parents the caller asks for are made here (`ensureCgroup`, with
 * their limits) and removed here (`removeCgroupTree`), by path, knowing nothing of what they
 * stand for.
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

/** The parent cgroup of containers whose options name none. */
export const DEFAULT_PARENT = '/skiff';

/** The cgroupsPath Skiff gives runc for a container (relative to each hierarchy's root). */
export function cgroupsPath(id: string, parent: string = DEFAULT_PARENT): string {
  return path.posix.join('/', parent, id);
}

/** A container's cgroup path from its record (id and options.cgroupParent). */
export function containerCgroup(rec: { id: string; options?: { cgroupParent?: string } }): string {
  return cgroupsPath(rec.id, rec.options?.cgroupParent);
}

function v1(controller: string, cg: string, file: string): string {
  return path.join(CG, controller, cg, file);
}

function v2(cg: string, file: string): string {
  return path.join(CG, cg, file);
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

/** Reads a cgroup's statistics (a container's: `containerCgroup(rec)`); zeros for one that is gone. */
export function readStats(cg: string): Promise<CgroupStats> {
  return readCgroupStats({ path: cg });
}

/** How many times the kernel's OOM killer killed a process in the cgroup. */
export async function oomKills(cg: string): Promise<number> {
  if (cgroupMode() === 'v2') return (await readKeyed(v2(cg, 'memory.events')))?.oom_kill ?? 0;
  return (await readKeyed(v1('memory', cg, 'memory.oom_control')))?.oom_kill ?? 0;
}

/** PIDs in the cgroup. */
export async function cgroupPids(cg: string): Promise<number[]> {
  const file = cgroupMode() === 'v2' ? v2(cg, 'cgroup.procs') : v1('pids', cg, 'cgroup.procs');
  try {
    return (await fs.readFile(file, 'utf8')).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The v1 hierarchies runc may make a cgroup in (those mounted here are used), and in hybrid
 * mode the (controller-less) v2 one at `unified`, where runc makes it too.
 */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'cpuset', 'devices', 'freezer', 'net_cls', 'perf_event', 'hugetlb', 'net_prio', 'rdma', 'misc', 'systemd', 'unified'];

/** Every directory a cgroup path has (one per v1 hierarchy; one on v2), for leak checks and cleanup. */
export function cgroupDirs(cg: string): string[] {
  if (cgroupMode() === 'v2') return [path.join(CG, cg)].filter((d) => existsSync(d));
  return V1_CONTROLLERS.map((c) => path.join(CG, c, cg)).filter((d) => existsSync(d));
}

/** Removes a cgroup's leftover (empty) directories; rmdir is how cgroups go. */
export async function removeCgroups(cg: string): Promise<void> {
  for (const d of cgroupDirs(cg)) await fs.rmdir(d).catch(() => {});
}

/** Limits of a cgroup made by `ensureCgroup` (each unset one is left as the kernel has it). */
export interface CgroupLimits {
  /** Bytes. */
  memory?: number;
  /** v1 cpu.shares (2..262144); written as the equivalent cpu.weight on v2, as runc converts it. */
  cpuShares?: number;
  /** CFS quota and period, microseconds. */
  cpuQuota?: number;
  cpuPeriod?: number;
}

/** runc's conversion of v1 cpu.shares to a v2 cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  return shares <= 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/**
 * The files `ensureCgroup` writes for `limits`, relative to the mount: [controller dir, file,
 * value]. v1: memory.limit_in_bytes, cpu.shares, cpu.cfs_period_us/cfs_quota_us; v2:
 * memory.max, cpu.weight, cpu.max. Unset limits are written as "no limit" (an earlier one is lifted).
 */
export function limitFiles(mode: CgroupMode, cg: string, limits: CgroupLimits): [string, string, string][] {
  if (mode === 'v2') {
    const q = limits.cpuQuota ? `${limits.cpuQuota} ${limits.cpuPeriod ?? 100_000}` : `max ${limits.cpuPeriod ?? 100_000}`;
    return [
      [cg, 'memory.max', limits.memory ? String(limits.memory) : 'max'],
      ...(limits.cpuShares ? [[cg, 'cpu.weight', String(sharesToWeight(limits.cpuShares))] as [string, string, string]] : []),
      [cg, 'cpu.max', q],
    ];
  }
  return [
    [path.join('memory', cg), 'memory.limit_in_bytes', limits.memory ? String(limits.memory) : '-1'],
    ...(limits.cpuShares ? [[path.join('cpu', cg), 'cpu.shares', String(limits.cpuShares)] as [string, string, string]] : []),
    // The period first: a quota is checked against the period in force.
    [path.join('cpu', cg), 'cpu.cfs_period_us', String(limits.cpuPeriod ?? 100_000)],
    [path.join('cpu', cg), 'cpu.cfs_quota_us', limits.cpuQuota ? String(limits.cpuQuota) : '-1'],
  ];
}

/**
 * Makes cgroup `cg` (and its missing parents) with `limits`: on v1 in the memory, cpu, cpuacct
 * and pids hierarchies (runc makes the container cgroups below in every other one); on v2 with
 * those controllers enabled for its children. Idempotent: an existing cgroup gets the limits.
 */
export async function ensureCgroup(cg: string, limits: CgroupLimits = {}): Promise<void> {
  const mode = cgroupMode();
  if (mode === 'v2') {
    const parts = cg.split('/').filter(Boolean);
    for (let i = 0; i <= parts.length; i++) {
      const dir = path.join(CG, ...parts.slice(0, i));
      if (i > 0) await fs.mkdir(dir).catch((e) => { if (e.code !== 'EEXIST') throw e; });
      // Children get the controllers (what runc does for the container's own parents).
      if (i < parts.length) await fs.writeFile(path.join(dir, 'cgroup.subtree_control'), '+memory +cpu +pids').catch(() => {});
    }
  } else {
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids']) {
      if (existsSync(path.join(CG, c))) await fs.mkdir(path.join(CG, c, cg), { recursive: true });
    }
  }
  for (const [dir, file, value] of limitFiles(mode, cg, limits)) {
    const target = path.join(CG, dir, file);
    if (!existsSync(path.dirname(target))) continue;
    await fs.writeFile(target, value).catch((e: Error) => {
      throw new Error(`cgroup ${cg}: cannot write ${file}=${value}: ${e.message}`);
    });
  }
}

/** The child cgroups of `cg` (names), as the memory hierarchy (v1) or the unified one shows them. */
export async function cgroupChildren(cg: string): Promise<string[]> {
  const dir = cgroupMode() === 'v2' ? path.join(CG, cg) : path.join(CG, 'memory', cg);
  try {
    return (await fs.readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * Removes cgroup `cg` with every cgroup below it, deepest first, in every hierarchy. Only
 * empty cgroups can go (rmdir of one with processes fails with EBUSY): nothing is killed.
 * Returns whether it is gone everywhere.
 */
export async function removeCgroupTree(cg: string): Promise<boolean> {
  let gone = true;
  for (const dir of cgroupDirs(cg)) {
    const walk = async (d: string): Promise<void> => {
      const kids = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
      for (const k of kids) if (k.isDirectory()) await walk(path.join(d, k.name));
      await fs.rmdir(d).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') gone = false; });
    };
    await walk(dir);
  }
  return gone;
}
