/**
 * DefaultPreemption (the PostFilter step): when a pod fits nowhere, find a node where removing
 * pods of lower priority makes it fit, keep as many of those pods as still allows it (pods whose
 * eviction would break a PodDisruptionBudget first, then the rest, most important first), and
 * pick the node whose victims matter least: fewest PodDisruptionBudget violations, then the
 * lowest highest-victim priority, the smallest priority sum (each shifted by 2^31, so fewer
 * victims win), the fewest victims. Pure: the scheduler deletes the victims and nominates the
 * node. When nothing helps, the message explains per node why, as kube-scheduler's does.
 */
import type { KObject } from '../client/client.js';
import { selectorObjectMatcher } from '../core/labels.js';
import type { NodeInfo } from './nodeinfo.js';
import { filterNode } from './cycle.js';
import type { Plugin, PostFilterResult, Snapshot, Status } from './framework.js';

/** A pod's priority (spec.priority, 0 when unset). */
export function priorityOf(pod: KObject): number { return pod.spec?.priority ?? 0; }

/** A preemption plan. */
export interface Preemption { node: string; victims: KObject[] }

/** Why a node was no use for preemption. */
const NOT_HELPFUL = 'Preemption is not helpful for scheduling';
const NO_VICTIMS = 'No preemption victims found for incoming pod';

/** kube-scheduler's MoreImportantPod: higher priority, then the earlier start. */
function moreImportant(a: KObject, b: KObject): number {
  const d = priorityOf(b) - priorityOf(a);
  if (d) return d;
  return startOf(a) - startOf(b);
}

function startOf(p: KObject): number {
  const t = p.status?.startTime ?? p.metadata.creationTimestamp;
  return t ? Date.parse(t) : Number.MAX_SAFE_INTEGER;
}

function lexLess(a: number[], b: number[]): boolean {
  const i = a.findIndex((x, j) => x !== b[j]);
  return i >= 0 && a[i] < b[i];
}

/** Splits pods (most important first) into those whose eviction would violate a PDB, and the rest. */
function splitByPdb(pods: [string, KObject][], pdbs: KObject[]): { violating: [string, KObject][]; safe: [string, KObject][] } {
  const allowed = new Map(pdbs.map((p) => [p, p.status?.disruptionsAllowed ?? 0]));
  const violating: [string, KObject][] = [], safe: [string, KObject][] = [];
  for (const e of pods) {
    let bad = false;
    for (const p of pdbs) {
      const sel = p.spec?.selector;
      // As kube-scheduler's preemption: a PDB with a nil or empty selector matches nothing here.
      const empty = !sel || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length);
      if (empty || p.metadata.namespace !== e[1].metadata.namespace || !selectorObjectMatcher(sel)(e[1].metadata.labels ?? {})) continue;
      const left = allowed.get(p)! - 1;
      allowed.set(p, left);
      if (left < 0) bad = true;
    }
    (bad ? violating : safe).push(e);
  }
  return { violating, safe };
}

/** Victims on one node, or the status saying why there are none. */
function victimsOn(plugins: Plugin[], pod: KObject, n: NodeInfo, snap: Snapshot, pdbs: KObject[]): { victims: KObject[]; violations: number } | Status {
  const prio = priorityOf(pod);
  const lower = [...n.pods.entries()].filter(([, e]) => priorityOf(e.pod) < prio && !e.pod.metadata.deletionTimestamp).map(([k, e]) => [k, e.pod] as [string, KObject]);
  if (!lower.length) return { code: 'UnschedulableAndUnresolvable', reasons: [NO_VICTIMS] };
  const trial: NodeInfo = n.clone();
  for (const [k] of lower) trial.removePod(k);
  const view: Snapshot = { ...snap, nodes: snap.nodes.map((x) => (x === n ? trial : x)), get: (name) => (name === n.name ? trial : snap.get(name)) };
  const still = filterNode(plugins, new Map(), pod, trial, view);
  if (still) return still;
  // Reprieve: put pods back while the preemptor still fits, PDB-protected ones first.
  lower.sort((a, b) => moreImportant(a[1], b[1]));
  const { violating, safe } = splitByPdb(lower, pdbs);
  const victims: KObject[] = [];
  let violations = 0;
  const reprieve = ([k, p]: [string, KObject], counts: boolean) => {
    trial.addPod(k, p);
    if (filterNode(plugins, new Map(), pod, trial, view)) { trial.removePod(k); victims.push(p); if (counts) violations++; }
  };
  for (const e of violating) reprieve(e, true);
  for (const e of safe) reprieve(e, false);
  return { victims, violations };
}

/**
 * Runs DefaultPreemption: the best plan, or the per-node statuses explaining its absence.
 * Only nodes that failed with Unschedulable (not UnschedulableAndUnresolvable) are tried.
 */
export function evaluatePreemption(plugins: Plugin[], pod: KObject, snap: Snapshot, statuses: Map<string, Status>, pdbs: KObject[] = []): { plan?: Preemption; statuses: Map<string, Status> } {
  const out = new Map<string, Status>();
  let best: { node: string; victims: KObject[]; key: number[] } | undefined;
  for (const n of snap.nodes) {
    // Nodes that failed for reasons no eviction fixes (taints, affinity) are skipped.
    if (statuses.get(n.name)?.code !== 'Unschedulable') continue;
    const r = victimsOn(plugins, pod, n, snap, pdbs);
    if ('code' in r) { out.set(n.name, r); continue; }
    const { victims, violations } = r;
    const top = Math.max(...victims.map(priorityOf));
    const key = [
      violations, top, victims.reduce((s, v) => s + priorityOf(v) + 2 ** 31, 0), victims.length,
      // Then the node whose most important victims started latest (they lose the least work).
      -Math.min(...victims.filter((v) => priorityOf(v) === top).map(startOf)),
    ];
    if (!best || lexLess(key, best.key)) best = { node: n.name, victims, key };
  }
  return { plan: best && { node: best.node, victims: best.victims }, statuses: out };
}

/** Finds the best preemption for `pod`, or undefined when preemption cannot help. */
export function findPreemption(plugins: Plugin[], pod: KObject, snap: Snapshot, statuses: Map<string, Status>, pdbs: KObject[] = []): Preemption | undefined {
  if (pod.spec?.preemptionPolicy === 'Never') return undefined;
  return evaluatePreemption(plugins, pod, snap, statuses, pdbs).plan;
}

/** "preemption: 0/N nodes are available: <count> <reason>, ...." for nodes tried and not tried. */
export function preemptionMessage(total: number, tried: Map<string, Status>): string {
  const hist = new Map<string, number>();
  for (const s of tried.values()) for (const r of s.reasons) hist.set(r, (hist.get(r) ?? 0) + 1);
  if (total > tried.size) hist.set(NOT_HELPFUL, (hist.get(NOT_HELPFUL) ?? 0) + total - tried.size);
  const parts = [...hist].map(([r, n]) => `${n} ${r}`).sort();
  return `preemption: 0/${total} nodes are available: ${parts.join(', ')}.`;
}

/**
 * The DefaultPreemption plugin. `filters` is the plugin set to test fits with (the scheduler's)
 * and `pdbs` lists the PodDisruptionBudgets; both are read at each use.
 */
export function defaultPreemption(filters: () => Plugin[], pdbs: () => KObject[] = () => []): Plugin {
  return {
    name: 'DefaultPreemption',
    postFilter: (_state, pod, snap, statuses): PostFilterResult => {
      if (pod.spec?.preemptionPolicy === 'Never') return { code: 'Unschedulable', message: 'preemption: not eligible due to preemptionPolicy=Never.' };
      // Victims of an earlier preemption still terminating on the nominated node: wait for them.
      const nominated = pod.status?.nominatedNodeName && snap.get(pod.status.nominatedNodeName);
      if (nominated && statuses.get(nominated.name)?.code !== 'UnschedulableAndUnresolvable'
        && [...nominated.pods.values()].some((e) => e.pod.metadata.deletionTimestamp && priorityOf(e.pod) < priorityOf(pod))) {
        return { code: 'Unschedulable', message: 'preemption: not eligible due to a terminating pod on the nominated node.', keepNomination: true };
      }
      const r = evaluatePreemption(filters(), pod, snap, statuses, pdbs());
      if (r.plan) return { code: 'Success', nominatedNode: r.plan.node, victims: r.plan.victims };
      return { code: 'Unschedulable', message: preemptionMessage(snap.nodes.length, r.statuses) };
    },
  };
}
