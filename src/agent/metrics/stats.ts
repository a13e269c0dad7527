/**
 * The node agent's resource statistics, as the kubelet gets them from cadvisor: CPU (cumulative
 * nanoseconds) and memory (working set = usage − inactive file pages) of every running container
 * of its pods, read from the container's cgroup; of each pod (the sum of its running
 * containers; the pod cgroup, cgroups.ts, is not read); and of the node (the root cgroup; on a v2
 * host without root cpu.stat or memory.stat, /proc/stat and /proc/meminfo). Each reading
 * carries its time. The previous reading of each cgroup is kept, so that a summary can give an
 * instant rate (usageNanoCores) as the kubelet's does.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { containerCgroup, readCgroupStats, workingSet, type CgroupMode, type CgroupStats } from '../../engine/container/cgroups.js';
import { parseMeminfo } from '../machine.js';
import type { PodRuntime } from '../runtime.js';
import { L } from '../labels.js';

/** One reading of a cgroup (or of the node). */
export interface Usage {
  /** When it was read (ms since the epoch). */
  time: number;
  cpuNs: number;
  /** CPU rate since the previous reading (nanocores), when there was one. */
  nanoCores?: number;
  workingSet: number;
  usage: number;
  rss: number;
  pageFaults: number;
  majorPageFaults: number;
}

/** A running container of a pod. */
export interface ContainerUsage extends Usage {
  name: string;
  /** When the container started (ms). */
  startTime: number;
}

/** A pod: its running containers and their sum. */
export interface PodUsage extends Usage {
  namespace: string;
  name: string;
  uid: string;
  /** When its sandbox was made (ms). */
  startTime: number;
  containers: ContainerUsage[];
}

/** What the node runs and uses now. */
export interface StatsSnapshot {
  node: Usage & { startTime: number; memoryAvailable?: number };
  pods: PodUsage[];
}

/** Where to read the machine (fixtures in tests). */
export interface StatsSources {
  cgroupRoot?: string;
  cgroupMode?: CgroupMode;
  procRoot?: string;
}

/** CPU time of the whole machine from /proc/stat's first line (USER_HZ = 100 ticks a second), ns. */
export function procStatCpuNs(text: string): number | undefined {
  const m = /^cpu\s+(.*)$/m.exec(text);
  if (!m) return undefined;
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const f = m[1].trim().split(/\s+/).map(Number);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy * 1e7;
}

/** The boot time in /proc/stat (ms). */
export function procStatBootTime(text: string): number | undefined {
  const m = /^btime\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) * 1000 : undefined;
}

/**
 * The node's reading: the root cgroup, with /proc filling what a v2 root lacks (no cpu.stat:
 * /proc/stat; no memory.stat: MemTotal − MemFree, less Inactive(file)).
 */
export async function nodeUsage(src: StatsSources = {}, now = Date.now()): Promise<StatsSnapshot['node']> {
  const proc = src.procRoot ?? '/proc';
  const [cg, stat, meminfo] = await Promise.all([
    readCgroupStats({ base: src.cgroupRoot, mode: src.cgroupMode, path: '/' }),
    fs.readFile(path.join(proc, 'stat'), 'utf8').catch(() => ''),
    fs.readFile(path.join(proc, 'meminfo'), 'utf8').catch(() => ''),
  ]);
  const mem = parseMeminfo(meminfo);
  let { cpuNs, memoryUsage, memoryBytes } = cg;
  if (!cpuNs) cpuNs = procStatCpuNs(stat) ?? 0;
  if (!memoryUsage && mem.MemTotal) {
    memoryUsage = mem.MemTotal - (mem.MemFree ?? 0);
    memoryBytes = workingSet(memoryUsage, mem['Inactive(file)']);
  }
  return {
    ...usageOf(cg, now), cpuNs, usage: memoryUsage, workingSet: memoryBytes,
    startTime: procStatBootTime(stat) ?? 0, memoryAvailable: mem.MemAvailable,
  };
}

function usageOf(s: CgroupStats, time: number): Usage {
  return { time, cpuNs: s.cpuNs, workingSet: s.memoryBytes, usage: s.memoryUsage, rss: s.rssBytes, pageFaults: s.pageFaults, majorPageFaults: s.majorPageFaults };
}

/** The CPU rate between two readings (nanocores); undefined when it cannot be told (no time passed, a counter reset). */
export function cpuRate(prev: { time: number; cpuNs: number } | undefined, cur: { time: number; cpuNs: number }): number | undefined {
  if (!prev || cur.time <= prev.time || cur.cpuNs < prev.cpuNs) return undefined;
  return Math.round(((cur.cpuNs - prev.cpuNs) * 1000) / (cur.time - prev.time));
}

/** Readings this close to the previous one do not replace it as the base of the rate. */
const MIN_RATE_WINDOW_MS = 1000;

/** Reads the statistics of the node and of the agent's running pods. */
export class StatsProvider {
  private prev = new Map<string, { time: number; cpuNs: number }>();

  constructor(private readonly runtime: Pick<PodRuntime, 'relist'>, private readonly src: StatsSources = {}) {}

  /** A reading's rate against the previous one of the same key, remembered for the next call. */
  private rate(key: string, u: Usage): Usage {
    const p = this.prev.get(key);
    const nanoCores = cpuRate(p, u);
    if (!p || u.time - p.time >= MIN_RATE_WINDOW_MS || nanoCores === undefined) this.prev.set(key, { time: u.time, cpuNs: u.cpuNs });
    return nanoCores === undefined ? u : { ...u, nanoCores };
  }

  /** The node and every pod with a running container, now. */
  async snapshot(): Promise<StatsSnapshot> {
    const now = Date.now();
    const [node, all] = await Promise.all([nodeUsage(this.src, now), this.runtime.relist()]);
    const pods: PodUsage[] = [];
    const live = new Set<string>(['node']);
    for (const [uid, state] of all) {
      const running = state.containers.filter((c) => c.rec.status === 'running');
      if (!running.length) continue;
      const containers: ContainerUsage[] = [];
      for (const c of running) {
        const s = await readCgroupStats({ base: this.src.cgroupRoot, mode: this.src.cgroupMode, path: containerCgroup(c.rec) });
        if (!s.found) continue; // gone between the listing and the read
        live.add(c.rec.id);
        containers.push({ ...this.rate(c.rec.id, usageOf(s, Date.now())), name: c.name, startTime: Date.parse(c.rec.startedAt ?? c.rec.createdAt) });
      }
      if (!containers.length) continue;
      const l = running[0].rec.options.labels ?? {};
      const sum = (f: (c: ContainerUsage) => number) => containers.reduce((a, c) => a + f(c), 0);
      const pod: Usage = {
        time: Math.max(...containers.map((c) => c.time)), cpuNs: sum((c) => c.cpuNs), workingSet: sum((c) => c.workingSet),
        usage: sum((c) => c.usage), rss: sum((c) => c.rss), pageFaults: sum((c) => c.pageFaults), majorPageFaults: sum((c) => c.majorPageFaults),
      };
      const sandbox = state.sandboxes[0];
      live.add(uid);
      pods.push({
        ...this.rate(uid, pod), uid, namespace: l[L.podNamespace] ?? '', name: l[L.podName] ?? '',
        startTime: sandbox ? Date.parse(sandbox.createdAt) : Math.min(...containers.map((c) => c.startTime)),
        containers: containers.sort((a, b) => a.name.localeCompare(b.name)),
      });
    }
    for (const k of this.prev.keys()) if (!live.has(k)) this.prev.delete(k);
    return { node: { ...node, ...this.rate('node', node) }, pods: pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)) };
  }
}
