/**
 * TaintToleration: NoSchedule and NoExecute taints a pod does not tolerate keep it off a node;
 * PreferNoSchedule taints it does not tolerate lower the node's score.
 */
import { OK, unresolvable, defaultNormalize, type Plugin } from '../framework.js';

/** Does one toleration tolerate the taint (key, value, effect, operator Exists/Equal)? */
export function toleration(t: any, taint: { key: string; value?: string; effect: string }): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== 'Exists') return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/** Does any toleration tolerate the taint? */
export function tolerates(tolerations: any[], taint: { key: string; value?: string; effect: string }): boolean {
  return tolerations.some((t) => toleration(t, taint));
}

/** The first NoSchedule/NoExecute taint of the node the tolerations do not tolerate. */
export function untolerated(taints: any[], tolerations: any[]): any | undefined {
  return taints.find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(tolerations, t));
}

/** The TaintToleration plugin. */
export const taintToleration: Plugin = {
  name: 'TaintToleration',
  weight: 3,
  filter: (_s, pod, node) => {
    const t = untolerated(node.node.spec?.taints ?? [], pod.spec?.tolerations ?? []);
    return t ? unresolvable(`node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`) : OK;
  },
  score: (_s, pod, node) => {
    const tol = (pod.spec?.tolerations ?? []).filter((t: any) => !t.effect || t.effect === 'PreferNoSchedule');
    return (node.node.spec?.taints ?? []).filter((t: any) => t.effect === 'PreferNoSchedule' && !tolerates(tol, t)).length;
  },
  normalize: (_s, _p, scores) => defaultNormalize(scores, true),
};
