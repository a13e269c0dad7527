/**
 * Privilege-escalation prevention on RBAC writes, as kube-apiserver's rbac registry: a user
 * may write a Role or ClusterRole only with rules they hold themselves (in that namespace) or
 * with the `escalate` verb on it; an aggregationRule needs full authority; a RoleBinding or
 * ClusterRoleBinding only to a role whose rules they hold, or with the `bind` verb on the role.
 * Writes from inside the server (no user) and by system:masters pass.
 */
import type { ResourceInfo } from '../resources.js';
import { ApiError, notFound } from '../status.js';
import { MASTERS, compactRules, compactString, uncovered, type PolicyRule, type UserInfo } from './rules.js';
import type { RbacAuthorizer } from './rbac.js';

const GROUP = 'rbac.authorization.k8s.io';
const FULL: PolicyRule[] = [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }];

const denied = (r: ResourceInfo, name: string, msg: string) =>
  new ApiError(403, 'Forbidden', `${r.resource}.${GROUP} ${JSON.stringify(name)} is forbidden: ${msg}`, { name, group: GROUP, kind: r.resource });

/** Throws 403 unless `user` holds every one of `rules` in `namespace`. */
function confirmNoEscalation(authz: RbacAuthorizer, r: ResourceInfo, name: string, user: UserInfo, namespace: string, rules: PolicyRule[], why?: string): void {
  const held = authz.rulesFor(user, namespace);
  const missing = uncovered(held.rules, rules);
  if (!missing.length) return;
  if (why) throw denied(r, name, why);
  const lines = compactRules(missing).map(compactString).sort();
  let msg = `user ${JSON.stringify(user.name)} (groups=[${user.groups.map((g) => JSON.stringify(g)).join(' ')}]) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`;
  if (held.errors.length) msg += `; resolution errors: [${held.errors.join(' ')}]`;
  throw denied(r, name, msg);
}

/**
 * Checks a create or update of an RBAC object by `user` (`cur` is the stored object on update).
 * Does nothing for other resources.
 */
export function checkEscalation(authz: RbacAuthorizer, r: ResourceInfo, obj: any, cur: any | undefined, user: UserInfo | undefined): void {
  if (r.group !== GROUP || !user || user.groups.includes(MASTERS)) return;
  const name = obj.metadata?.name ?? '';
  const ns = r.namespaced ? obj.metadata?.namespace ?? '' : '';
  const allowedTo = (verb: string, resource: string, target: string) => authz.authorize({
    user, verb, resourceRequest: true, path: '', apiGroup: GROUP, apiVersion: '', resource, subresource: '', namespace: ns, name: target,
  }).allowed;
  if (r.resource === 'roles' || r.resource === 'clusterroles') {
    const same = (f: string) => cur && JSON.stringify(cur[f] ?? null) === JSON.stringify(obj[f] ?? null);
    if (same('rules') && same('aggregationRule')) return; // metadata-only updates
    if (allowedTo('escalate', r.resource, name)) return;
    confirmNoEscalation(authz, r, name, user, ns, obj.rules ?? []);
    if (obj.aggregationRule) confirmNoEscalation(authz, r, name, user, ns, FULL, 'must have cluster-admin privileges to use the aggregationRule');
    return;
  }
  if (r.resource === 'rolebindings' || r.resource === 'clusterrolebindings') {
    const ref = obj.roleRef ?? {};
    const refResource = ref.kind === 'Role' ? 'roles' : 'clusterroles';
    if (allowedTo('bind', refResource, ref.name ?? '')) return;
    const { rules, error } = authz.roleRules(ref, ns);
    if (error) throw notFound({ group: GROUP, resource: refResource }, ref.name ?? '');
    confirmNoEscalation(authz, r, name, user, ns, rules);
  }
}
