/**
 * Completion indexes of Indexed Jobs: the index a pod carries, the compact interval notation
 * of status.completedIndexes ("0-2,4,6,7": runs of three or more as ranges, as Kubernetes
 * writes them), and which indexes still need a pod.
 */
import type { KObject } from '../../client/client.js';

/** The annotation (and label) carrying a pod's completion index. */
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';

/** A run of consecutive indexes. */
export interface Interval { first: number; last: number }

/** The completion index of a pod, or -1 when it has none or an invalid one. */
export function completionIndex(pod: KObject): number {
  const v = pod.metadata.annotations?.[COMPLETION_INDEX];
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return -1;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : -1;
}

/** Parses "0-2,4" into intervals, dropping indexes >= completions and anything malformed. */
export function parseIndexes(s: string | undefined, completions: number): Interval[] {
  const runs: Interval[] = [];
  for (const part of (s ?? '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const first = Number(m[1]);
    const last = Math.min(m[2] === undefined ? first : Number(m[2]), completions - 1);
    if (first <= last) runs.push({ first, last });
  }
  // Written in order by the controller, but merge defensively.
  runs.sort((a, b) => a.first - b.first);
  const out: Interval[] = [];
  for (const r of runs) {
    const prev = out[out.length - 1];
    if (prev && r.first <= prev.last + 1) prev.last = Math.max(prev.last, r.last);
    else out.push({ ...r });
  }
  return out;
}

/** The notation Kubernetes writes: "a-b" for runs of three or more, "a,b" for two. */
export function formatIndexes(iv: Interval[]): string {
  return iv.map((v) => (v.last === v.first ? `${v.first}` : v.last === v.first + 1 ? `${v.first},${v.last}` : `${v.first}-${v.last}`)).join(',');
}

/** The intervals with `indexes` added. */
export function withIndexes(iv: Interval[], indexes: Iterable<number>): Interval[] {
  const all = new Set<number>();
  for (const v of iv) for (let i = v.first; i <= v.last; i++) all.add(i);
  for (const i of indexes) all.add(i);
  const sorted = [...all].sort((a, b) => a - b);
  const out: Interval[] = [];
  for (const i of sorted) {
    const prev = out[out.length - 1];
    if (prev && i === prev.last + 1) prev.last = i;
    else out.push({ first: i, last: i });
  }
  return out;
}

/** How many indexes the intervals hold. */
export function countIndexes(iv: Interval[]): number {
  return iv.reduce((n, v) => n + v.last - v.first + 1, 0);
}

/** True when `i` is in the intervals. */
export function hasIndex(iv: Interval[], i: number): boolean {
  return iv.some((v) => i >= v.first && i <= v.last);
}

/** The lowest `count` indexes below `completions` neither succeeded nor held by an active pod. */
export function firstPendingIndexes(succeeded: Interval[], active: Set<number>, count: number, completions: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < completions && out.length < count; i++) if (!active.has(i) && !hasIndex(succeeded, i)) out.push(i);
  return out;
}
