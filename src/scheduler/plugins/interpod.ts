/**
 * InterPodAffinity: required pod affinity (the node's topology domain must hold a matching
 * pod), required anti-affinity (it must not), the symmetric check (existing pods' anti-affinity
 * against the incoming pod), and scoring by preferred terms both ways. Only runs its scans when
 * the pod or some existing pod has such terms, so ordinary pods pay nothing.
 * Limits: namespaceSelector is honoured only as "all namespaces" when empty.
 */
import type { KObject } from '../../client/client.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { OK, unresolvable, unschedulable, type Plugin, type Snapshot, type CycleState } from '../framework.js';
import type { NodeInfo } from '../nodeinfo.js';

/** Does an affinity term of `owner` select `other`? */
export function termSelects(term: any, owner: KObject, other: KObject): boolean {
  const nss: string[] | undefined = term.namespaces?.length ? term.namespaces : undefined;
  const allNs = term.namespaceSelector && !Object.keys(term.namespaceSelector.matchLabels ?? {}).length && !(term.namespaceSelector.matchExpressions ?? []).length;
  if (!allNs && !(nss ?? [owner.metadata.namespace]).includes(other.metadata.namespace)) return false;
  if (!term.labelSelector) return false;
  return selectorObjectMatcher(term.labelSelector)(other.metadata.labels ?? {});
}

const req = (a: any) => a?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
const pref = (a: any) => a?.preferredDuringSchedulingIgnoredDuringExecution ?? [];

interface Pre {
  /** Per required affinity term: topology values where a matching pod runs. */
  affinity: Set<string>[];
  /** True when some placed pod matches all the terms (else the self-match exception may apply). */
  anyAffinityMatch: boolean;
  /** Per required anti-affinity term: topology values where a matching pod runs. */
  anti: Set<string>[];
  /** "key=value" domains barred by existing pods' anti-affinity. */
  barred: Set<string>;
}

function allPods(snap: Snapshot): { pod: KObject; node: NodeInfo }[] {
  const out: { pod: KObject; node: NodeInfo }[] = [];
  for (const n of snap.nodes) for (const e of n.pods.values()) out.push({ pod: e.pod, node: n });
  return out;
}

function pre(state: CycleState, pod: KObject, snap: Snapshot): Pre {
  const cached = state.get('InterPodAffinity') as Pre | undefined;
  if (cached) return cached;
  const aff = req(pod.spec?.affinity?.podAffinity);
  const anti = req(pod.spec?.affinity?.podAntiAffinity);
  const p: Pre = { affinity: aff.map(() => new Set()), anyAffinityMatch: false, anti: anti.map(() => new Set()), barred: new Set() };
  if (aff.length || anti.length) {
    for (const { pod: q, node } of allPods(snap)) {
      // As kube-scheduler: an existing pod counts for affinity only when it matches every term.
      if (aff.length && aff.every((t: any) => termSelects(t, pod, q))) {
        aff.forEach((t: any, i: number) => {
          const v = node.node.metadata.labels?.[t.topologyKey];
          if (v !== undefined) p.affinity[i].add(v);
        });
      }
      anti.forEach((t: any, i: number) => {
        const v = node.node.metadata.labels?.[t.topologyKey];
        if (v !== undefined && termSelects(t, pod, q)) p.anti[i].add(v);
      });
    }
    p.anyAffinityMatch = p.affinity.some((x) => x.size > 0);
  }
  for (const node of snap.havePodsWithAffinity) {
    for (const e of node.pods.values()) {
      for (const t of req(e.pod.spec?.affinity?.podAntiAffinity)) {
        const v = node.node.metadata.labels?.[t.topologyKey];
        if (v !== undefined && termSelects(t, e.pod, pod)) p.barred.add(`${t.topologyKey}=${v}`);
      }
    }
  }
  state.set('InterPodAffinity', p);
  return p;
}

/** The InterPodAffinity plugin. */
export const interPodAffinity: Plugin = {
  name: 'InterPodAffinity',
  weight: 2,
  filter: (state, pod, node, snap) => {
    const p = pre(state, pod, snap);
    const labels = node.node.metadata.labels ?? {};
    for (const b of p.barred) {
      const i = b.indexOf('=');
      if (labels[b.slice(0, i)] === b.slice(i + 1)) return unschedulable("node(s) didn't satisfy existing pods anti-affinity rules");
    }
    const aff = req(pod.spec?.affinity?.podAffinity);
    if (aff.length) {
      // The first pod of a group that selects itself may go anywhere its topology key exists.
      const selfOk = !p.anyAffinityMatch && aff.every((t: any) => termSelects(t, pod, pod));
      const ok = aff.every((t: any, i: number) => labels[t.topologyKey] !== undefined && (selfOk || p.affinity[i].has(labels[t.topologyKey])));
      if (!ok) return unresolvable("node(s) didn't match pod affinity rules");
    }
    const anti = req(pod.spec?.affinity?.podAntiAffinity);
    if (anti.some((t: any, i: number) => labels[t.topologyKey] !== undefined && p.anti[i].has(labels[t.topologyKey]))) {
      return unschedulable("node(s) didn't match pod anti-affinity rules");
    }
    return OK;
  },
  preScore: (state, pod, _nodes, snap) => {
    // Domain ("key=value") -> summed weight, from the pod's preferred terms and existing pods' terms about it.
    const w = new Map<string, number>();
    const bump = (k: string, v: string | undefined, by: number) => { if (v !== undefined) w.set(`${k}=${v}`, (w.get(`${k}=${v}`) ?? 0) + by); };
    const mine = [...pref(pod.spec?.affinity?.podAffinity).map((t: any) => [t, 1]), ...pref(pod.spec?.affinity?.podAntiAffinity).map((t: any) => [t, -1])] as [any, number][];
    if (mine.length) {
      for (const { pod: q, node } of allPods(snap)) {
        for (const [t, sign] of mine) if (termSelects(t.podAffinityTerm, pod, q)) bump(t.podAffinityTerm.topologyKey, node.node.metadata.labels?.[t.podAffinityTerm.topologyKey], sign * (t.weight ?? 0));
      }
    }
    for (const node of snap.havePodsWithAffinity) {
      for (const e of node.pods.values()) {
        const a = e.pod.spec?.affinity;
        for (const t of pref(a?.podAffinity)) if (termSelects(t.podAffinityTerm, e.pod, pod)) bump(t.podAffinityTerm.topologyKey, node.node.metadata.labels?.[t.podAffinityTerm.topologyKey], t.weight ?? 0);
        for (const t of pref(a?.podAntiAffinity)) if (termSelects(t.podAffinityTerm, e.pod, pod)) bump(t.podAffinityTerm.topologyKey, node.node.metadata.labels?.[t.podAffinityTerm.topologyKey], -(t.weight ?? 0));
      }
    }
    state.set('InterPodAffinity/weights', w);
  },
  score: (state, _pod, node) => {
    const w = state.get('InterPodAffinity/weights') as Map<string, number>;
    if (!w?.size) return 0;
    let s = 0;
    for (const [k, v] of Object.entries(node.node.metadata.labels ?? {})) s += w.get(`${k}=${v}`) ?? 0;
    return s;
  },
  normalize: (_s, _p, scores) => {
    const vals = [...scores.values()];
    const min = Math.min(...vals), max = Math.max(...vals);
    for (const [k, v] of scores) scores.set(k, max === min ? 0 : Math.floor(((v - min) * 100) / (max - min)));
  },
};
