/**
 * PodTopologySpread: keeps the count of matching pods across topology domains within maxSkew
 * (DoNotSchedule filters, ScheduleAnyway scores), counting only nodes the pod could use by its
 * node affinity (nodeAffinityPolicy Honor, the default) and honouring minDomains.
 */
import type { KObject } from '../../client/client.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { OK, unresolvable, unschedulable, type Plugin, type Snapshot, type CycleState } from '../framework.js';
import { nodeMatchesPod } from './nodeaffinity.js';

interface Counted { c: any; counts: Map<string, number>; min: number; self: number }

function count(state: CycleState, pod: KObject, snap: Snapshot, mode: 'DoNotSchedule' | 'ScheduleAnyway'): Counted[] {
  const key = `PodTopologySpread/${mode}`;
  const cached = state.get(key) as Counted[] | undefined;
  if (cached) return cached;
  const out: Counted[] = [];
  for (const c of pod.spec?.topologySpreadConstraints ?? []) {
    if ((c.whenUnsatisfiable ?? 'DoNotSchedule') !== mode) continue;
    let sel = c.labelSelector ?? {};
    // matchLabelKeys: the pod's own values of those keys narrow the selector (e.g. pod-template-hash).
    for (const k of c.matchLabelKeys ?? []) if (pod.metadata.labels?.[k] !== undefined) sel = { ...sel, matchLabels: { ...(sel.matchLabels ?? {}), [k]: pod.metadata.labels[k] } };
    const match = selectorObjectMatcher(sel);
    const counts = new Map<string, number>();
    for (const n of snap.nodes) {
      const v = n.node.metadata.labels?.[c.topologyKey];
      if (v === undefined) continue;
      if ((c.nodeAffinityPolicy ?? 'Honor') === 'Honor' && !nodeMatchesPod(pod, n.node)) continue;
      let k = counts.get(v) ?? 0;
      for (const e of n.pods.values()) {
        if (e.pod.metadata.namespace === pod.metadata.namespace && !e.pod.metadata.deletionTimestamp && match(e.pod.metadata.labels ?? {})) k++;
      }
      counts.set(v, k);
    }
    let min = counts.size ? Math.min(...counts.values()) : 0;
    if (c.minDomains && counts.size < c.minDomains) min = 0;
    out.push({ c, counts, min, self: match(pod.metadata.labels ?? {}) ? 1 : 0 });
  }
  state.set(key, out);
  return out;
}

/** The PodTopologySpread plugin. */
export const podTopologySpread: Plugin = {
  name: 'PodTopologySpread',
  weight: 2,
  filter: (state, pod, node, snap) => {
    if (!pod.spec?.topologySpreadConstraints?.length) return OK;
    for (const { c, counts, min, self } of count(state, pod, snap, 'DoNotSchedule')) {
      const v = node.node.metadata.labels?.[c.topologyKey];
      if (v === undefined) return unresolvable("node(s) didn't match pod topology spread constraints (missing required label)");
      if ((counts.get(v) ?? 0) + self - min > (c.maxSkew ?? 1)) return unschedulable("node(s) didn't match pod topology spread constraints");
    }
    return OK;
  },
  score: (state, pod, node, snap) => {
    if (!pod.spec?.topologySpreadConstraints?.length) return 0;
    let s = 0;
    for (const { c, counts } of count(state, pod, snap, 'ScheduleAnyway')) s += counts.get(node.node.metadata.labels?.[c.topologyKey]) ?? 0;
    return s;
  },
  // Fewer matching pods in the node's domains is better.
  normalize: (_s, _p, scores) => {
    const vals = [...scores.values()];
    const min = Math.min(...vals), max = Math.max(...vals);
    for (const [k, v] of scores) scores.set(k, max === min ? 100 : Math.floor(((max - v) * 100) / (max - min)));
  },
};
