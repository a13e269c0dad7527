/**
 * Fast tests of RBAC: the rule matcher (wildcards, subresources, resourceNames,
 * nonResourceURLs), request attribute mapping, the denial wording, escalation coverage, the
 * cached authorizer over a memory store (bindings, subjects, watch-fed changes) and aggregation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ruleAllows, appliesTo, uncovered, compactString, compactRules, forbidden, type Attributes, type UserInfo } from './rules.js';
import { requestAttributes } from './attributes.js';
import { RbacAuthorizer } from './rbac.js';
import { aggregateRules } from './aggregation.js';
import { bootstrapClusterRoles } from './bootstrap.js';
import { openMemoryBackend } from '../memstore.js';

const SA: UserInfo = { name: 'system:serviceaccount:ns1:app', groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated'] };
const res = (verb: string, resource: string, o: Partial<Attributes> = {}): Attributes =>
  ({ user: SA, verb, resourceRequest: true, path: '', apiGroup: '', apiVersion: 'v1', resource, subresource: '', namespace: 'ns1', name: '', ...o });
const url = (verb: string, path: string): Attributes =>
  ({ user: SA, verb, resourceRequest: false, path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' });

test('rules: verbs, groups and resources match exactly or by *; */sub matches any subresource; pods does not cover pods/log', () => {
  const r = { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] };
  assert.ok(ruleAllows(res('get', 'pods'), r));
  assert.ok(!ruleAllows(res('watch', 'pods'), r));
  assert.ok(!ruleAllows(res('get', 'pods', { subresource: 'log' }), r));
  assert.ok(!ruleAllows(res('get', 'pods', { apiGroup: 'apps' }), r));
  assert.ok(ruleAllows(res('get', 'pods', { subresource: 'log' }), { verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }));
  assert.ok(ruleAllows(res('update', 'deployments', { apiGroup: 'apps', subresource: 'scale' }), { verbs: ['*'], apiGroups: ['*'], resources: ['*/scale'] }));
  assert.ok(!ruleAllows(res('update', 'deployments', { apiGroup: 'apps' }), { verbs: ['*'], apiGroups: ['*'], resources: ['*/scale'] }));
  assert.ok(ruleAllows(res('delete', 'anything', { apiGroup: 'x.io', subresource: 'status' }), { verbs: ['*'], apiGroups: ['*'], resources: ['*'] }));
  // A resource rule never allows a path, and a path rule never a resource.
  assert.ok(!ruleAllows(url('get', '/api'), { verbs: ['*'], apiGroups: ['*'], resources: ['*'] }));
  assert.ok(!ruleAllows(res('get', 'pods'), { verbs: ['*'], nonResourceURLs: ['*'] }));
});

test('rules: resourceNames restrict to named requests (a list or create has no name)', () => {
  const r = { verbs: ['get', 'list', 'create'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['one'] };
  assert.ok(ruleAllows(res('get', 'configmaps', { name: 'one' }), r));
  assert.ok(!ruleAllows(res('get', 'configmaps', { name: 'two' }), r));
  assert.ok(!ruleAllows(res('list', 'configmaps'), r));
  assert.ok(!ruleAllows(res('create', 'configmaps'), r));
});

test('rules: nonResourceURLs match exactly, by *, or by a prefix ending in *', () => {
  const r = { verbs: ['get'], nonResourceURLs: ['/version', '/apis/*'] };
  assert.ok(ruleAllows(url('get', '/version'), r));
  assert.ok(!ruleAllows(url('get', '/version/'), r));
  assert.ok(ruleAllows(url('get', '/apis/apps/v1'), r));
  assert.ok(!ruleAllows(url('get', '/apis'), r));
  assert.ok(!ruleAllows(url('post', '/version'), r));
  assert.ok(ruleAllows(url('get', '/metrics'), { verbs: ['get'], nonResourceURLs: ['*'] }));
});

test('subjects: User by name, Group by membership, ServiceAccount by namespace (defaulting to the binding\'s)', () => {
  assert.ok(appliesTo(SA, { kind: 'User', name: SA.name }, ''));
  assert.ok(appliesTo(SA, { kind: 'Group', name: 'system:serviceaccounts:ns1' }, ''));
  assert.ok(!appliesTo(SA, { kind: 'Group', name: 'system:masters' }, ''));
  assert.ok(appliesTo(SA, { kind: 'ServiceAccount', name: 'app', namespace: 'ns1' }, ''));
  assert.ok(appliesTo(SA, { kind: 'ServiceAccount', name: 'app' }, 'ns1'));
  assert.ok(!appliesTo(SA, { kind: 'ServiceAccount', name: 'app' }, 'ns2'));
  assert.ok(!appliesTo(SA, { kind: 'ServiceAccount', name: 'app' }, ''));
});

test('attributes: verbs by method and shape, namespaces, subresources, legacy watch paths, field-selected names, non-resource paths', () => {
  const q = (s = '') => new URLSearchParams(s);
  const a = (m: string, p: string, s = '') => {
    const x = requestAttributes(SA, m, p, q(s));
    return [x.verb, x.apiGroup, x.resource, x.subresource, x.namespace, x.name, x.resourceRequest].join('|');
  };
  assert.equal(a('GET', '/api/v1/namespaces/d/pods'), 'list||pods||d||true');
  assert.equal(a('GET', '/api/v1/namespaces/d/pods', 'watch=true'), 'watch||pods||d||true');
  assert.equal(a('GET', '/api/v1/watch/namespaces/d/pods'), 'watch||pods||d||true');
  assert.equal(a('GET', '/api/v1/pods', 'fieldSelector=metadata.name%3Dweb'), 'list||pods|||web|true');
  assert.equal(a('GET', '/api/v1/namespaces/d/pods/web/log'), 'get||pods|log|d|web|true');
  assert.equal(a('POST', '/api/v1/namespaces/d/pods/web/exec'), 'create||pods|exec|d|web|true');
  assert.equal(a('DELETE', '/apis/apps/v1/namespaces/d/deployments'), 'deletecollection|apps|deployments||d||true');
  assert.equal(a('DELETE', '/apis/apps/v1/namespaces/d/deployments/x'), 'delete|apps|deployments||d|x|true');
  assert.equal(a('PATCH', '/apis/apps/v1/namespaces/d/deployments/x/scale'), 'patch|apps|deployments|scale|d|x|true');
  assert.equal(a('PUT', '/api/v1/namespaces/d/finalize'), 'update||namespaces|finalize|d|d|true');
  assert.equal(a('GET', '/api/v1/namespaces/d'), 'get||namespaces||d|d|true', 'a namespace is in itself');
  assert.equal(a('GET', '/api/v1/nodes/n1/proxy/metrics'), 'get||nodes|proxy||n1|true');
  assert.equal(a('GET', '/api/v1'), 'get||||||false');
  assert.equal(a('GET', '/apis/apps/v1'), 'get||||||false');
  assert.equal(a('POST', '/version'), 'post||||||false');
});

test('denials are worded as kube-apiserver words them, with Status details', () => {
  let e = forbidden(res('list', 'pods', { namespace: 'default' }));
  assert.equal(e.message, 'pods is forbidden: User "system:serviceaccount:ns1:app" cannot list resource "pods" in API group "" in the namespace "default"');
  assert.deepEqual(e.toStatus(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: 'Forbidden', details: { kind: 'pods' }, code: 403 });
  e = forbidden(res('get', 'deployments', { apiGroup: 'apps', subresource: 'scale', name: 'web', namespace: '' }));
  assert.equal(e.message, 'deployments.apps "web" is forbidden: User "system:serviceaccount:ns1:app" cannot get resource "deployments/scale" in API group "apps" at the cluster scope');
  assert.deepEqual(e.details, { name: 'web', group: 'apps', kind: 'deployments' });
  e = forbidden(url('get', '/metrics'), 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found');
  assert.equal(e.message, 'forbidden: User "system:serviceaccount:ns1:app" cannot get path "/metrics": RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found');
});

test('coverage: what a rule set does not grant, compacted and printed as rbacv1helpers.CompactString', () => {
  const owner = [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }, { verbs: ['*'], apiGroups: ['apps'], resources: ['*/scale'] }];
  assert.deepEqual(uncovered(owner, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, { verbs: ['patch'], apiGroups: ['apps'], resources: ['deployments/scale'] }]), []);
  const missing = uncovered(owner, [{ verbs: ['get', 'delete', 'watch'], apiGroups: [''], resources: ['pods', 'secrets'] }]);
  assert.deepEqual(compactRules(missing).map(compactString), [
    '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete" "watch"]}',
    '{APIGroups:[""], Resources:["pods"], Verbs:["delete" "watch"]}',
  ]);
  assert.equal(uncovered([{ verbs: ['get'], apiGroups: [''], resources: ['cm'], resourceNames: ['a'] }], [{ verbs: ['get'], apiGroups: [''], resources: ['cm'] }]).length, 1, 'a named grant does not cover every name');
  assert.equal(uncovered([{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }], [{ verbs: ['get'], nonResourceURLs: ['/apis/apps'] }]).length, 0);
});

const put = async (backend: ReturnType<typeof openMemoryBackend>, key: string, obj: any) => {
  const { kv } = await backend.get(key);
  if (kv) await backend.update(key, Buffer.from(JSON.stringify(obj)), 0);
  else await backend.create(key, Buffer.from(JSON.stringify(obj)));
};
const waitFor = async (cond: () => boolean) => { for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5)); };

test('the authorizer: cluster and namespaced bindings from the store, kept current by its watch; masters bypass; missing roles reported', async () => {
  const backend = openMemoryBackend();
  const P = '/registry/rbac.authorization.k8s.io/';
  await put(backend, `${P}clusterroles/reader`, { metadata: { name: 'reader' }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }] });
  await put(backend, `${P}rolebindings/ns1/rb`, { metadata: { name: 'rb', namespace: 'ns1' }, roleRef: { kind: 'ClusterRole', name: 'reader' }, subjects: [{ kind: 'ServiceAccount', name: 'app' }] });
  const authz = new RbacAuthorizer(backend);
  await authz.start();
  try {
    assert.deepEqual(authz.authorize(res('list', 'pods')), { allowed: true, reason: 'RBAC: allowed by RoleBinding "rb/ns1" of ClusterRole "reader" to ServiceAccount "app/ns1"' });
    assert.equal(authz.authorize(res('list', 'pods', { namespace: 'ns2' })).allowed, false);
    assert.equal(authz.authorize(res('list', 'secrets')).allowed, false);
    assert.equal(authz.authorize({ ...res('delete', 'nodes'), user: { name: 'admin', groups: ['system:masters'] } }).allowed, true);
    // A cluster binding arriving through the watch grants everywhere.
    await put(backend, `${P}clusterrolebindings/crb`, { metadata: { name: 'crb' }, roleRef: { kind: 'ClusterRole', name: 'reader' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts' }] });
    await waitFor(() => authz.authorize(res('list', 'pods', { namespace: 'ns2' })).allowed);
    assert.deepEqual(authz.authorize(res('list', 'pods', { namespace: 'ns2' })), { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "crb" of ClusterRole "reader" to Group "system:serviceaccounts"' });
    // The role going away takes the grant with it, and the denial says why.
    await backend.delete(`${P}clusterroles/reader`);
    await waitFor(() => !authz.authorize(res('list', 'pods')).allowed);
    assert.deepEqual(authz.authorize(res('list', 'pods')), { allowed: false, reason: 'RBAC: [clusterrole.rbac.authorization.k8s.io "reader" not found, clusterrole.rbac.authorization.k8s.io "reader" not found]' });
    // The server's own writes apply at once, and a later watch event of the same revision changes nothing.
    authz.observe('clusterroles', { metadata: { name: 'reader', resourceVersion: '999' }, rules: [{ verbs: ['*'], apiGroups: [''], resources: ['secrets'] }] }, false);
    assert.equal(authz.authorize(res('get', 'secrets', { name: 'x' })).allowed, true);
  } finally {
    authz.stop();
    await backend.close();
  }
});

test('aggregation: admin gets edit\'s and view\'s rules through the label chain; bootstrap roles are aggregated already', () => {
  const roles = bootstrapClusterRoles();
  const byName = (n: string) => roles.find((r) => r.metadata.name === n)!;
  const view = byName('view'), edit = byName('edit'), admin = byName('admin');
  assert.deepEqual(view.rules, byName('system:aggregate-to-view').rules);
  for (const r of view.rules) assert.ok(edit.rules.some((x: any) => JSON.stringify(x) === JSON.stringify(r)), 'edit includes view');
  for (const r of edit.rules) assert.ok(admin.rules.some((x: any) => JSON.stringify(x) === JSON.stringify(r)), 'admin includes edit');
  assert.ok(!view.rules.some((r: any) => r.resources?.includes('secrets')), 'view does not read secrets');
  const extra = { metadata: { name: 'crd-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }, rules: [{ verbs: ['get'], apiGroups: ['x.io'], resources: ['widgets'] }] };
  const rules = aggregateRules(view, [...roles, extra]);
  assert.deepEqual(rules.at(0), extra.rules[0], 'roles are taken in name order');
});
