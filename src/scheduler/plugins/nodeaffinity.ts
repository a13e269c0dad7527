/**
 * NodeName, NodeUnschedulable, and NodeAffinity (spec.nodeSelector, required and preferred
 * node affinity): which nodes a pod may run on by their name, labels and fields.
 */
import type { KObject } from '../../client/client.js';
import { OK, unresolvable, defaultNormalize, type Plugin } from '../framework.js';
import { tolerates } from './taints.js';

/** Does one NodeSelectorRequirement hold for these values? */
function requirement(r: any, value: string | undefined): boolean {
  const vals: string[] = r.values ?? [];
  switch (r.operator) {
    case 'In': return value !== undefined && vals.includes(value);
    case 'NotIn': return value === undefined || !vals.includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': return value !== undefined && /^-?\d+$/.test(value) && Number(value) > Number(vals[0]);
    case 'Lt': return value !== undefined && /^-?\d+$/.test(value) && Number(value) < Number(vals[0]);
    default: return false;
  }
}

/** Does a NodeSelectorTerm (its expressions and fields, ANDed) match the node? An empty term matches nothing. */
export function termMatches(term: any, node: KObject): boolean {
  const exprs: any[] = term?.matchExpressions ?? [];
  const fields: any[] = term?.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  const labels = node.metadata.labels ?? {};
  return exprs.every((r) => requirement(r, labels[r.key])) && fields.every((r) => requirement(r, r.key === 'metadata.name' ? node.metadata.name : undefined));
}

/** Does the node satisfy the pod's nodeSelector and required node affinity? */
export function nodeMatchesPod(pod: KObject, node: KObject): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return !terms || terms.some((t: any) => termMatches(t, node));
}

/** NodeName: a pod naming a node fits only there. */
export const nodeName: Plugin = {
  name: 'NodeName',
  filter: (_s, pod, node) => (!pod.spec?.nodeName || pod.spec.nodeName === node.name ? OK : unresolvable("node(s) didn't match the requested node name")),
};

/** NodeUnschedulable: cordoned nodes take only pods tolerating node.kubernetes.io/unschedulable. */
export const nodeUnschedulable: Plugin = {
  name: 'NodeUnschedulable',
  filter: (_s, pod, node) => {
    if (!node.node.spec?.unschedulable) return OK;
    const taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };
    return tolerates(pod.spec?.tolerations ?? [], taint) ? OK : unresolvable('node(s) were unschedulable');
  },
};

/** NodeAffinity: required terms filter; preferred terms score by the sum of matching weights. */
export const nodeAffinity: Plugin = {
  name: 'NodeAffinity',
  weight: 2,
  filter: (_s, pod, node) => (nodeMatchesPod(pod, node.node) ? OK : unresolvable("node(s) didn't match Pod's node affinity/selector")),
  score: (_s, pod, node) => {
    let sum = 0;
    for (const p of pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (termMatches(p.preference, node.node)) sum += p.weight ?? 0;
    }
    return sum;
  },
  normalize: (_s, _p, scores) => defaultNormalize(scores),
};
