/**
 * DefaultPreemption (the PostFilter step): when a pod fits nowhere, find a node where removing
 * pods of lower priority makes it fit, keep as many of those pods as still allows it (highest
 * priority first), and pick the node whose victims matter least: fewest PodDisruptionBudget
 * violations, then the lowest highest-victim priority, the smallest priority sum, the fewest
 * victims. Pure: the scheduler deletes the victims and nominates the node.
 */
import type { KObject } from '../client/client.js';
import { selectorObjectMatcher } from '../core/labels.js';
import type { NodeInfo } from './nodeinfo.js';
import { filterNode } from './cycle.js';
import type { Plugin, Snapshot, Status } from './framework.js';

/** A pod's priority (spec.priority, 0 when unset). */
export function priorityOf(pod: KObject): number { return pod.spec?.priority ?? 0; }

/** A preemption plan. */
export interface Preemption { node: string; victims: KObject[] }

function lexLess(a: number[], b: number[]): boolean {
  const i = a.findIndex((x, j) => x !== b[j]);
  return i >= 0 && a[i] < b[i];
}

function pdbViolations(victims: KObject[], pdbs: KObject[]): number {
  let n = 0;
  const allowed = new Map(pdbs.map((p) => [p, p.status?.disruptionsAllowed ?? 0]));
  for (const v of victims) {
    for (const p of pdbs) {
      if (p.metadata.namespace !== v.metadata.namespace || !selectorObjectMatcher(p.spec?.selector ?? {})(v.metadata.labels ?? {})) continue;
      const left = allowed.get(p)! - 1;
      allowed.set(p, left);
      if (left < 0) n++;
    }
  }
  return n;
}

/** Finds the best preemption for `pod`, or undefined when preemption cannot help. */
export function findPreemption(plugins: Plugin[], pod: KObject, snap: Snapshot, statuses: Map<string, Status>, pdbs: KObject[] = []): Preemption | undefined {
  if (pod.spec?.preemptionPolicy === 'Never') return undefined;
  const prio = priorityOf(pod);
  let best: { node: string; victims: KObject[]; key: number[] } | undefined;
  for (const n of snap.nodes) {
    // Nodes that failed for reasons no eviction fixes (taints, affinity) are skipped.
    if (statuses.get(n.name)?.code !== 'Unschedulable') continue;
    const lower = [...n.pods.entries()].filter(([, e]) => priorityOf(e.pod) < prio && !e.pod.metadata.deletionTimestamp);
    if (!lower.length) continue;
    const trial: NodeInfo = n.clone();
    for (const [k] of lower) trial.removePod(k);
    const view: Snapshot = { ...snap, nodes: snap.nodes.map((x) => (x === n ? trial : x)), get: (name) => (name === n.name ? trial : snap.get(name)) };
    if (filterNode(plugins, new Map(), pod, trial, view)) continue;
    // Reprieve: put back the most important pods while the preemptor still fits.
    const victims: KObject[] = [];
    for (const [k, e] of lower.sort((a, b) => priorityOf(b[1].pod) - priorityOf(a[1].pod))) {
      trial.addPod(k, e.pod);
      if (filterNode(plugins, new Map(), pod, trial, view)) { trial.removePod(k); victims.push(e.pod); }
    }
    const key = [pdbViolations(victims, pdbs), Math.max(...victims.map(priorityOf)), victims.reduce((s, v) => s + priorityOf(v), 0), victims.length];
    if (!best || lexLess(key, best.key)) best = { node: n.name, victims, key };
  }
  return best && { node: best.node, victims: best.victims };
}
