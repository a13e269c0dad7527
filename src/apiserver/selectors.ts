/**
 * Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`) and field
 * selectors (`metadata.name=x`, `status.phase!=Running`, ...) as the list and watch verbs
 * accept them, plus the LabelSelector objects (matchLabels/matchExpressions) workloads carry.
 */
import { badRequest } from './status.js';
import { parseLabelSelector, test, type Matcher } from '../core/labels.js';

export { labelMatcher, parseLabelSelector, selectorObjectMatcher, selectorString, type Matcher } from '../core/labels.js';

/** Reads a dotted field path (`spec.nodeName`, `involvedObject.kind`) from an object. */
export function fieldValue(obj: any, path: string): string | undefined {
  let cur = obj;
  for (const p of path.split('.')) {
    if (cur == null) return undefined;
    cur = cur[p];
  }
  return cur == null ? undefined : String(cur);
}

/** Field paths that are always selectable; others depend on the kind (see FIELDS). */
const FIELDS: Record<string, string[]> = {
  Pod: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName', 'spec.hostNetwork'],
  Event: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
    'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  Secret: ['type'],
  Namespace: ['status.phase'],
  Node: ['spec.unschedulable'],
  ReplicaSet: ['status.replicas'],
  Job: ['status.successful'],
};

/** A matcher for a field selector string on objects of `kind`; 400 for unsupported fields. */
export function fieldMatcher(s: string | null | undefined, kind: string, custom = false): Matcher {
  const reqs = parseLabelSelector(s).map((r) => {
    if (r.op !== 'eq' && r.op !== 'ne') throw badRequest(`invalid field selector: "${s}"`);
    const ok = r.key === 'metadata.name' || r.key === 'metadata.namespace' || (!custom && FIELDS[kind]?.includes(r.key));
    if (!ok) throw badRequest(`field label not supported: ${r.key}`);
    return r;
  });
  return (obj) => test(reqs, (k) => {
    const v = fieldValue(obj, k);
    if (v === undefined && (k === 'metadata.namespace' || k.startsWith('involvedObject.') || k === 'spec.nodeName' || k === 'status.phase' || k === 'source')) return '';
    return v;
  });
}

