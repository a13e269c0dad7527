/**
 * RBAC against a real API server: service account tokens get nothing but discovery and
 * self-reviews until bound (403 with kube-apiserver's exact Status), RoleBindings grant in
 * their namespace only, ClusterRoleBindings everywhere, resourceNames restrict, impersonation
 * needs the impersonate verb, access reviews answer from RBAC, kubectl 1.27 and 1.33
 * `auth can-i --as` say yes/no, @kubernetes/client-node sees the 403, escalation is refused,
 * exec over a WebSocket needs create, and the bootstrap policy is reconciled on restart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { startApiServer } from '../src/apiserver/server.js';

let s: TestServer;
let ca: string;

interface Reply { code: number; body: any }

/** One HTTPS request as `token` (the admin token when omitted), with optional extra headers. */
function call(method: string, p: string, o: { token?: string; body?: unknown; headers?: Record<string, string | string[]>; url?: string } = {}): Promise<Reply> {
  const u = new URL(p, o.url ?? s.url);
  const data = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = https.request(u, {
      method, ca, headers: {
        ...(o.token !== '' ? { Authorization: `Bearer ${o.token ?? s.credentials.token}` } : {}),
        ...(data ? { 'Content-Type': 'application/json' } : {}), ...o.headers,
      },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let body: any = text; try { body = JSON.parse(text); } catch { /* plain text */ } resolve({ code: res.statusCode!, body }); });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** A token of service account `ns/name` from the TokenRequest API. */
async function tokenOf(ns: string, name: string): Promise<string> {
  const r = await call('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`, { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } } });
  assert.equal(r.code, 201, JSON.stringify(r.body));
  return r.body.status.token;
}

const created = async (p: string, body: unknown) => {
  const r = await call('POST', p, { body });
  assert.equal(r.code, 201, JSON.stringify(r.body));
  return r.body;
};

const denial = (message: string, details: Record<string, string>) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Forbidden', details, code: 403 });

before(async () => {
  s = await startTestServer();
  ca = s.credentials.caCert;
  for (const ns of ['team', 'other']) await created('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // Namespaces get their default service account from the server's seeding.
  for (let i = 0; i < 100 && (await call('GET', '/api/v1/namespaces/team/serviceaccounts/default')).code !== 200; i++) await new Promise((r) => setTimeout(r, 20));
});
after(async () => { await s?.stop(); });

test('unauthenticated requests stay 401; a service account token alone may discover and review itself, nothing more', async () => {
  assert.equal((await call('GET', '/api/v1/namespaces/default/pods', { token: '' })).code, 401);
  assert.equal((await call('GET', '/api', { token: '' })).code, 401, 'no anonymous discovery');
  const t = await tokenOf('default', 'default');
  let r = await call('GET', '/api/v1/namespaces/default/pods', { token: t });
  assert.equal(r.code, 403);
  assert.deepEqual(r.body, denial('pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"', { kind: 'pods' }));
  r = await call('GET', '/api/v1/namespaces/default/secrets/x', { token: t });
  assert.deepEqual(r.body, denial('secrets "x" is forbidden: User "system:serviceaccount:default:default" cannot get resource "secrets" in API group "" in the namespace "default"', { name: 'x', kind: 'secrets' }));
  r = await call('GET', '/apis/apps/v1/deployments', { token: t });
  assert.deepEqual(r.body, denial('deployments.apps is forbidden: User "system:serviceaccount:default:default" cannot list resource "deployments" in API group "apps" at the cluster scope', { group: 'apps', kind: 'deployments' }));
  r = await call('GET', '/metrics', { token: t });
  assert.deepEqual(r.body, denial('forbidden: User "system:serviceaccount:default:default" cannot get path "/metrics"', {}));
  r = await call('POST', '/api/v1/namespaces/default/serviceaccounts/default/token', { token: t, body: { spec: {} } });
  assert.equal(r.code, 403, 'a token cannot mint more tokens');
  // system:discovery, system:basic-user and system:public-info-viewer are bound to system:authenticated.
  for (const p of ['/api', '/apis', '/api/v1', '/apis/apps/v1', '/version', '/openapi/v3']) assert.equal((await call('GET', p, { token: t })).code, 200, p);
  r = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { token: t, body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  assert.equal(r.code, 201);
  assert.deepEqual(r.body.status.userInfo.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
});

test('a RoleBinding to view: pods readable in its namespace only, secrets still not; a ClusterRoleBinding grants everywhere', async () => {
  const t = await tokenOf('team', 'default');
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'sa-view' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'team' }],
  });
  // The binding is in force as soon as its create returns.
  assert.equal((await call('GET', '/api/v1/namespaces/team/pods', { token: t })).code, 200);
  assert.equal((await call('GET', '/api/v1/namespaces/team', { token: t })).code, 200, 'view reads its own namespace');
  assert.equal((await call('GET', '/api/v1/namespaces/other/pods', { token: t })).code, 403);
  assert.equal((await call('GET', '/api/v1/pods', { token: t })).code, 403, 'not across namespaces');
  const r = await call('GET', '/api/v1/namespaces/team/secrets', { token: t });
  assert.deepEqual(r.body, denial('secrets is forbidden: User "system:serviceaccount:team:default" cannot list resource "secrets" in API group "" in the namespace "team"', { kind: 'secrets' }));
  assert.equal((await call('POST', '/api/v1/namespaces/team/configmaps', { token: t, body: { metadata: { name: 'x' } } })).code, 403, 'view does not write');

  await created('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'node-reader' }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['nodes', 'pods'] }],
  });
  await created('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'team-node-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-reader' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts:team' }],
  });
  assert.equal((await call('GET', '/api/v1/nodes', { token: t })).code, 200);
  assert.equal((await call('GET', '/api/v1/pods', { token: t })).code, 200);
  assert.equal((await call('GET', '/api/v1/namespaces/other/pods', { token: t })).code, 200);
  // Deleting the binding takes the grant away again.
  assert.equal((await call('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/team-node-reader')).code, 200);
  assert.equal((await call('GET', '/api/v1/nodes', { token: t })).code, 403);
});

test('resourceNames restrict get to the named objects; a list is not a named request', async () => {
  for (const n of ['allowed', 'hidden']) await created('/api/v1/namespaces/other/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n } });
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/other/roles', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'one-cm' }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['allowed'] }],
  });
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/other/rolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'one-cm' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'one-cm' }, subjects: [{ kind: 'User', name: 'system:serviceaccount:other:default' }],
  });
  const t = await tokenOf('other', 'default');
  assert.equal((await call('GET', '/api/v1/namespaces/other/configmaps/allowed', { token: t })).code, 200);
  assert.equal((await call('GET', '/api/v1/namespaces/other/configmaps/hidden', { token: t })).code, 403);
  assert.equal((await call('GET', '/api/v1/namespaces/other/configmaps', { token: t })).code, 403);
  assert.equal((await call('GET', '/api/v1/namespaces/other/configmaps?fieldSelector=metadata.name%3Dallowed', { token: t })).code, 200, 'a list of the one name is allowed');
});

test('impersonation: the admin acts as a service account; others need the impersonate verb', async () => {
  const as = { 'Impersonate-User': 'system:serviceaccount:team:default' };
  assert.equal((await call('GET', '/api/v1/namespaces/team/pods', { headers: as })).code, 200);
  let r = await call('GET', '/api/v1/namespaces/team/secrets', { headers: as });
  assert.equal(r.body.message, 'secrets is forbidden: User "system:serviceaccount:team:default" cannot list resource "secrets" in API group "" in the namespace "team"');
  r = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { headers: { 'Impersonate-User': 'jane', 'Impersonate-Group': ['devs', 'ops'] }, body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  assert.deepEqual(r.body.status.userInfo, { username: 'jane', groups: ['devs', 'ops', 'system:authenticated'] });
  assert.equal((await call('GET', '/api/v1/pods', { headers: { 'Impersonate-Group': 'devs' } })).code, 400, 'a group without a user');
  const t = await tokenOf('default', 'default');
  r = await call('GET', '/api/v1/namespaces/default/pods', { token: t, headers: { 'Impersonate-User': 'admin' } });
  assert.deepEqual(r.body, denial('users "admin" is forbidden: User "system:serviceaccount:default:default" cannot impersonate resource "users" in API group "" at the cluster scope', { name: 'admin', kind: 'users' }));
  r = await call('GET', '/api/v1/namespaces/default/pods', { token: t, headers: { 'Impersonate-User': 'x', 'Impersonate-Group': 'system:masters' } });
  assert.equal(r.code, 403);
});

test('access reviews answer from RBAC: SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview', async () => {
  const sar = (spec: any) => call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec } });
  const sa = 'system:serviceaccount:team:default';
  let r = await sar({ user: sa, groups: ['system:serviceaccounts'], resourceAttributes: { namespace: 'team', verb: 'list', resource: 'pods' } });
  assert.deepEqual(r.body.status, { allowed: true, reason: 'RBAC: allowed by RoleBinding "sa-view/team" of ClusterRole "view" to ServiceAccount "default/team"' });
  r = await sar({ user: sa, resourceAttributes: { namespace: 'team', verb: 'list', resource: 'secrets' } });
  assert.deepEqual(r.body.status, { allowed: false });
  r = await sar({ user: 'x', groups: ['system:authenticated'], nonResourceAttributes: { path: '/version', verb: 'get' } });
  assert.equal(r.body.status.allowed, true);
  r = await sar({ resourceAttributes: { verb: 'get', resource: 'pods' } });
  assert.equal(r.code, 422, 'a subject is required');
  r = await call('POST', '/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', { body: { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', spec: { user: sa, resourceAttributes: { verb: 'get', resource: 'pods', name: 'p' } } } });
  assert.equal(r.code, 201);
  assert.equal(r.body.status.allowed, true);
  r = await call('POST', '/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', { body: { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', spec: { user: sa, resourceAttributes: { namespace: 'other', verb: 'get', resource: 'pods' } } } });
  assert.equal(r.code, 400);
  const t = await tokenOf('team', 'default');
  r = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { token: t, body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'admin', groups: ['system:masters'], resourceAttributes: { verb: 'get', resource: 'secrets' } } } });
  assert.equal(r.code, 403, 'asking about others needs create on subjectaccessreviews');
  r = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { token: t, body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: 'team', verb: 'watch', resource: 'deployments', group: 'apps' } } } });
  assert.equal(r.body.status.allowed, true);
  r = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { token: t, body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 'team' } } });
  assert.equal(r.body.status.incomplete, false);
  assert.ok(r.body.status.resourceRules.some((x: any) => x.resources.includes('pods') && x.verbs.includes('list')));
  assert.ok(!r.body.status.resourceRules.some((x: any) => x.resources.includes('secrets')));
  assert.ok(r.body.status.nonResourceRules.some((x: any) => x.nonResourceURLs.includes('/api/*')));
});

test('kubectl 1.27 and 1.33: auth can-i --as says yes and no, exit status 0 and 1', async () => {
  for (const v of ['1.27', '1.33']) {
    const can = (...a: string[]) => s.kubectl(v, ['auth', 'can-i', ...a]);
    let r = await can('list', 'pods', '-n', 'team', '--as=system:serviceaccount:team:default');
    assert.equal(r.stdout, 'yes\n', v + r.stderr);
    assert.equal(r.code, 0);
    r = await can('list', 'secrets', '-n', 'team', '--as=system:serviceaccount:team:default');
    assert.equal(r.stdout, 'no\n', v + r.stderr);
    assert.equal(r.code, 1);
    r = await can('get', 'configmaps/allowed', '-n', 'other', '--as=system:serviceaccount:other:default');
    assert.equal(r.stdout, 'yes\n', v + r.stderr);
    r = await can('get', 'configmaps/hidden', '-n', 'other', '--as=system:serviceaccount:other:default');
    assert.equal(r.stdout, 'no\n', v + r.stderr);
    r = await can('create', 'pods', '-n', 'team', '--as=system:serviceaccount:team:default');
    assert.equal(r.stdout, 'no\n', v + r.stderr);
    r = await can('delete', 'nodes');
    assert.equal(r.stdout, 'yes\n', 'the admin');
    r = await s.kubectl(v, ['get', 'pods', '-n', 'other', '--as=system:serviceaccount:team:default']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(Forbidden\): pods is forbidden: User "system:serviceaccount:team:default" cannot list resource "pods" in API group "" in the namespace "other"/);
  }
  const r = await s.kubectl('1.33', ['auth', 'whoami', '--as=system:serviceaccount:team:default']);
  assert.match(r.stdout, /Username\s+system:serviceaccount:team:default\nGroups\s+\[system:serviceaccounts system:serviceaccounts:team system:authenticated\]/);
});

test('@kubernetes/client-node with a service account token receives the 403', async () => {
  const t = await tokenOf('team', 'default');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: s.url, caData: Buffer.from(ca).toString('base64') }],
    users: [{ name: 'sa', token: t }],
    contexts: [{ name: 'c', cluster: 'c', user: 'sa' }], currentContext: 'c',
  });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  assert.equal((await core.listNamespacedPod({ namespace: 'team' })).kind, 'PodList');
  await assert.rejects(core.listNamespacedSecret({ namespace: 'team' }), (err: any) => {
    assert.equal(err.code, 403);
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    assert.equal(body.reason, 'Forbidden');
    assert.equal(body.message, 'secrets is forbidden: User "system:serviceaccount:team:default" cannot list resource "secrets" in API group "" in the namespace "team"');
    return true;
  });
});

test('escalation: roles and bindings only within what the writer holds, unless it may escalate or bind', async () => {
  // The team's service account administers its namespace (the admin ClusterRole, bound there).
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'sa-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'team' }],
  });
  const t = await tokenOf('team', 'default');
  const role = (name: string, rules: any[]) => call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', { token: t, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name }, rules } });
  assert.equal((await role('cm-reader', [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['configmaps'] }])).code, 201);
  let r = await role('nodes', [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['nodes', 'configmaps'] }]);
  assert.equal(r.code, 403);
  assert.equal(r.body.message, 'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "system:serviceaccount:team:default" (groups=["system:serviceaccounts" "system:serviceaccounts:team" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}');
  assert.deepEqual(r.body.details, { name: 'nodes', group: 'rbac.authorization.k8s.io', kind: 'roles' });
  const bind = (name: string, roleRef: any) => call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', { token: t, body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef }, subjects: [{ kind: 'User', name: 'bob' }] } });
  assert.equal((await bind('bob-edit', { kind: 'ClusterRole', name: 'edit' })).code, 201, 'edit is within admin');
  r = await bind('bob-root', { kind: 'ClusterRole', name: 'cluster-admin' });
  assert.equal(r.code, 403);
  assert.match(r.body.message, /^rolebindings\.rbac\.authorization\.k8s\.io "bob-root" is forbidden: user "system:serviceaccount:team:default" .* is attempting to grant RBAC permissions not currently held:\n/);
  // The bind verb on a role lets one bind it without holding it; escalate lets one write any rules.
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'binder' },
    rules: [{ verbs: ['bind'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], resourceNames: ['cluster-admin'] }, { verbs: ['escalate'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'] }],
  });
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'sa-binder' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'binder' }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'team' }],
  });
  assert.equal((await bind('bob-root', { kind: 'ClusterRole', name: 'cluster-admin' })).code, 201);
  assert.equal((await role('nodes', [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['nodes'] }])).code, 201);
  assert.equal((await bind('bob-gone', { kind: 'Role', name: 'missing' })).code, 404);
});

test('exec and attach: a WebSocket handshake (GET) needs create on pods/exec, as a SPDY POST does', async () => {
  const t = await tokenOf('team', 'default');
  const ws = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' };
  // A view-only subject: pods/exec get is not enough.
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/other/roles', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'exec-get' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods/exec', 'pods'] }],
  });
  await created('/apis/rbac.authorization.k8s.io/v1/namespaces/other/rolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'exec-get' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'exec-get' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts:team' }],
  });
  let r = await call('GET', '/api/v1/namespaces/other/pods/p/exec?command=id&stdout=true', { token: t, headers: ws });
  assert.equal(r.code, 403);
  assert.equal(r.body.message, 'pods "p" is forbidden: User "system:serviceaccount:team:default" cannot create resource "pods/exec" in API group "" in the namespace "other"');
  r = await call('POST', '/api/v1/namespaces/other/pods/p/attach?stdout=true', { token: t, headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1' } });
  assert.equal(r.code, 403);
  assert.match(r.body.message, /cannot create resource "pods\/attach"/);
  r = await call('GET', '/api/v1/namespaces/other/pods/p/log', { token: t });
  assert.match(r.body.message, /cannot get resource "pods\/log"/);
  // With edit in team (through admin), the request passes authorization and meets the missing pod.
  r = await call('GET', '/api/v1/namespaces/team/pods/p/exec?command=id&stdout=true', { token: t, headers: ws });
  assert.equal(r.code, 404, JSON.stringify(r.body));
});

test('the bootstrap policy: written annotated, restored on restart when autoupdate, left alone when autoupdate is false', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-rbac-'));
  const store = `sqlite://${path.join(root, 'state.db')}`;
  let srv = await startApiServer({ root, port: 0, store });
  const url = srv.url;
  ca = srv.credentials.caCert;
  const tok = srv.credentials.token;
  try {
    const get = async (n: string) => (await call('GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${n}`, { url: srv.url, token: tok })).body;
    const basic = await get('system:basic-user');
    assert.equal(basic.metadata.annotations['rbac.authorization.kubernetes.io/autoupdate'], 'true');
    const crb = (await call('GET', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin', { url, token: tok })).body;
    assert.deepEqual(crb.subjects, [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:masters' }]);
    // Strip a rule from an autoupdated role, and one from a role its owner pinned.
    const put = async (obj: any) => assert.equal((await call('PUT', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${obj.metadata.name}`, { url: srv.url, token: tok, body: obj })).code, 200);
    await put({ ...basic, rules: [] });
    const pub = await get('system:public-info-viewer');
    await put({ ...pub, metadata: { ...pub.metadata, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } }, rules: [] });
    await srv.close();
    srv = await startApiServer({ root, port: 0, store });
    // Missing permissions come back as single-verb, single-resource rules, as upstream reconciles them.
    const flat = (rules: any[]) => rules.flatMap((x) => x.verbs.flatMap((v: string) => x.apiGroups.flatMap((g: string) => x.resources.map((res: string) => `${v} ${g} ${res}`)))).sort();
    assert.deepEqual(flat((await get('system:basic-user')).rules), flat(basic.rules), 'reconciled back');
    assert.deepEqual((await get('system:public-info-viewer')).rules, [], 'left alone');
  } finally {
    await srv.close();
    ca = s.credentials.caCert;
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('aggregation: a ClusterRole labelled aggregate-to-view extends view, edit and admin', async () => {
  await created('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'widgets-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
    rules: [{ verbs: ['get', 'list'], apiGroups: ['example.com'], resources: ['widgets'] }],
  });
  for (const role of ['view', 'edit', 'admin']) {
    let rules: any[] = [];
    for (let i = 0; i < 100; i++) {
      rules = (await call('GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role}`)).body.rules;
      if (rules.some((x) => x.resources?.includes('widgets'))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(rules.some((x) => x.resources?.includes('widgets')), role);
  }
  const r = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'system:serviceaccount:team:default', resourceAttributes: { namespace: 'team', verb: 'list', group: 'example.com', resource: 'widgets' } } } });
  assert.equal(r.body.status.allowed, true);
});

test('a binding\'s roleRef cannot change (422), as upstream validates it', async () => {
  const b = (await call('GET', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/sa-view')).body;
  const r = await call('PUT', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/sa-view', { body: { ...b, roleRef: { ...b.roleRef, name: 'edit' } } });
  assert.equal(r.code, 422);
  assert.equal(r.body.message, 'RoleBinding.rbac.authorization.k8s.io "sa-view" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef');
});

test('RBAC objects are defaulted and validated as upstream: apiGroups of subjects and roleRef, rule and subject requirements', async () => {
  const rb = await created('/apis/rbac.authorization.k8s.io/v1/namespaces/other/rolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'defaults' },
    roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'u' }, { kind: 'ServiceAccount', name: 'default' }],
  });
  assert.deepEqual(rb.roleRef, { kind: 'ClusterRole', name: 'view', apiGroup: 'rbac.authorization.k8s.io' });
  assert.deepEqual(rb.subjects, [{ kind: 'User', name: 'u', apiGroup: 'rbac.authorization.k8s.io' }, { kind: 'ServiceAccount', name: 'default', apiGroup: '' }]);
  let r = await call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/other/roles', { body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'bad' }, rules: [{ apiGroups: [''], resources: ['pods'] }, { verbs: ['get'], nonResourceURLs: ['/x'] }] } });
  assert.equal(r.code, 422);
  assert.equal(r.body.message, 'Role.rbac.authorization.k8s.io "bad" is invalid: [rules[0].verbs: Required value: verbs must contain at least one value, rules[1].nonResourceURLs: Invalid value: ["/x"]: namespaced rules cannot apply to non-resource URLs]');
  r = await call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bad' }, roleRef: { kind: 'Role', name: 'x' }, subjects: [{ kind: 'ServiceAccount', name: 'default' }, { kind: 'Robot', name: 'r2' }] } });
  assert.equal(r.code, 422);
  assert.equal(r.body.message, 'ClusterRoleBinding.rbac.authorization.k8s.io "bad" is invalid: [roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole", subjects[0].namespace: Required value, subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"]');
});
