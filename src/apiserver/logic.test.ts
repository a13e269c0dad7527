/**
 * Fast tests of the API server's pure logic: selectors, validation wording, defaults, table
 * durations, the protobuf decoder (on hand-built bytes) and the path grammar.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatcher, fieldMatcher, selectorString } from './selectors.js';
import { validate } from './validation.js';
import { applyDefaults } from './defaults.js';
import { humanDuration } from './table.js';
import { decodeProtobuf } from './protobuf/decode.js';
import { parseResourcePath, negotiate } from './request.js';
import { BUILTIN } from './resources.js';
import { unknownFields, kindSchema } from './schemas.js';

const R = (kind: string) => BUILTIN.find((r) => r.kind === kind)!;
const obj = (labels: Record<string, string>) => ({ metadata: { labels } });

test('label selectors: =, ==, !=, in, notin, exists, !exists', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['a=1', { a: '1' }, true], ['a==1', { a: '2' }, false], ['a!=1', {}, true], ['a!=1', { a: '1' }, false],
    ['a in (1, 2)', { a: '2' }, true], ['a notin (1,2)', { a: '3' }, true], ['a notin (1,2)', {}, true],
    ['a', { a: '' }, true], ['!a', { a: 'x' }, false], ['a=1,b in (x),!c', { a: '1', b: 'x' }, true],
  ];
  for (const [sel, labels, want] of cases) assert.equal(labelMatcher(sel)(obj(labels)), want, sel);
  assert.throws(() => labelMatcher('a=(b'), /unable to parse requirement/);
  assert.equal(selectorString({ matchLabels: { app: 'x' }, matchExpressions: [{ key: 't', operator: 'In', values: ['a', 'b'] }] }), 'app=x,t in (a,b)');
});

test('field selectors per kind', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName: 'n1' }, status: { phase: 'Running' } };
  assert.equal(fieldMatcher('spec.nodeName=n1,status.phase!=Pending', 'Pod')(pod), true);
  assert.equal(fieldMatcher('spec.nodeName=', 'Pod')({ ...pod, spec: {} }), true, 'unset means empty, as the scheduler asks');
  assert.throws(() => fieldMatcher('spec.nodeName=x', 'ConfigMap'), /field label not supported: spec.nodeName/);
  assert.equal(fieldMatcher('involvedObject.kind=Pod,involvedObject.name=p', 'Event')({ involvedObject: { kind: 'Pod', name: 'p' } }), true);
});

test('validation names the field, in apimachinery words', () => {
  const causes = validate(R('Pod'), { metadata: { name: 'x' }, spec: { containers: [{ name: 'Bad', ports: [{ containerPort: 0 }] }, { name: 'Bad', image: 'i' }] } });
  assert.deepEqual(causes.map((c) => `${c.field}: ${c.message.split(':')[0]}`), [
    'spec.containers[0].name: Invalid value', 'spec.containers[0].image: Required value',
    'spec.containers[0].ports[0].containerPort: Invalid value', 'spec.containers[1].name: Invalid value']);
  const d = validate(R('Deployment'), { metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } });
  assert.equal(d[0].field, 'spec.template.metadata.labels');
  assert.match(d[0].message, /`selector` does not match template `labels`/);
  assert.equal(validate(R('Namespace'), { metadata: { name: 'a.b' } })[0].field, 'metadata.name', 'namespaces are DNS labels');
  assert.deepEqual(validate(R('ConfigMap'), { metadata: { generateName: 'x-' } }), []);
  // validateHostNetwork: hostPort must be the containerPort (templates may leave it unset).
  const hn = (ports: any[]) => validate(R('Pod'), { metadata: { name: 'h' }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'i', ports }] } });
  assert.deepEqual(hn([{ containerPort: 80, hostPort: 8080 }]), [{ reason: 'FieldValueInvalid', field: 'spec.containers[0].ports[0].containerPort', message: 'Invalid value: 80: must match `hostPort` when `hostNetwork` is true' }]);
  assert.deepEqual(hn([{ containerPort: 80, hostPort: 80 }, { containerPort: 81 }]), []);
  assert.deepEqual(validate(R('Pod'), { metadata: { name: 'h' }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080 }] }] } }), [], 'any host port without hostNetwork');
});

test('defaults: pods, deployments, services, secrets', () => {
  const p: any = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }, { name: 'd', image: 'nginx' }] } };
  applyDefaults(R('Pod'), p, true);
  assert.equal(p.spec.restartPolicy, 'Always');
  assert.equal(p.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  assert.equal(p.spec.containers[1].imagePullPolicy, 'Always');
  assert.equal(p.spec.containers[0].ports[0].protocol, 'TCP');
  assert.deepEqual(p.status, { phase: 'Pending', qosClass: 'BestEffort' });
  assert.equal(p.spec.containers[0].ports[0].hostPort, undefined, 'no host port without hostNetwork');
  // Host-network Pods (not templates, since 1.28) publish their container ports as host ports.
  const h: any = { metadata: { name: 'h' }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }, { containerPort: 53, hostPort: 53, protocol: 'UDP' }] }] } };
  applyDefaults(R('Pod'), h, true);
  assert.deepEqual(h.spec.containers[0].ports, [{ containerPort: 80, hostPort: 80, protocol: 'TCP' }, { containerPort: 53, hostPort: 53, protocol: 'UDP' }]);
  const dep: any = { metadata: { name: 'd' }, spec: { template: { spec: { hostNetwork: true, containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }] }] } } } };
  applyDefaults(R('Deployment'), dep, true);
  assert.equal(dep.spec.template.spec.containers[0].ports[0].hostPort, undefined, 'templates keep it unset');
  const s: any = { metadata: { name: 's' }, type: undefined, stringData: { k: 'v' } };
  applyDefaults(R('Secret'), s, true);
  assert.deepEqual([s.type, s.data.k, s.stringData], ['Opaque', 'dg==', undefined]);
  const svc: any = { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } };
  applyDefaults(R('Service'), svc, true);
  assert.deepEqual(svc.spec.ports[0], { port: 80, protocol: 'TCP', targetPort: 80 });
});

test('unknown fields are found where the schema is structural', () => {
  const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', foo: 1 }, spec: { template: { spec: { containers: [{ name: 'c', bogus: true, livenessProbe: { anything: 1 } }] } } }, extra: 1 };
  assert.deepEqual(unknownFields(d, kindSchema(R('Deployment'))), ['metadata.foo', 'spec.template.spec.containers[0].bogus', 'extra']);
  assert.deepEqual(unknownFields({ metadata: {}, spec: { whatever: 1 } }, kindSchema(R('Ingress'))), [], 'permissive kinds');
  assert.deepEqual(unknownFields({ metadata: {}, spec: { holderIdentity: 'a', bogus: 1 } }, kindSchema(R('Lease'))), ['spec.bogus']);
});

test('humanDuration matches apimachinery', () => {
  const s = 1000;
  assert.deepEqual([5 * s, 150 * s, 600 * s, 4 * 3600 * s, 30 * 3600 * s, 3 * 86400 * s + 7200 * s, 400 * 86400 * s].map(humanDuration),
    ['5s', '2m30s', '10m', '4h', '30h', '3d2h', '400d']);
});

/** A hand-rolled protobuf writer for the test body. */
const field = (n: number, b: Buffer) => Buffer.concat([Buffer.from([(n << 3) | 2, b.length]), b]);
const str = (n: number, s: string) => field(n, Buffer.from(s));

test('protobuf bodies decode to the JSON kubectl meant', () => {
  const meta = str(1, 'from-pb');
  const entry = Buffer.concat([str(1, 'k'), str(2, 'v')]);
  const cm = Buffer.concat([field(1, meta), field(2, entry)]);
  const typeMeta = Buffer.concat([str(1, 'v1'), str(2, 'ConfigMap')]);
  const body = Buffer.concat([Buffer.from('k8s\0', 'binary'), field(1, typeMeta), field(2, cm)]);
  assert.deepEqual(decodeProtobuf(body), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-pb' }, data: { k: 'v' } });
  const other = Buffer.concat([Buffer.from('k8s\0', 'binary'), field(1, Buffer.concat([str(1, 'v1'), str(2, 'Nope')]))]);
  assert.throws(() => decodeProtobuf(other), /unknown format/);
});

test('resource paths and Accept negotiation', () => {
  assert.deepEqual(parseResourcePath('/api/v1/namespaces/ns/pods/p/status'), { group: '', version: 'v1', namespace: 'ns', resource: 'pods', name: 'p', subresource: 'status' });
  assert.deepEqual(parseResourcePath('/api/v1/namespaces/ns'), { group: '', version: 'v1', namespace: undefined, resource: 'namespaces', name: 'ns', subresource: undefined });
  assert.deepEqual(parseResourcePath('/api/v1/namespaces/ns/finalize'), { group: '', version: 'v1', namespace: undefined, resource: 'namespaces', name: 'ns', subresource: 'finalize' });
  assert.deepEqual(parseResourcePath('/apis/apps/v1/deployments'), { group: 'apps', version: 'v1', namespace: undefined, resource: 'deployments', name: undefined, subresource: undefined });
  assert.deepEqual(negotiate('application/json;as=Table;v=v1;g=meta.k8s.io,application/json'), { as: 'Table', version: 'v1' });
  assert.deepEqual(negotiate('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'), { as: 'object' });
  assert.throws(() => negotiate('application/vnd.kubernetes.protobuf'), /only the following media types/);
});
