/**
 * One scheduling cycle as a pure function: filter every node, score the feasible ones, pick
 * the best (ties broken at random, as kube-scheduler's selectHost), or explain the failure in
 * kube-scheduler's words ("0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had
 * untolerated taint {k: v}.").
 */
import type { KObject } from '../client/client.js';
import type { NodeInfo } from './nodeinfo.js';
import type { CycleState, Plugin, Snapshot, Status } from './framework.js';

/** The outcome of a cycle. */
export type CycleResult =
  | { node: string; feasible: number }
  | { node?: undefined; message: string; statuses: Map<string, Status>; feasible: 0 };

/** The message when the cluster has no nodes at all. */
export const NO_NODES = 'no nodes available to schedule pods';

/** Filters one node with every plugin; the first failure wins. */
export function filterNode(plugins: Plugin[], state: CycleState, pod: KObject, node: NodeInfo, snap: Snapshot): Status | undefined {
  for (const p of plugins) {
    if (!p.filter) continue;
    const s = p.filter(state, pod, node, snap);
    if (s.code !== 'Success') return s;
  }
  return undefined;
}

/** "0/N nodes are available: <count> <reason>, ...." with reasons sorted as kube-scheduler sorts them. */
export function failureMessage(total: number, statuses: Map<string, Status>, preFilter?: Status): string {
  if (preFilter) return `0/${total} nodes are available: ${preFilter.reasons.join(', ')}.`;
  const hist = new Map<string, number>();
  for (const s of statuses.values()) for (const r of new Set(s.reasons)) hist.set(r, (hist.get(r) ?? 0) + 1);
  const parts = [...hist].map(([r, n]) => `${n} ${r}`).sort();
  return `0/${total} nodes are available: ${parts.join(', ')}.`;
}

/** Runs filter and score over the snapshot. `random` picks among equal best scores; `state` is the cycle's scratch space (reserve reuses it). */
export function runCycle(plugins: Plugin[], pod: KObject, snap: Snapshot, random: () => number = Math.random, state: CycleState = new Map()): CycleResult {
  // kube-scheduler's ErrNoNodesAvailable: no filter ran, so there is nothing to count.
  if (!snap.nodes.length) return { message: NO_NODES, statuses: new Map(), feasible: 0 };
  for (const p of plugins) {
    const s = p.preFilter?.(state, pod, snap);
    // A PreFilter rejection counts against every node (PostFilter sees it so).
    if (s && s.code !== 'Success') return { message: failureMessage(snap.nodes.length, new Map(), s), statuses: new Map(snap.nodes.map((n) => [n.name, s])), feasible: 0 };
  }
  const feasible: NodeInfo[] = [];
  const statuses = new Map<string, Status>();
  for (const n of snap.nodes) {
    const s = filterNode(plugins, state, pod, n, snap);
    if (s) statuses.set(n.name, s); else feasible.push(n);
  }
  if (!feasible.length) return { message: failureMessage(snap.nodes.length, statuses), statuses, feasible: 0 };
  if (feasible.length === 1) return { node: feasible[0].name, feasible: 1 };
  const total = new Map<string, number>(feasible.map((n) => [n.name, 0]));
  for (const p of plugins) {
    if (!p.score) continue;
    p.preScore?.(state, pod, feasible, snap);
    const scores = new Map<string, number>();
    for (const n of feasible) scores.set(n.name, p.score(state, pod, n, snap));
    p.normalize?.(state, pod, scores);
    for (const [k, v] of scores) total.set(k, total.get(k)! + v * (p.weight ?? 1));
  }
  let best = '', bestScore = -Infinity, ties = 0;
  for (const [k, v] of total) {
    if (v > bestScore) { best = k; bestScore = v; ties = 1; }
    else if (v === bestScore && random() < 1 / ++ties) best = k;
  }
  return { node: best, feasible: feasible.length };
}
