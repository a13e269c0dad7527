/**
 * Defaults and validation of RBAC objects, as pkg/apis/rbac/v1 defaults and
 * pkg/apis/rbac/validation check them: rules need verbs, and resource rules apiGroups and
 * resources; nonResourceURLs only in ClusterRoles and never beside resources; a binding's
 * roleRef is a Role or ClusterRole of rbac.authorization.k8s.io (only a ClusterRole for a
 * ClusterRoleBinding) with a name; subjects are User, Group or ServiceAccount with a name (a
 * ServiceAccount of a ClusterRoleBinding also needs a namespace); a roleRef never changes.
 */
import { Errs } from '../validation.js';
import type { Cause } from '../status.js';

const GROUP = 'rbac.authorization.k8s.io';

/** Fills in roleRef.apiGroup and the subjects' apiGroup (rbac's for User and Group, "" for ServiceAccount). */
export function defaultRbac(kind: string, obj: any): void {
  if (kind !== 'RoleBinding' && kind !== 'ClusterRoleBinding') return;
  if (obj.roleRef && typeof obj.roleRef === 'object' && !obj.roleRef.apiGroup) obj.roleRef.apiGroup = GROUP;
  for (const s of Array.isArray(obj.subjects) ? obj.subjects : []) {
    if (s && typeof s === 'object' && s.apiGroup === undefined) s.apiGroup = s.kind === 'ServiceAccount' ? '' : (s.kind === 'User' || s.kind === 'Group') ? GROUP : undefined;
  }
}

const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The validation causes of an RBAC object of `kind`. */
export function validateRbac(kind: string, obj: any): Cause[] {
  const e = new Errs();
  if (kind === 'Role' || kind === 'ClusterRole') {
    const rules = obj.rules ?? [];
    if (!Array.isArray(rules)) e.invalid('rules', rules, 'must be a list');
    else rules.forEach((r: any, i: number) => rule(e, r, `rules[${i}]`, kind === 'Role'));
  } else if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') {
    const ref = obj.roleRef ?? {};
    if (ref.apiGroup !== GROUP) e.unsupported('roleRef.apiGroup', ref.apiGroup ?? '', [GROUP]);
    const kinds = kind === 'RoleBinding' ? ['Role', 'ClusterRole'] : ['ClusterRole'];
    if (!kinds.includes(ref.kind)) e.unsupported('roleRef.kind', ref.kind ?? '', kinds);
    if (!ref.name) e.required('roleRef.name');
    const subjects = obj.subjects ?? [];
    if (!Array.isArray(subjects)) e.invalid('subjects', subjects, 'must be a list');
    else subjects.forEach((s: any, i: number) => subject(e, s ?? {}, `subjects[${i}]`, kind === 'RoleBinding'));
  }
  return e.causes;
}

/** The causes of an update of an RBAC object: a binding's roleRef is immutable. */
export function validateRbacUpdate(kind: string, oldObj: any, obj: any): Cause[] {
  if (kind !== 'RoleBinding' && kind !== 'ClusterRoleBinding') return [];
  const ref = (x: any) => `${x?.apiGroup ?? ''}|${x?.kind ?? ''}|${x?.name ?? ''}`;
  if (ref(oldObj.roleRef) === ref(obj.roleRef)) return [];
  // Go prints the struct with %#v.
  const g = obj.roleRef ?? {};
  return [{ reason: 'FieldValueInvalid', field: 'roleRef', message: `Invalid value: rbac.RoleRef{APIGroup:${JSON.stringify(g.apiGroup ?? '')}, Kind:${JSON.stringify(g.kind ?? '')}, Name:${JSON.stringify(g.name ?? '')}}: cannot change roleRef` }];
}

function rule(e: Errs, r: any, path: string, namespaced: boolean): void {
  if (!r || typeof r !== 'object') return e.invalid(path, r, 'must be an object');
  for (const f of ['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs']) {
    if (r[f] !== undefined && !strings(r[f])) e.invalid(`${path}.${f}`, r[f], 'must be a list of strings');
  }
  if (!r.verbs?.length) e.required(`${path}.verbs`, 'verbs must contain at least one value');
  if (r.nonResourceURLs?.length) {
    if (namespaced) e.invalid(`${path}.nonResourceURLs`, r.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs');
    if (r.apiGroups?.length || r.resources?.length || r.resourceNames?.length) e.invalid(`${path}.nonResourceURLs`, r.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs');
    return;
  }
  if (!r.apiGroups?.length) e.required(`${path}.apiGroups`, 'resource rules must supply at least one api group');
  if (!r.resources?.length) e.required(`${path}.resources`, 'resource rules must supply at least one resource');
}

function subject(e: Errs, s: any, path: string, namespaced: boolean): void {
  if (!s.name) e.required(`${path}.name`);
  switch (s.kind) {
    case 'ServiceAccount':
      if (s.apiGroup) e.unsupported(`${path}.apiGroup`, s.apiGroup, ['']);
      if (!namespaced && !s.namespace) e.required(`${path}.namespace`);
      break;
    case 'User': case 'Group':
      if (s.apiGroup !== GROUP) e.unsupported(`${path}.apiGroup`, s.apiGroup ?? '', [GROUP]);
      break;
    default:
      e.unsupported(`${path}.kind`, s.kind ?? '', ['ServiceAccount', 'User', 'Group']);
  }
}
