/**
 * RBAC's pure parts, as kube-apiserver's rbac authorizer and rbac/validation package define
 * them: request attributes, whether a PolicyRule allows them (wildcards `*`, `*\/subresource`,
 * resourceNames, nonResourceURLs with a trailing `*`), whether a binding's subject is a user,
 * whether one rule set covers another (privilege-escalation checks, bootstrap reconciling), and
 * the words of a denial.
 */
import { ApiError } from '../status.js';

/** Who a request runs as: name, groups (system:authenticated included), uid and extra. */
export interface UserInfo { name: string; groups: string[]; uid?: string; extra?: Record<string, string[]> }

/** rbac.authorization.k8s.io/v1 PolicyRule. */
export interface PolicyRule { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }

/** rbac.authorization.k8s.io/v1 Subject. */
export interface Subject { kind: string; name: string; namespace?: string; apiGroup?: string }

/** What authorization decides on (k8s.io/apiserver authorizer.Attributes). */
export interface Attributes {
  user: UserInfo;
  verb: string;
  /** False for non-resource paths (/api, /version, /healthz, /metrics …). */
  resourceRequest: boolean;
  /** The URL path (what nonResourceURLs match). */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

/** The group of everyone who authenticated. */
export const AUTHENTICATED = 'system:authenticated';
/** The group whose members may do anything, without consulting RBAC (kube-apiserver's privileged group). */
export const MASTERS = 'system:masters';
/** The prefix of service account user names. */
export const SA_PREFIX = 'system:serviceaccount:';

// Objects written straight to the store are not validated: anything but a list matches nothing.
const has = (list: string[] | undefined, v: string) => Array.isArray(list) && (list.includes('*') || list.includes(v));

/** Whether `rule` names `resource` (with its subresource), directly, by `*` or by `*\/sub`. */
export function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  for (const r of Array.isArray(rule.resources) ? rule.resources : []) {
    if (r === '*' || r === combined) return true;
    if (subresource && r === `*/${subresource}`) return true;
  }
  return false;
}

/** Whether a nonResourceURLs entry matches `path` (exact, `*`, or a prefix ending in `*`). */
export function urlMatches(pattern: string, path: string): boolean {
  if (pattern === '*' || pattern === path) return true;
  return pattern.endsWith('*') && path.startsWith(pattern.slice(0, -1));
}

/** Whether one rule allows the request (rbac's RuleAllows). */
export function ruleAllows(a: Attributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) return Array.isArray(rule.nonResourceURLs) && rule.nonResourceURLs.some((u) => urlMatches(u, a.path));
  if (!has(rule.apiGroups, a.apiGroup) || !resourceMatches(rule, a.resource, a.subresource)) return false;
  const names = Array.isArray(rule.resourceNames) ? rule.resourceNames : [];
  return names.length === 0 || (!!a.name && names.includes(a.name));
}

/** Whether a binding's subject stands for `user` (a ServiceAccount subject without namespace takes the binding's). */
export function appliesTo(user: UserInfo, s: Subject, bindingNamespace: string): boolean {
  switch (s.kind) {
    case 'User': return user.name === s.name;
    case 'Group': return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return !!ns && user.name === `${SA_PREFIX}${ns}:${s.name}`;
    }
    default: return false;
  }
}

/** How a subject is named in an allow reason (rbac's describeSubject). */
export function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} "${s.name}/${s.namespace || bindingNamespace}"`;
  return `${s.kind} "${s.name}"`;
}

/** One rule broken into single-verb, single-group, single-resource, single-name rules. */
function atoms(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const verb of rule.verbs ?? []) {
    for (const g of rule.apiGroups ?? []) {
      for (const res of rule.resources ?? []) {
        if (rule.resourceNames?.length) for (const n of rule.resourceNames) out.push({ verbs: [verb], apiGroups: [g], resources: [res], resourceNames: [n] });
        else out.push({ verbs: [verb], apiGroups: [g], resources: [res] });
      }
    }
    for (const u of rule.nonResourceURLs ?? []) out.push({ verbs: [verb], nonResourceURLs: [u] });
  }
  return out;
}

/** Whether `owner` grants everything the single-valued rule `sub` does (validation's ruleCovers). */
function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  if (!has(owner.verbs, sub.verbs[0])) return false;
  if (sub.nonResourceURLs?.length) {
    const u = sub.nonResourceURLs[0];
    return (owner.nonResourceURLs ?? []).some((o) => o === '*' || o === u || (o.endsWith('*') && u.startsWith(o.slice(0, -1))));
  }
  if (!has(owner.apiGroups, sub.apiGroups![0])) return false;
  const res = sub.resources![0];
  const ownerHasResource = (owner.resources ?? []).some((o) => {
    if (o === '*' || o === res) return true;
    // "*/scale" covers "deployments/scale"; "pods/*" is not a wildcard in RBAC.
    const slash = res.indexOf('/');
    return slash > 0 && o === `*/${res.slice(slash + 1)}`;
  });
  if (!ownerHasResource) return false;
  const names = owner.resourceNames ?? [];
  return names.length === 0 || (!!sub.resourceNames?.length && names.includes(sub.resourceNames[0]));
}

/** The parts of `wanted` no rule of `owner` grants, as single-valued rules (empty: covered). */
export function uncovered(owner: PolicyRule[], wanted: PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const rule of wanted) for (const a of atoms(rule)) if (!owner.some((o) => ruleCovers(o, a))) missing.push(a);
  return missing;
}

/** Go's %q of a []string: `["a" "b"]`. */
const q = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** A rule as rbacv1helpers.CompactString writes it: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  if (r.apiGroups?.length) parts.push(`APIGroups:${q(r.apiGroups)}`);
  if (r.resources?.length) parts.push(`Resources:${q(r.resources)}`);
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${q(r.nonResourceURLs)}`);
  if (r.resourceNames?.length) parts.push(`ResourceNames:${q(r.resourceNames)}`);
  if (r.verbs?.length) parts.push(`Verbs:${q(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** Merges single-valued resource rules that differ only in verb (validation's CompactRules). */
export function compactRules(rules: PolicyRule[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  const simple = new Map<string, PolicyRule>();
  for (const r of rules) {
    if (r.resources?.length === 1 && r.apiGroups?.length === 1 && !r.resourceNames?.length && !r.nonResourceURLs?.length) {
      const k = `${r.apiGroups[0]}\0${r.resources[0]}`;
      const cur = simple.get(k);
      if (cur) { for (const v of r.verbs) if (!cur.verbs.includes(v)) cur.verbs.push(v); continue; }
      const copy = { ...r, verbs: [...r.verbs] };
      simple.set(k, copy);
      out.push(copy);
    } else out.push(r);
  }
  return out;
}

/** The subject of a denial message: `User "x"`. */
function forbiddenMessage(a: Attributes): string {
  const who = `User ${JSON.stringify(a.user.name)}`;
  if (!a.resourceRequest) return `${who} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : 'at the cluster scope';
  return `${who} cannot ${a.verb} resource ${JSON.stringify(res)} in API group ${JSON.stringify(a.apiGroup)} ${where}`;
}

/**
 * The 403 kube-apiserver answers to a denied request: `pods is forbidden: User "u" cannot list
 * resource "pods" in API group "" in the namespace "default"` (`pods "x" is forbidden: …` for
 * a named object, `forbidden: …` for a path), with the authorizer's reason appended after `: `.
 */
export function forbidden(a: Attributes, reason = ''): ApiError {
  const msg = forbiddenMessage(a) + (reason ? `: ${reason}` : '');
  if (!a.resourceRequest) return new ApiError(403, 'Forbidden', `forbidden: ${msg}`, {});
  const gr = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const head = a.name ? `${gr} ${JSON.stringify(a.name)}` : gr;
  // Empty fields are left out, as Go's omitempty does.
  return new ApiError(403, 'Forbidden', `${head} is forbidden: ${msg}`, { ...(a.name ? { name: a.name } : {}), ...(a.apiGroup ? { group: a.apiGroup } : {}), kind: a.resource });
}
