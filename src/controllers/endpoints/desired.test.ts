import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredGroups, endpointsSubsets, resolvePort } from './desired.js';

const svc = (spec: any) => ({ metadata: { name: 's', namespace: 'ns' }, spec: { selector: { app: 'a' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }], ...spec } });
const pod = (name: string, o: { ip?: string; ready?: boolean; phase?: string; deleting?: boolean; labels?: any; port?: number } = {}) => ({
  metadata: { name, namespace: 'ns', uid: `u-${name}`, labels: o.labels ?? { app: 'a' }, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'web', containerPort: o.port ?? 8080 }] }] },
  status: { phase: o.phase ?? 'Running', ...(o.ip === '' ? {} : { podIP: o.ip ?? `10.0.0.${name.length}` }), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
});

test('resolvePort: numbers, numeric strings, named container ports, missing names', () => {
  const p = pod('x');
  for (const [sp, want] of [
    [{ port: 80 }, 80], [{ port: 80, targetPort: 9090 }, 9090], [{ port: 80, targetPort: '9091' }, 9091],
    [{ port: 80, targetPort: 'web' }, 8080], [{ port: 80, targetPort: 'nope' }, undefined], [{ port: 80, targetPort: 'web', protocol: 'UDP' }, undefined],
  ] as const) assert.equal(resolvePort(sp, p), want, JSON.stringify(sp));
});

test('desiredGroups: who is in, with which conditions', () => {
  const cases: [string, any, any[], { names: string[]; conds?: Record<string, [boolean, boolean, boolean]> }][] = [
    ['ready pods are ready and serving', {}, [pod('a1'), pod('a2')], { names: ['a1', 'a2'], conds: { a1: [true, true, false] } }],
    ['no IP yet, finished, or other labels: left out', {}, [pod('a1', { ip: '' }), pod('a2', { phase: 'Succeeded' }), pod('a3', { labels: { app: 'b' } })], { names: [] }],
    ['unready pod: in, not ready, not serving', {}, [pod('a1', { ready: false })], { names: ['a1'], conds: { a1: [false, false, false] } }],
    ['terminating ready pod: not ready, still serving, terminating', {}, [pod('a1', { deleting: true })], { names: ['a1'], conds: { a1: [false, true, true] } }],
    ['publishNotReadyAddresses: unready counts as ready', { publishNotReadyAddresses: true }, [pod('a1', { ready: false })], { names: ['a1'], conds: { a1: [true, true, false] } }],
  ];
  for (const [what, spec, pods, want] of cases) {
    const groups = desiredGroups(svc(spec), pods);
    const eps = groups.flatMap((g) => g.endpoints);
    assert.deepEqual(eps.map((e) => e.targetRef.name), want.names, what);
    for (const [n, [r, s, t]] of Object.entries(want.conds ?? {})) {
      assert.deepEqual(eps.find((e) => e.targetRef.name === n)!.conditions, { ready: r, serving: s, terminating: t }, what);
    }
  }
});

test('desiredGroups: pods whose named port resolves differently land in separate groups; Endpoints subsets split ready and not ready', () => {
  const groups = desiredGroups(svc({}), [pod('a1', { port: 8080 }), pod('a2', { port: 9000 }), pod('a3', { port: 8080, ready: false })]);
  assert.equal(groups.length, 2);
  assert.deepEqual(groups.map((g) => g.ports[0].port).sort(), [8080, 9000]);
  const subsets = endpointsSubsets(groups);
  const s8080 = subsets.find((s) => s.ports[0].port === 8080);
  assert.deepEqual(s8080.addresses.map((a: any) => a.targetRef.name), ['a1']);
  assert.deepEqual(s8080.notReadyAddresses.map((a: any) => a.targetRef.name), ['a3']);
  assert.deepEqual(s8080.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
});
