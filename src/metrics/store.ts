/**
 * metrics-server's storage, per node: the last two readings of each node and container
 * (cumulative CPU and working set, with their times), so that usage is the CPU rate between
 * them and the latest memory. Readings come from a node agent's /metrics/resource
 * (decodeBatch). As in metrics-server:
 * - a node reading needs a time, CPU and memory; a pod is dropped when one of its containers
 *   lacks CPU or memory;
 * - a container that restarted (start time after the last reading) starts over; a reading no
 *   newer than the last is ignored; a counter that went down yields nothing;
 * - a container started between 10 s and one resolution before its first reading gets a
 *   reading of 0 at its start time, so a fresh pod shows usage after one scrape.
 */
import type { Sample } from './prometheus.js';

/** One reading. */
export interface Point {
  /** Container start (ms; 0 when unknown). */
  startTime: number;
  /** When it was read (ms). */
  timestamp: number;
  /** Cumulative CPU, nanoseconds. */
  cpuNs: number;
  /** Working set, bytes. */
  memory: number;
}

/** One scrape of one node. */
export interface Batch {
  node?: Point;
  /** "namespace/name" → container name → reading. */
  pods: Map<string, Map<string, Point>>;
}

/** Usage between two readings. */
export interface Usage {
  /** CPU rate, nanocores. */
  nanoCores: number;
  /** Working set, bytes. */
  memory: number;
  /** The later reading's time (ms) and the span between the two (ms). */
  timestamp: number;
  windowMs: number;
}

/** A pod's usage: per container, with the earliest container's time and window. */
export interface PodUsage { timestamp: number; windowMs: number; containers: { name: string; usage: Usage }[] }

const empty = (): Point => ({ startTime: 0, timestamp: 0, cpuNs: 0, memory: 0 });

/** The readings of a /metrics/resource scrape; samples without a timestamp take `defaultTime`. */
export function decodeBatch(samples: Sample[], defaultTime: number): Batch {
  const node = empty();
  const pods = new Map<string, Map<string, Point>>();
  const container = (l: Record<string, string>) => {
    const key = `${l.namespace ?? ''}/${l.pod ?? ''}`;
    const cs = pods.get(key) ?? pods.set(key, new Map()).get(key)!;
    return cs.get(l.container ?? '') ?? cs.set(l.container ?? '', empty()).get(l.container ?? '')!;
  };
  for (const s of samples) {
    const t = s.timestamp ?? defaultTime;
    switch (s.name) {
      case 'node_cpu_usage_seconds_total': node.cpuNs = Math.round(s.value * 1e9); node.timestamp = t; break;
      case 'node_memory_working_set_bytes': node.memory = s.value; node.timestamp = t; break;
      case 'container_cpu_usage_seconds_total': { const c = container(s.labels); c.cpuNs = Math.round(s.value * 1e9); c.timestamp = t; break; }
      case 'container_memory_working_set_bytes': { const c = container(s.labels); c.memory = s.value; c.timestamp = t; break; }
      case 'container_start_time_seconds': container(s.labels).startTime = Math.round(s.value * 1000); break;
      default:
    }
  }
  const out: Batch = { pods: new Map() };
  if (node.timestamp && node.cpuNs && node.memory) out.node = node;
  for (const [key, cs] of pods) {
    if ([...cs.values()].some((c) => !c.cpuNs || !c.memory)) continue;
    out.pods.set(key, cs);
  }
  return out;
}

/** The usage between two readings, or undefined when the counter went down. */
export function usageBetween(last: Point, prev: Point): Usage | undefined {
  if (last.cpuNs < prev.cpuNs || last.timestamp <= prev.timestamp) return undefined;
  const windowMs = last.timestamp - prev.timestamp;
  return { nanoCores: Math.floor(((last.cpuNs - prev.cpuNs) * 1000) / windowMs), memory: last.memory, timestamp: last.timestamp, windowMs };
}

/** A fresh container's first reading must be at least this long after its start (metrics-server's). */
const FRESH_MIN_MS = 10_000;

interface Pair { last: Point; prev?: Point }

/** The previous reading to keep for `next`, given what was stored (metrics-server's rules). */
function previous(next: Point, stored: Pair | undefined, resolutionMs: number, fresh: boolean): Point | undefined {
  const age = next.timestamp - next.startTime;
  if (fresh && next.startTime && next.startTime < next.timestamp && age < resolutionMs && age >= FRESH_MIN_MS) {
    return { ...next, timestamp: next.startTime, cpuNs: 0 };
  }
  if (!stored || !(next.startTime < stored.last.timestamp)) return undefined; // new, or restarted
  if (next.timestamp > stored.last.timestamp) return stored.last;
  if (stored.prev && stored.prev.timestamp < next.timestamp) return stored.prev;
  return undefined;
}

/** The last two readings of every node and pod container, by node. */
export class MetricsStore {
  private nodes = new Map<string, Pair>();
  private podsByNode = new Map<string, Map<string, Map<string, Pair>>>();

  /** `resolutionMs`: how often nodes are scraped (--metric-resolution). */
  constructor(private readonly resolutionMs: number) {}

  /** Stores a node's scrape; what the node no longer reports is dropped. */
  store(nodeName: string, b: Batch): void {
    if (b.node) {
      const old = this.nodes.get(nodeName);
      this.nodes.set(nodeName, { last: b.node, prev: previous(b.node, old, this.resolutionMs, false) });
    } else this.nodes.delete(nodeName);
    const oldPods = this.podsByNode.get(nodeName) ?? new Map<string, Map<string, Pair>>();
    const pods = new Map<string, Map<string, Pair>>();
    for (const [key, cs] of b.pods) {
      const m = new Map<string, Pair>();
      for (const [name, p] of cs) m.set(name, { last: p, prev: previous(p, oldPods.get(key)?.get(name), this.resolutionMs, true) });
      pods.set(key, m);
    }
    this.podsByNode.set(nodeName, pods);
  }

  /** Forgets a node (deleted, or its scrape failed). */
  forget(nodeName: string): void {
    this.nodes.delete(nodeName);
    this.podsByNode.delete(nodeName);
  }

  /** Names of the nodes with readings. */
  nodeNames(): string[] { return [...this.nodes.keys()]; }

  /** A node's usage, once it has two readings. */
  node(name: string): Usage | undefined {
    const p = this.nodes.get(name);
    return p?.prev ? usageBetween(p.last, p.prev) : undefined;
  }

  /** A pod's usage: its containers with two readings; undefined when none has. */
  pod(namespace: string, name: string): PodUsage | undefined {
    for (const pods of this.podsByNode.values()) {
      const cs = pods.get(`${namespace}/${name}`);
      if (!cs) continue;
      const containers: PodUsage['containers'] = [];
      let earliest: Usage | undefined;
      for (const [cname, p] of cs) {
        const u = p.prev ? usageBetween(p.last, p.prev) : undefined;
        if (!u) continue;
        containers.push({ name: cname, usage: u });
        if (!earliest || u.timestamp < earliest.timestamp) earliest = u;
      }
      if (!earliest) return undefined;
      return { timestamp: earliest.timestamp, windowMs: earliest.windowMs, containers: containers.sort((a, b) => a.name.localeCompare(b.name)) };
    }
    return undefined;
  }
}
