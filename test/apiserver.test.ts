/**
 * The API server over HTTPS, driven with Skiff's own client and raw requests: authentication,
 * discovery and OpenAPI, the verbs and their Kubernetes semantics (generation, optimistic
 * concurrency, selectors, pagination, watch with bookmarks and 410, finalizers, namespaces,
 * status/scale/binding subresources, Tables, CRDs), and bad input that stores nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { openMemoryBackend } from '../src/apiserver/memstore.js';
import { ApiClient, ApiStatusError, type WatchEvent } from '../src/client/client.js';
import { listWatch } from '../src/client/listwatch.js';
import type { Backend } from '../src/store/types.js';

const CM = { group: '', version: 'v1', resource: 'configmaps' };
const PODS = { group: '', version: 'v1', resource: 'pods' };
const NS = { group: '', version: 'v1', resource: 'namespaces' };
const DEPLOY = { group: 'apps', version: 'v1', resource: 'deployments' };
const CRDS = { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' };

let s: TestServer;
let c: ApiClient;
let backend: Backend;

before(async () => {
  backend = openMemoryBackend();
  s = await startTestServer({ backend, bookmarkMs: 200 });
  c = await ApiClient.fromKubeconfig(s.kubeconfig);
});
after(async () => { c?.close(); await s?.stop(); await backend?.close(); });

/** A raw HTTPS request with chosen credentials, headers and body. */
function raw(method: string, path: string, o: { token?: string; cert?: boolean; body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const url = new URL(s.url);
  return new Promise<{ status: number; body: any; headers: import('node:http').IncomingHttpHeaders }>((resolve, reject) => {
    const req = https.request({
      hostname: url.hostname, port: url.port, method, path, ca: s.credentials.caCert,
      ...(o.cert ? { cert: s.credentials.adminCert, key: s.credentials.adminKey } : {}),
      headers: { ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}), ...o.headers },
    }, async (res) => {
      const chunks: Buffer[] = [];
      for await (const ch of res) chunks.push(ch as Buffer);
      const text = Buffer.concat(chunks).toString();
      let body: any = text;
      try { body = JSON.parse(text); } catch { /* text */ }
      resolve({ status: res.statusCode!, body, headers: res.headers });
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const cm = (name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>) =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}) }, data });
const pod = (name: string, image = 'busybox:1.36') =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image, ports: [{ containerPort: 80 }] }] } });

async function rejects(p: Promise<unknown>, code: number, re?: RegExp): Promise<ApiStatusError> {
  try { await p; } catch (err) {
    assert.ok(err instanceof ApiStatusError, String(err));
    assert.equal(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected HTTP ${code}`);
}

test('authentication: client cert or bearer token; nothing else', async () => {
  assert.equal((await raw('GET', '/api/v1/namespaces')).status, 401);
  assert.equal((await raw('GET', '/api/v1/namespaces', { token: 'wrong' })).status, 401);
  const anon = await raw('GET', '/api/v1/namespaces');
  assert.equal(anon.body.kind, 'Status');
  assert.equal(anon.body.reason, 'Unauthorized');
  assert.equal((await raw('GET', '/api/v1/namespaces', { token: s.credentials.token })).status, 200);
  assert.equal((await raw('GET', '/api/v1/namespaces', { cert: true })).status, 200);
  assert.equal((await raw('GET', '/healthz')).body, 'ok', 'health checks need no credentials');
  assert.equal((await raw('GET', '/metrics')).status, 401, 'metrics need credentials');
  const m = await raw('GET', '/metrics', { token: s.credentials.token });
  assert.match(m.body, /apiserver_request_total\{verb="LIST",group="",resource="namespaces",subresource="",code="200"\} \d+/);
});

test('discovery, version and OpenAPI v3 with fieldValidation on PATCH', async () => {
  const t = s.credentials.token;
  assert.equal((await raw('GET', '/version', { token: t })).body.major, '1');
  assert.deepEqual((await raw('GET', '/api', { token: t })).body.versions, ['v1']);
  const groups = (await raw('GET', '/apis', { token: t })).body.groups.map((g: any) => g.name);
  for (const g of ['apps', 'batch', 'autoscaling', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io']) assert.ok(groups.includes(g), g);
  const apps = (await raw('GET', '/apis/apps/v1', { token: t })).body;
  const scale = apps.resources.find((r: any) => r.name === 'deployments/scale');
  assert.deepEqual([scale.group, scale.version, scale.kind], ['autoscaling', 'v1', 'Scale']);
  const index = (await raw('GET', '/openapi/v3', { token: t })).body;
  const doc = (await raw('GET', index.paths['apis/apps/v1'].serverRelativeURL, { token: t })).body;
  const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
  assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
  assert.ok(patch.parameters.some((p: any) => p.name === 'fieldValidation' && p.in === 'query'));
  assert.equal((await raw('GET', '/apis/nope.example.com/v1', { token: t })).status, 404);
  const agg = await raw('GET', '/apis', { token: t, headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
  assert.equal(agg.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
  const appsAgg = agg.body.items.find((i: any) => i.metadata.name === 'apps');
  const deploy = appsAgg.versions[0].resources.find((r: any) => r.resource === 'deployments');
  assert.deepEqual(deploy.subresources.map((x: any) => `${x.subresource}:${x.responseKind.kind}`), ['status:Deployment', 'scale:Scale']);
  const core = await raw('GET', '/api', { token: t, headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList' } });
  assert.equal(core.body.apiVersion, 'apidiscovery.k8s.io/v2beta1');
  assert.ok(core.body.items[0].versions[0].resources.some((r: any) => r.resource === 'pods' && r.scope === 'Namespaced'));
});

test('create fills server metadata; generateName; generation moves on spec changes only', async () => {
  const d = await c.create(DEPLOY, 'default', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { generateName: 'gen-' },
    spec: { selector: { matchLabels: { app: 'g' } }, template: { metadata: { labels: { app: 'g' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  });
  assert.match(d.metadata.name!, /^gen-[a-z0-9]{5}$/);
  assert.match(d.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(d.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(d.metadata.generation, 1);
  assert.equal(d.spec.replicas, 1, 'defaulted');
  assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'Always', 'untagged image pulls always');
  d.metadata.labels = { x: 'y' };
  const relabeled = await c.update(DEPLOY, 'default', d);
  assert.equal(relabeled.metadata.generation, 1);
  relabeled.spec.replicas = 3;
  relabeled.status = { replicas: 99 };
  const scaled = await c.update(DEPLOY, 'default', relabeled);
  assert.equal(scaled.metadata.generation, 2);
  assert.equal(scaled.status, undefined, 'status changes only through the status subresource');
  const st = await c.update(DEPLOY, 'default', { ...scaled, spec: { ...scaled.spec, replicas: 7 }, status: { replicas: 2, observedGeneration: 2 } }, 'status');
  assert.equal(st.status.replicas, 2);
  assert.equal(st.spec.replicas, 3, 'a status write keeps spec');
  const sc = await c.request('GET', `/apis/apps/v1/namespaces/default/deployments/${d.metadata.name}/scale`);
  assert.deepEqual([sc.kind, sc.spec.replicas, sc.status.replicas, sc.status.selector], ['Scale', 3, 2, 'app=g']);
});

test('optimistic concurrency: a stale resourceVersion is 409 and changes nothing', async () => {
  const a = await c.create(CM, 'default', cm('occ'));
  await c.update(CM, 'default', { ...a, data: { a: '2' } });
  const e = await rejects(c.update(CM, 'default', { ...a, data: { a: '3' } }), 409);
  assert.equal(e.message, 'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again');
  assert.equal(e.reason, 'Conflict');
  assert.deepEqual((await c.get(CM, 'default', 'occ')).data, { a: '2' });
});

test('bad input answers with a Status and stores nothing', async () => {
  const t = s.credentials.token;
  const before = (await c.list(CM, 'default')).items.length;
  const post = (body: string | Buffer, type = 'application/json', path = '/api/v1/namespaces/default/configmaps') =>
    raw('POST', path, { token: t, body, headers: { 'Content-Type': type } });
  let r = await post('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"');
  assert.equal(r.status, 400);
  assert.match(r.body.message, /json parse error/);
  r = await post('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n', 'application/yaml');
  assert.equal(r.status, 400);
  r = await post(JSON.stringify(cm('huge', { big: 'x'.repeat(3 * 1024 * 1024 + 10) })));
  assert.equal(r.status, 413);
  r = await post(JSON.stringify(cm('x')), 'application/json', '/api/v1/namespaces/default/widgets');
  assert.equal(r.status, 404);
  assert.equal(r.body.message, 'the server could not find the requested resource');
  r = await post(JSON.stringify(cm('x')), 'application/json', '/apis/nope.example.com/v1/namespaces/default/things');
  assert.equal(r.status, 404);
  r = await post(JSON.stringify({ ...cm('strict'), foo: 1, metadata: { name: 'strict', bar: 2 } }), 'application/json', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict');
  assert.equal(r.status, 400);
  assert.match(r.body.message, /strict decoding error: unknown field "metadata.bar", unknown field "foo"/);
  r = await post(JSON.stringify({ ...cm('warned'), foo: 1 }));
  assert.equal(r.status, 201);
  assert.match(String(r.headers.warning), /299 - "unknown field \\"foo\\""/);
  assert.equal(r.body.foo, undefined, 'unknown fields are dropped');
  await c.delete(CM, 'default', 'warned');
  r = await post(JSON.stringify(cm('Bad_Name')));
  assert.equal(r.status, 422);
  assert.match(r.body.message, /^ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
  r = await post(JSON.stringify({ ...pod('p'), spec: { containers: [{ name: 'c', ports: [{ containerPort: 70000 }] }] } }), 'application/json', '/api/v1/namespaces/default/pods');
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.details.causes.map((x: any) => x.field), ['spec.containers[0].image', 'spec.containers[0].ports[0].containerPort']);
  assert.match(r.body.message, /spec.containers\[0\].image: Required value/);
  r = await post(JSON.stringify(cm('ns-missing')), 'application/json', '/api/v1/namespaces/nowhere/configmaps');
  assert.equal(r.status, 404);
  assert.equal(r.body.message, 'namespaces "nowhere" not found');
  assert.equal((await c.list(CM, 'default')).items.length, before, 'nothing stored');
  assert.equal((await raw('GET', '/api/v1/namespaces/default/pods/p', { token: t })).status, 404);
});

test('list: label and field selectors, pagination, resourceVersion', async () => {
  await c.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sel' } });
  for (let i = 0; i < 7; i++) await c.create(CM, 'sel', cm(`m${i}`, {}, { idx: String(i), ...(i % 2 ? { odd: 'yes' } : {}) }));
  const names = async (o: Parameters<ApiClient['list']>[2]) => (await c.list(CM, 'sel', o)).items.map((x) => x.metadata.name);
  assert.deepEqual(await names({ labelSelector: 'idx=3' }), ['m3']);
  assert.deepEqual(await names({ labelSelector: 'idx in (1,2),odd' }), ['m1']);
  assert.deepEqual(await names({ labelSelector: '!odd,idx notin (0,2)' }), ['kube-root-ca.crt', 'm4', 'm6'], 'notin matches objects without the label');
  assert.deepEqual(await names({ labelSelector: 'idx!=0,odd=yes' }), ['m1', 'm3', 'm5']);
  assert.deepEqual(await names({ fieldSelector: 'metadata.name=m2' }), ['m2']);
  await rejects(c.list(CM, 'sel', { fieldSelector: 'data.a=1' }), 400, /field label not supported: data.a/);
  const p1 = await c.list(CM, 'sel', { limit: 3, labelSelector: 'idx' });
  assert.equal(p1.items.length, 3);
  assert.ok(p1.metadata.continue);
  const rv = p1.metadata.resourceVersion;
  await c.create(CM, 'sel', cm('m9'));
  const p2 = await c.list(CM, 'sel', { limit: 3, labelSelector: 'idx', continue: p1.metadata.continue });
  const p3 = await c.list(CM, 'sel', { limit: 3, labelSelector: 'idx', continue: p2.metadata.continue });
  assert.deepEqual([...p1.items, ...p2.items, ...p3.items].map((x) => x.metadata.name), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'], 'pages read one snapshot');
  assert.equal(p3.metadata.continue, undefined);
  assert.equal(p2.metadata.resourceVersion, rv);
  const exact = await c.request('GET', `/api/v1/namespaces/sel/configmaps?resourceVersion=${rv}&resourceVersionMatch=Exact`);
  assert.equal(exact.items.length, 8, 'seven plus kube-root-ca.crt');
  assert.equal((await c.list(CM, 'sel')).items.length, 9);
  assert.deepEqual((await c.list({ group: '', version: 'v1', resource: 'serviceaccounts' }, 'sel')).items.map((x) => x.metadata.name), ['default'], 'namespaces come with a default ServiceAccount');
  assert.equal((await c.list(PODS, undefined, { fieldSelector: 'status.phase=Running' })).items.length, 0);
});

test('watch: events, selector transitions, bookmarks, timeout, 410 after compaction', async () => {
  const start = await c.list(CM, 'default');
  const w = c.watch(CM, 'default', { resourceVersion: start.metadata.resourceVersion, labelSelector: 'w=1', allowWatchBookmarks: true });
  const events: WatchEvent[] = [];
  const done = (async () => {
    for await (const e of w) {
      events.push(e);
      if (events.filter((x) => x.type !== 'BOOKMARK').length === 4 && events.some((x) => x.type === 'BOOKMARK')) break;
    }
  })();
  const a = await c.create(CM, 'default', cm('w1', { a: '1' }, { w: '1' }));
  await c.create(CM, 'default', cm('w2', { a: '1' }, { w: '0' }));
  const b = await c.update(CM, 'default', { ...a, data: { a: '2' } });
  await c.update(CM, 'default', { ...b, metadata: { ...b.metadata, labels: { w: '0' } } });
  await c.update(CM, 'default', { ...(await c.get(CM, 'default', 'w2')), metadata: { ...(await c.get(CM, 'default', 'w2')).metadata, labels: { w: '1' } } });
  await done;
  w.close();
  const seen = events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.object.metadata.name}`);
  assert.deepEqual(seen, ['ADDED w1', 'MODIFIED w1', 'DELETED w1', 'ADDED w2'], 'leaving the selector is DELETED, entering it ADDED');
  const bm = events.find((e) => e.type === 'BOOKMARK');
  assert.ok(bm, 'a bookmark arrived');
  assert.match(bm!.object.metadata.resourceVersion!, /^\d+$/);

  const timed = c.watch(CM, 'default', { resourceVersion: String(await backend.currentRevision()), timeoutSeconds: 1 });
  for await (const _ of timed) { /* ends by itself */ }

  await c.create(CM, 'default', cm('compact-me'));
  await backend.compact(await backend.currentRevision());
  const old = c.watch(CM, 'default', { resourceVersion: start.metadata.resourceVersion });
  const got: WatchEvent[] = [];
  for await (const e of old) got.push(e);
  assert.equal(got.length, 1);
  assert.equal(got[0].type, 'ERROR');
  assert.equal(got[0].object.code, 410);
  assert.equal(got[0].object.reason, 'Expired');
});

test('delete: preconditions, finalizers keep the object until removed, deletecollection', async () => {
  const a = await c.create(CM, 'default', { ...cm('fin'), metadata: { name: 'fin', finalizers: ['example.com/hold'] } });
  await rejects(c.delete(CM, 'default', 'fin', { preconditions: { uid: 'not-it' } }), 409, /Precondition failed: UID in precondition: not-it/);
  const pending = await c.delete(CM, 'default', 'fin');
  assert.ok(pending.metadata.deletionTimestamp);
  const held = await c.get(CM, 'default', 'fin');
  assert.ok(held.metadata.deletionTimestamp);
  await c.update(CM, 'default', { ...held, metadata: { ...held.metadata, finalizers: [] } });
  await rejects(c.get(CM, 'default', 'fin'), 404, /configmaps "fin" not found/);
  void a;
  for (const n of ['dc1', 'dc2', 'dc3']) await c.create(CM, 'default', cm(n, {}, { dc: n === 'dc3' ? 'keep' : 'go' }));
  await c.request('DELETE', '/api/v1/namespaces/default/configmaps?labelSelector=dc%3Dgo');
  assert.deepEqual((await c.list(CM, 'default', { labelSelector: 'dc' })).items.map((x) => x.metadata.name), ['dc3']);
});

test('namespace deletion empties the namespace, then removes it', async () => {
  await c.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } });
  await c.create(CM, 'doomed', cm('x'));
  await c.create(PODS, 'doomed', pod('p'));
  await c.create(CM, 'doomed', { ...cm('held'), metadata: { name: 'held', finalizers: ['example.com/hold'] } });
  const ns = await c.delete(NS, undefined, 'doomed');
  assert.equal(ns.status.phase, 'Terminating');
  await rejects(c.create(CM, 'doomed', cm('y')), 403, /being terminated/);
  const w0 = c.watch(CM, 'doomed', { fieldSelector: 'metadata.name=held' });
  for await (const e of w0) if (e.object.metadata.deletionTimestamp) break; // the controller asked it to go
  w0.close();
  assert.equal((await c.get(NS, undefined, 'doomed')).status.phase, 'Terminating', 'held by the finalizer');
  await c.patch(CM, 'doomed', 'held', [{ op: 'remove', path: '/metadata/finalizers' }], 'json').catch(async () => {
    const h = await c.get(CM, 'doomed', 'held');
    await c.update(CM, 'doomed', { ...h, metadata: { ...h.metadata, finalizers: [] } });
  });
  const w = c.watch(NS, undefined, { fieldSelector: 'metadata.name=doomed' });
  for await (const e of w) if (e.type === 'DELETED') break;
  w.close();
  await rejects(c.get(NS, undefined, 'doomed'), 404);
  assert.equal((await c.list(CM, 'doomed')).items.length, 0);
});

test('pods: binding, graceful deletion of bound pods, Table columns, 406', async () => {
  await c.create(PODS, 'default', pod('bindme'));
  await c.request('POST', '/api/v1/namespaces/default/pods/bindme/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bindme' }, target: { kind: 'Node', name: 'node-1' } });
  assert.equal((await c.get(PODS, 'default', 'bindme')).spec.nodeName, 'node-1');
  await rejects(c.request('POST', '/api/v1/namespaces/default/pods/bindme/binding', { target: { name: 'node-2' } }), 409, /already assigned/);
  const table = await raw('GET', '/api/v1/namespaces/default/pods', { token: s.credentials.token, headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
  assert.equal(table.body.kind, 'Table');
  assert.deepEqual(table.body.columnDefinitions.map((d: any) => d.name), ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node', 'Nominated Node', 'Readiness Gates']);
  assert.deepEqual(table.body.rows[0].cells.slice(0, 4), ['bindme', '0/1', 'Pending', 0]);
  assert.equal(table.body.rows[0].cells[6], 'node-1');
  const na = await raw('GET', '/api/v1/namespaces/default/pods', { token: s.credentials.token, headers: { Accept: 'application/vnd.kubernetes.protobuf' } });
  assert.equal(na.status, 406);
  const del = await raw('DELETE', '/api/v1/namespaces/default/pods/bindme', { token: s.credentials.token });
  assert.equal(del.status, 202, 'a bound pod waits for its node agent');
  assert.ok((await c.get(PODS, 'default', 'bindme')).metadata.deletionTimestamp);
  await c.delete(PODS, 'default', 'bindme', { gracePeriodSeconds: 0 });
  await rejects(c.get(PODS, 'default', 'bindme'), 404);
});

test('CRDs: served at once, custom resources validated, strategic merge refused with 415', async () => {
  await c.create(CRDS, undefined, {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'gadgets.test.skiff.dev' },
    spec: {
      group: 'test.skiff.dev', scope: 'Namespaced', names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { n: { type: 'integer', maximum: 5 } } } } } } }],
    },
  });
  const crd = await c.get(CRDS, undefined, 'gadgets.test.skiff.dev');
  assert.ok(crd.status.conditions.some((x: any) => x.type === 'Established' && x.status === 'True'));
  const list = await c.request('GET', '/apis/test.skiff.dev/v1');
  assert.equal(list.resources[0].name, 'gadgets');
  const G = { group: 'test.skiff.dev', version: 'v1', resource: 'gadgets' };
  await c.create(G, 'default', { apiVersion: 'test.skiff.dev/v1', kind: 'Gadget', metadata: { name: 'g1' }, spec: { n: 2, extra: 'pruned' } });
  assert.deepEqual((await c.get(G, 'default', 'g1')).spec, { n: 2 });
  await rejects(c.create(G, 'default', { apiVersion: 'test.skiff.dev/v1', kind: 'Gadget', metadata: { name: 'g2' }, spec: { n: 9 } }), 422, /spec.n: Invalid value: 9: n in body should be less than or equal to 5/);
  await rejects(c.patch(G, 'default', 'g1', { spec: { n: 3 } }, 'strategic'), 415);
  await c.delete(CRDS, undefined, 'gadgets.test.skiff.dev');
  assert.equal((await raw('GET', '/apis/test.skiff.dev/v1', { token: s.credentials.token })).status, 404);
});

/** Resolves once configmap `name` in default is gone (watching from the version last read). */
async function gone(name: string): Promise<void> {
  let cur;
  try { cur = await c.get(CM, 'default', name); } catch { return; }
  const w = c.watch(CM, 'default', { fieldSelector: `metadata.name=${name}`, resourceVersion: cur.metadata.resourceVersion });
  for await (const e of w) if (e.type === 'DELETED') break;
  w.close();
}

/** Resolves once configmap `name` satisfies `ok`. */
async function until(name: string, ok: (o: any) => boolean): Promise<any> {
  const w = c.watch(CM, 'default', { fieldSelector: `metadata.name=${name}` });
  for await (const e of w) if (e.type !== 'DELETED' && ok(e.object)) { w.close(); return e.object; }
  assert.fail(`${name} never matched`);
}

test('garbage collection: background, orphan and foreground propagation', async () => {
  const ref = (o: any) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name, uid: o.metadata.uid });
  const other = await c.create(CM, 'default', cm('gc-other'));
  const owner = await c.create(CM, 'default', cm('gc-owner'));
  await c.create(CM, 'default', { ...cm('gc-dep1'), metadata: { name: 'gc-dep1', ownerReferences: [ref(owner)] } });
  await c.create(CM, 'default', { ...cm('gc-dep2'), metadata: { name: 'gc-dep2', ownerReferences: [ref(owner), ref(other)] } });
  await c.delete(CM, 'default', 'gc-owner');
  await gone('gc-dep1');
  const dep2 = await until('gc-dep2', (o) => o.metadata.ownerReferences?.length === 1);
  assert.equal(dep2.metadata.ownerReferences[0].name, 'gc-other', 'a dependent with another live owner stays');

  const owner2 = await c.create(CM, 'default', cm('gc-owner2'));
  await c.create(CM, 'default', { ...cm('gc-dep3'), metadata: { name: 'gc-dep3', ownerReferences: [ref(owner2)] } });
  await c.delete(CM, 'default', 'gc-owner2', { propagationPolicy: 'Orphan' });
  await gone('gc-owner2');
  assert.equal((await c.get(CM, 'default', 'gc-dep3')).metadata.ownerReferences, undefined, 'orphaned, not deleted');

  const owner3 = await c.create(CM, 'default', cm('gc-owner3'));
  await c.create(CM, 'default', { ...cm('gc-dep4'), metadata: { name: 'gc-dep4', finalizers: ['example.com/hold'], ownerReferences: [ref(owner3)] } });
  await c.delete(CM, 'default', 'gc-owner3', { propagationPolicy: 'Foreground' });
  await until('gc-dep4', (o) => !!o.metadata.deletionTimestamp);
  const o3 = await c.get(CM, 'default', 'gc-owner3');
  assert.deepEqual(o3.metadata.finalizers, ['foregroundDeletion'], 'the owner waits for its dependents');
  const d4 = await c.get(CM, 'default', 'gc-dep4');
  await c.update(CM, 'default', { ...d4, metadata: { ...d4.metadata, finalizers: [] } });
  await gone('gc-owner3');
});

test('concurrent patches without a resourceVersion all land (lost races are retried)', async () => {
  await c.create(CM, 'default', cm('racy', {}));
  await Promise.all(Array.from({ length: 20 }, (_, i) => c.patch(CM, 'default', 'racy', { data: { [`k${i}`]: String(i) } }, 'merge')));
  assert.equal(Object.keys((await c.get(CM, 'default', 'racy')).data).length, 20);
  const cur = await c.get(CM, 'default', 'racy');
  await c.patch(CM, 'default', 'racy', { data: { z: '1' } }, 'merge');
  await rejects(c.patch(CM, 'default', 'racy', { metadata: { resourceVersion: cur.metadata.resourceVersion }, data: { y: '1' } }, 'merge'), 409, /the object has been modified/);
});

test('listWatch source: paged list, watch from its version, GoneError after compaction', async () => {
  await c.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lw' } });
  for (let i = 0; i < 3; i++) await c.create(CM, 'lw', cm(`lw${i}`, {}, { lw: 'y' }));
  const src = listWatch(c, CM, 'lw', { labelSelector: 'lw=y' });
  const { items, resourceVersion } = await src.list();
  assert.deepEqual(items.map((x) => x.metadata.name), ['lw0', 'lw1', 'lw2']);
  const w = src.watch(resourceVersion);
  await c.delete(CM, 'lw', 'lw1');
  for await (const e of w) { assert.equal(`${e.type} ${e.object.metadata.name}`, 'DELETED lw1'); break; }
  w.close();
  await backend.compact(await backend.currentRevision());
  const old = src.watch(resourceVersion);
  await assert.rejects((async () => { for await (const _ of old) { /* none */ } })(), (err: Error) => err.name === 'GoneError');
});
