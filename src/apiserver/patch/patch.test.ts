import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyStrategicMergePatch, hasStrategicSchema, serverSideApply, updateManagedFields } from './index.js';

const deploy = { group: 'apps', version: 'v1', kind: 'Deployment' };
const svc = { group: '', version: 'v1', kind: 'Service' };
const cm = { group: '', version: 'v1', kind: 'ConfigMap' };
const pod = (containers: unknown[]) => ({ spec: { template: { spec: { containers } } } });

test('strategic merge patch: merge keys and directives, table-driven', () => {
  const cases: Array<[string, object, object, object, typeof deploy]> = [
    ['containers merge by name', pod([{ name: 'a', image: 'x' }]), pod([{ name: 'b', image: 'y' }]), pod([{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }]), deploy],
    ['a container field merges', pod([{ name: 'a', image: 'x', args: ['1'] }]), pod([{ name: 'a', image: 'z' }]), pod([{ name: 'a', image: 'z', args: ['1'] }]), deploy],
    ['$patch: delete removes a port by containerPort', pod([{ name: 'a', ports: [{ containerPort: 80 }, { containerPort: 8080 }] }]),
      pod([{ name: 'a', ports: [{ $patch: 'delete', containerPort: 8080 }] }]), pod([{ name: 'a', ports: [{ containerPort: 80 }] }]), deploy],
    ['$setElementOrder reorders', pod([{ name: 'a' }, { name: 'b' }]),
      { spec: { template: { spec: { $setElementOrder: undefined, '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }] } } } }, pod([{ name: 'b' }, { name: 'a' }]), deploy],
    ['atomic lists are replaced', pod([{ name: 'a', args: ['1', '2'] }]), pod([{ name: 'a', args: ['3'] }]), pod([{ name: 'a', args: ['3'] }]), deploy],
    ['null deletes a key', { metadata: { labels: { a: '1', b: '2' } } }, { metadata: { labels: { a: null } } }, { metadata: { labels: { b: '2' } } }, deploy],
    ['$patch: replace on a map', { spec: { selector: { a: '1', b: '2' } } }, { spec: { selector: { $patch: 'replace', c: '3' } } }, { spec: { selector: { c: '3' } } }, svc],
    ['service ports merge by port', { spec: { ports: [{ port: 80, name: 'http' }] } }, { spec: { ports: [{ port: 443, name: 'https' }] } }, { spec: { ports: [{ port: 80, name: 'http' }, { port: 443, name: 'https' }] } }, svc],
    ['finalizers are a set; $deleteFromPrimitiveList', { metadata: { finalizers: ['a', 'b'] } }, { metadata: { finalizers: ['c'], '$deleteFromPrimitiveList/finalizers': ['a'] } }, { metadata: { finalizers: ['b', 'c'] } }, deploy],
    ['$retainKeys drops unlisted keys', { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } }, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, { spec: { strategy: { type: 'Recreate' } } }, deploy],
  ];
  for (const [what, doc, patch, want, gvk] of cases) {
    const p = JSON.parse(JSON.stringify(patch));
    assert.deepEqual(applyStrategicMergePatch(doc, p, gvk), want, what);
  }
  assert.ok(hasStrategicSchema(deploy));
  assert.ok(!hasStrategicSchema({ group: 'example.com', version: 'v1', kind: 'Widget' }));
  assert.throws(() => applyStrategicMergePatch(pod([]), pod([{ image: 'x' }]), deploy), /no merge key "name"/);
});

test('server-side apply: ownership, conflicts, force, removal of dropped fields', () => {
  const now = '2026-11-22T00:00:00Z';
  const a = serverSideApply(undefined, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 'alice', x: '1' } }, { manager: 'alice', force: false, gvk: cm, now });
  assert.deepEqual(a.metadata.managedFields[0].fieldsV1, { 'f:data': { 'f:k': {}, 'f:x': {} } });
  // bob applies the same value: shared ownership, no conflict
  const b = serverSideApply(a, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 'alice' } }, { manager: 'bob', force: false, gvk: cm, now });
  assert.equal(b.metadata.managedFields.length, 2);
  assert.throws(() => serverSideApply(b, { metadata: { name: 'c' }, data: { k: 'bob' } }, { manager: 'bob', force: false, gvk: cm, now }),
    (err: Error & { causes?: Array<{ field: string }> }) => /Apply failed with 1 conflict: conflict with "alice": \.data\.k/.test(err.message) && err.causes?.[0].field === '.data.k');
  const forced = serverSideApply(b, { metadata: { name: 'c' }, data: { k: 'bob' } }, { manager: 'bob', force: true, gvk: cm, now });
  assert.equal(forced.data.k, 'bob');
  assert.deepEqual(forced.metadata.managedFields.find((m: { manager: string }) => m.manager === 'alice').fieldsV1, { 'f:data': { 'f:x': {} } });
  // alice stops applying x, nobody else owns it: it goes
  const dropped = serverSideApply(forced, { metadata: { name: 'c' }, data: {} }, { manager: 'alice', force: false, gvk: cm, now });
  assert.deepEqual(dropped.data, { k: 'bob' });
});

test('updates take the fields they change from other managers', () => {
  const now = '2026-11-22T00:00:00Z';
  const created = updateManagedFields(undefined, { metadata: { name: 'd' }, spec: { replicas: 1, template: pod([{ name: 'a', image: 'x' }]).spec.template } }, { manager: 'kubectl-client-side-apply', operation: 'Update', now, gvk: deploy });
  const fv = created.metadata.managedFields[0].fieldsV1;
  assert.ok(fv['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"a"}']['f:image']);
  const scaled = updateManagedFields(created, { ...structuredClone(created), spec: { ...created.spec, replicas: 3 } }, { manager: 'kubectl', operation: 'Update', now, gvk: deploy });
  const byMgr = Object.fromEntries(scaled.metadata.managedFields.map((m: { manager: string; fieldsV1: unknown }) => [m.manager, m.fieldsV1]));
  assert.deepEqual(byMgr.kubectl, { 'f:spec': { 'f:replicas': {} } });
  assert.equal(byMgr['kubectl-client-side-apply']['f:spec']['f:replicas'], undefined);
  assert.throws(() => serverSideApply(scaled, { spec: { replicas: 5 } }, { manager: 'ci', force: false, gvk: deploy, now }), /conflict with "kubectl" using apps\/v1: \.spec\.replicas/);
});

test('server-side apply keys container ports by containerPort and protocol, as x-kubernetes-list-map-keys says', () => {
  const now = '2026-11-22T00:00:00Z';
  const withPorts = (ports: unknown[]) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'dns', image: 'x', ports }] } } } });
  const a = serverSideApply(undefined, withPorts([{ containerPort: 53, protocol: 'UDP', name: 'dns' }, { containerPort: 53, name: 'dns-tcp' }]), { manager: 'alice', force: false, gvk: deploy, now });
  const ports = a.spec.template.spec.containers[0].ports;
  assert.equal(ports.length, 2, 'one port, two protocols: two items');
  const fv = a.metadata.managedFields[0].fieldsV1['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"dns"}']['f:ports'];
  assert.deepEqual(Object.keys(fv).sort(), ['k:{"containerPort":53,"protocol":"TCP"}', 'k:{"containerPort":53,"protocol":"UDP"}']);
  // bob changes only the TCP port's name: a conflict on that item alone, described with both keys
  assert.throws(() => serverSideApply(a, withPorts([{ containerPort: 53, protocol: 'TCP', name: 'other' }]), { manager: 'bob', force: false, gvk: deploy, now }),
    /\.spec\.template\.spec\.containers\[name="dns"\]\.ports\[containerPort=53,protocol="TCP"\]\.name/);
  // alice drops the UDP port: only that item goes
  const b = serverSideApply(a, withPorts([{ containerPort: 53, name: 'dns-tcp' }]), { manager: 'alice', force: false, gvk: deploy, now });
  assert.deepEqual(b.spec.template.spec.containers[0].ports.map((p: any) => p.name), ['dns-tcp']);
});
