/**
 * The bootstrap RBAC policy kube-apiserver writes at start (its rbac/bootstrap-roles hook),
 * reconciled the same way: a missing object is created; an existing one annotated
 * rbac.authorization.kubernetes.io/autoupdate=true gains missing labels, annotations, rules,
 * aggregation selectors and subjects (nothing is taken away); a binding whose roleRef changed
 * is recreated; `autoupdate: "false"` leaves an object alone. admin, edit and view aggregate
 * the system:aggregate-to-* roles (and each other) by label, as upstream; their rules are
 * written aggregated already so they work before the aggregation controller's first pass.
 */
import type { Storage } from '../storage.js';
import type { Catalog } from '../catalog.js';
import { ApiError } from '../status.js';
import { uncovered, type PolicyRule } from './rules.js';
import { aggregateRules } from './aggregation.js';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const RW = [...READ, ...WRITE];
const AUTOUPDATE = 'rbac.authorization.kubernetes.io/autoupdate';
const LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const AGG = (to: string) => ({ [`rbac.authorization.k8s.io/aggregate-to-${to}`]: 'true' });

const rule = (verbs: string[], apiGroups: string[], resources: string[]): PolicyRule => ({ verbs, apiGroups, resources });
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, nonResourceURLs });

interface RoleSpec { name: string; labels?: Record<string, string>; rules?: PolicyRule[]; aggregate?: string }

/** The bootstrap ClusterRoles (the subset of upstream's this server's users and components need). */
const ROLES: RoleSpec[] = [
  { name: 'cluster-admin', rules: [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])] },
  { name: 'system:discovery', rules: [urls(['get'], ['/livez', '/readyz', '/healthz', '/version', '/version/', '/openapi', '/openapi/*', '/api', '/api/*', '/apis', '/apis/*'])] },
  { name: 'system:monitoring', rules: [urls(['get'], ['/metrics', '/livez', '/readyz', '/healthz', '/livez/*', '/readyz/*', '/healthz/*'])] },
  { name: 'system:basic-user', rules: [rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']), rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews'])] },
  { name: 'system:public-info-viewer', rules: [urls(['get'], ['/livez', '/readyz', '/healthz', '/version', '/version/'])] },
  { name: 'system:service-account-issuer-discovery', rules: [urls(['get'], ['/.well-known/openid-configuration', '/.well-known/openid-configuration/', '/openid/v1/jwks', '/openid/v1/jwks/'])] },
  { name: 'system:auth-delegator', rules: [rule(['create'], ['authentication.k8s.io'], ['tokenreviews']), rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews'])] },
  { name: 'admin', aggregate: 'admin' },
  { name: 'edit', labels: AGG('admin'), aggregate: 'edit' },
  { name: 'view', labels: AGG('edit'), aggregate: 'view' },
  {
    name: 'system:aggregate-to-admin', labels: AGG('admin'), rules: [
      rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
      rule(RW, ['rbac.authorization.k8s.io'], ['roles', 'rolebindings']),
    ],
  },
  {
    name: 'system:aggregate-to-edit', labels: AGG('edit'), rules: [
      rule(READ, [''], ['pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward', 'secrets', 'services/proxy']),
      rule(['impersonate'], [''], ['serviceaccounts']),
      rule(WRITE, [''], ['pods', 'pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward']),
      rule(['create'], [''], ['pods/eviction']),
      rule(WRITE, [''], ['replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/proxy', 'persistentvolumeclaims', 'configmaps', 'secrets', 'events']),
      rule(['create'], [''], ['serviceaccounts/token']),
      rule(WRITE, ['apps'], ['statefulsets', 'statefulsets/scale', 'daemonsets', 'deployments', 'deployments/scale', 'deployments/rollback', 'replicasets', 'replicasets/scale']),
      rule(WRITE, ['autoscaling'], ['horizontalpodautoscalers']),
      rule(WRITE, ['batch'], ['jobs', 'cronjobs']),
      rule(WRITE, ['policy'], ['poddisruptionbudgets']),
      rule(WRITE, ['networking.k8s.io'], ['networkpolicies', 'ingresses']),
    ],
  },
  {
    name: 'system:aggregate-to-view', labels: AGG('view'), rules: [
      rule(READ, [''], ['pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'configmaps']),
      rule(READ, [''], ['limitranges', 'resourcequotas', 'bindings', 'events', 'pods/status', 'resourcequotas/status', 'namespaces/status', 'replicationcontrollers/status', 'pods/log']),
      // Reading namespaces in a namespace means reading that namespace itself.
      rule(READ, [''], ['namespaces']),
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
      rule(READ, ['apps'], ['controllerrevisions', 'statefulsets', 'statefulsets/status', 'statefulsets/scale', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/status', 'deployments/scale', 'replicasets', 'replicasets/status', 'replicasets/scale']),
      rule(READ, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
      rule(READ, ['batch'], ['jobs', 'cronjobs', 'cronjobs/status', 'jobs/status']),
      rule(READ, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
      rule(READ, ['networking.k8s.io'], ['networkpolicies', 'ingresses', 'ingresses/status']),
    ],
  },
];

const group = (name: string) => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name });

/** The bootstrap ClusterRoleBindings: role name → subjects. */
const BINDINGS: [string, ReturnType<typeof group>[]][] = [
  ['cluster-admin', [group('system:masters')]],
  ['system:discovery', [group('system:authenticated')]],
  ['system:basic-user', [group('system:authenticated')]],
  ['system:public-info-viewer', [group('system:authenticated'), group('system:unauthenticated')]],
  ['system:monitoring', [group('system:monitoring')]],
  ['system:service-account-issuer-discovery', [group('system:serviceaccounts')]],
];

/** The bootstrap ClusterRole objects, admin/edit/view aggregated. */
export function bootstrapClusterRoles(): any[] {
  const roles = ROLES.map((s) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole',
    metadata: { name: s.name, labels: { ...LABELS, ...s.labels }, annotations: { [AUTOUPDATE]: 'true' } },
    ...(s.aggregate ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: AGG(s.aggregate) }] } } : {}),
    rules: s.rules ?? [],
  }));
  // view, then edit (which takes view), then admin (which takes edit).
  for (const name of ['view', 'edit', 'admin']) {
    const r = roles.find((x) => x.metadata.name === name)!;
    r.rules = aggregateRules(r, roles);
  }
  return roles;
}

/** The bootstrap ClusterRoleBinding objects. */
export function bootstrapClusterRoleBindings(): any[] {
  return BINDINGS.map(([name, subjects]) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...LABELS }, annotations: { [AUTOUPDATE]: 'true' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects,
  }));
}

const ignore = (code: number) => (err: unknown) => { if (!(err instanceof ApiError && err.code === code)) throw err; };

/** Merges `want`'s labels and annotations into `cur`'s metadata; true when something was added. */
function mergeMeta(cur: any, want: any): boolean {
  let changed = false;
  for (const f of ['labels', 'annotations'] as const) {
    for (const [k, v] of Object.entries(want.metadata[f] ?? {})) {
      if (cur.metadata[f]?.[k] === undefined) { (cur.metadata[f] ??= {})[k] = v; changed = true; }
    }
  }
  return changed;
}

/** Writes or reconciles the bootstrap policy (see the module comment). */
export async function reconcileBootstrapPolicy(storage: Storage, catalog: Catalog): Promise<void> {
  const roles = catalog.lookup('rbac.authorization.k8s.io', 'v1', 'clusterroles')!;
  const bindings = catalog.lookup('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings')!;
  const current = async (r: typeof roles, name: string) => (await storage.get(r, undefined, name).catch(ignore(404)))?.obj;
  for (const want of bootstrapClusterRoles()) {
    const cur = await current(roles, want.metadata.name);
    if (!cur) { await storage.create(roles, undefined, want).catch(ignore(409)); continue; }
    if (cur.metadata.annotations?.[AUTOUPDATE] === 'false') continue;
    let changed = mergeMeta(cur, want);
    if (want.aggregationRule) {
      // Aggregated rules are the aggregation controller's; only the selectors are reconciled.
      const sels: any[] = cur.aggregationRule?.clusterRoleSelectors ?? [];
      for (const s of want.aggregationRule.clusterRoleSelectors) {
        if (!sels.some((x) => JSON.stringify(x) === JSON.stringify(s))) { sels.push(s); changed = true; }
      }
      cur.aggregationRule = { clusterRoleSelectors: sels };
    } else {
      const missing = uncovered(cur.rules ?? [], want.rules);
      if (missing.length) { cur.rules = [...(cur.rules ?? []), ...missing]; changed = true; }
    }
    if (changed) await storage.update(roles, undefined, cur.metadata.name, () => { delete cur.metadata.resourceVersion; return cur; }, { system: true });
  }
  for (const want of bootstrapClusterRoleBindings()) {
    const cur = await current(bindings, want.metadata.name);
    if (cur && cur.metadata.annotations?.[AUTOUPDATE] === 'false') continue;
    if (cur && (cur.roleRef?.kind !== want.roleRef.kind || cur.roleRef?.name !== want.roleRef.name)) {
      // roleRef is immutable: a changed one means delete and create.
      await storage.delete(bindings, undefined, cur.metadata.name).catch(ignore(404));
    } else if (cur) {
      let changed = mergeMeta(cur, want);
      const subjects: any[] = cur.subjects ?? [];
      for (const s of want.subjects) if (!subjects.some((x) => x.kind === s.kind && x.name === s.name && (x.namespace ?? '') === '')) { subjects.push(s); changed = true; }
      cur.subjects = subjects;
      if (changed) await storage.update(bindings, undefined, cur.metadata.name, () => { delete cur.metadata.resourceVersion; return cur; }, { system: true });
      continue;
    }
    await storage.create(bindings, undefined, want).catch(ignore(409));
  }
}
