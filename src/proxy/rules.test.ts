import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyRules, localReadyEndpoints } from './rules.js';
import { categorize, sliceEndpoints } from './endpoints.js';

const NODE = 'n1';
const svc = (spec: any, status: any = {}) => ({ metadata: { name: 'web', namespace: 'ns' }, spec: { clusterIP: '10.96.0.50', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec }, status });
type Ep = { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean };
const slice = (...eps: Ep[]) => ({
  metadata: { name: 'web-x', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node ?? NODE, conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false } })),
});

/** The rules of one table, as "CHAIN: rest" lines. */
function table(out: string, name: 'filter' | 'nat'): string[] {
  const section = out.split(`*${name}\n`)[1].split('COMMIT')[0];
  return section.split('\n').filter((l) => l.startsWith('-A ')).map((l) => l.slice(3));
}
function rules(s: any, ...slices: any[]) {
  const out = proxyRules({ services: [s], slicesOf: () => slices, podCidr: '10.89.0.0/16', nodeName: NODE, existingNat: [] });
  const nat = table(out, 'nat'), filter = table(out, 'filter');
  const chain = (prefix: string) => nat.filter((l) => l.startsWith(prefix));
  const dnat = nat.map((l) => /^SKIFF-SEP-\S+ .*--to-destination (\S+)$/.exec(l)?.[1]).filter(Boolean).sort();
  const target = (l: string) => / -j (\S+)/.exec(l)![1];
  // Where a chain's rules lead, in order (what a packet may end up in).
  const jumps = (name: string) => nat.filter((l) => l.startsWith(`${name} `)).map((l) => target(l).replace(/-[A-Z2-7]{16}$/, ''));
  const portal = (match: RegExp) => nat.filter((l) => l.startsWith('SKIFF-SERVICES ') && match.test(l)).map(target);
  return { out, nat, filter, chain, dnat, jumps, portal, target };
}

test('endpoints: ready ones; serving-terminating only when none is ready; Local picks this node', () => {
  const all = sliceEndpoints([slice({ ip: '10.89.0.2' }, { ip: '10.89.0.3', node: 'n2' }, { ip: '10.89.0.4', ready: false, serving: true, terminating: true }, { ip: '10.89.0.5', ready: false })], 'http', 'TCP', NODE);
  const cases: [string, any, string[], string[], boolean][] = [
    ['cluster policy: every ready endpoint', { internalLocal: false, externalLocal: false, externallyAccessible: false }, ['10.89.0.2', '10.89.0.3'], [], true],
    ['internal Local: the ready one on this node', { internalLocal: true, externalLocal: false, externallyAccessible: false }, [], ['10.89.0.2'], true],
    ['external Local and accessible: both sets', { internalLocal: false, externalLocal: true, externallyAccessible: true }, ['10.89.0.2', '10.89.0.3'], ['10.89.0.2'], true],
  ];
  for (const [what, facts, cluster, local, any] of cases) {
    const c = categorize(all, facts);
    assert.deepEqual(c.cluster.map((e) => e.ip), cluster, what);
    assert.deepEqual(c.local.map((e) => e.ip), local, what);
    assert.equal(c.hasAny, any, what);
  }
  const draining = sliceEndpoints([slice({ ip: '10.89.0.4', ready: false, serving: true, terminating: true }, { ip: '10.89.0.5', ready: false }, { ip: '10.89.0.6', ready: false, serving: false, terminating: true })], 'http', 'TCP', NODE);
  assert.deepEqual(categorize(draining, { internalLocal: false, externalLocal: false, externallyAccessible: false }).cluster.map((e) => e.ip), ['10.89.0.4'], 'serving while terminating, as nothing is ready');
  const none = categorize(sliceEndpoints([slice({ ip: '10.89.0.3', node: 'n2' })], 'http', 'TCP', NODE), { internalLocal: true, externalLocal: false, externallyAccessible: false });
  assert.deepEqual([none.local.length, none.hasAny], [0, true], 'endpoints elsewhere only');
});

test('ClusterIP: random spread over ready endpoints, masquerade of non-pod sources, hairpin', () => {
  const r = rules(svc({}), slice({ ip: '10.89.0.2' }, { ip: '10.89.0.3' }, { ip: '10.89.0.4', ready: false }));
  const svcChain = r.chain('SKIFF-SVC-')[0].split(' ')[0];
  assert.deepEqual(r.portal(/-d 10\.96\.0\.50\/32 --dport 80/), [svcChain]);
  assert.deepEqual(r.jumps(svcChain), ['SKIFF-MARK-MASQ', 'SKIFF-SEP', 'SKIFF-SEP']);
  assert.match(r.chain('SKIFF-SVC-')[0], /! -s 10\.89\.0\.0\/16 -j SKIFF-MARK-MASQ$/);
  assert.match(r.chain('SKIFF-SVC-')[1], /--probability 0\.5000000000 -j SKIFF-SEP-/);
  assert.deepEqual(r.dnat, ['10.89.0.2:8080', '10.89.0.3:8080']);
  assert.ok(r.chain('SKIFF-SEP-').some((l) => /-s 10\.89\.0\.2\/32 -j SKIFF-MARK-MASQ/.test(l)), 'hairpin traffic is masqueraded');
  assert.deepEqual(r.filter.filter((l) => /REJECT|DROP/.test(l) && !l.startsWith('SKIFF-FIREWALL')), [], 'nothing rejected');
});

test('no endpoints: the cluster IP, node port and LB IP REJECT in the filter table, no nat portal', () => {
  const r = rules(svc({ type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.2' }] } }), slice({ ip: '10.89.0.4', ready: false }));
  assert.deepEqual(r.nat.filter((l) => /web/.test(l)), []);
  const rejects = r.filter.filter((l) => / -j REJECT$/.test(l));
  assert.equal(rejects.length, 3, rejects.join('\n'));
  assert.match(rejects.find((l) => l.startsWith('SKIFF-SERVICES'))!, /"ns\/web:http has no endpoints".*-d 10\.96\.0\.50\/32 --dport 80/);
  assert.ok(rejects.some((l) => /^SKIFF-EXTERNAL-SERVICES .*-d 192\.0\.2\.2\/32 --dport 80 -j REJECT$/.test(l)), 'LB IP');
  assert.ok(rejects.some((l) => /^SKIFF-EXTERNAL-SERVICES .*--dst-type LOCAL .*--dport 30080 -j REJECT$/.test(l)), 'node port');
});

test('terminating endpoints carry traffic only while nothing is ready', () => {
  assert.deepEqual(rules(svc({}), slice({ ip: '10.89.0.2' }, { ip: '10.89.0.3', ready: false, serving: true, terminating: true })).dnat, ['10.89.0.2:8080']);
  assert.deepEqual(rules(svc({}), slice({ ip: '10.89.0.3', ready: false, serving: true, terminating: true })).dnat, ['10.89.0.3:8080']);
});

test('NodePort and LoadBalancer with Cluster policy: external traffic is masqueraded and spread over every endpoint', () => {
  const r = rules(svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] },
    { loadBalancer: { ingress: [{ ip: '192.0.2.2', ipMode: 'VIP' }, { ip: '192.0.2.9', ipMode: 'Proxy' }] } }), slice({ ip: '10.89.0.2' }, { ip: '10.89.0.3', node: 'n2' }));
  const ext = r.chain('SKIFF-EXT-')[0].split(' ')[0];
  assert.deepEqual(r.portal(/-d 192\.0\.2\.2\/32 --dport 80/), [ext], 'the LB IP on the service port');
  assert.deepEqual(r.portal(/192\.0\.2\.9/), [], 'an ingress with ipMode Proxy is left to its load balancer');
  assert.deepEqual(r.nat.filter((l) => l.startsWith('SKIFF-NODEPORTS ')).map(r.target), [ext]);
  assert.deepEqual(r.jumps(ext), ['SKIFF-MARK-MASQ', 'SKIFF-SVC']);
  assert.deepEqual(r.dnat, ['10.89.0.2:8080', '10.89.0.3:8080']);
});

test('externalTrafficPolicy Local: outside traffic only to this node\'s endpoints, pods and the host short-circuit to all; none here drops', () => {
  const lb = (slices: any[]) => rules(svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31999, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] },
    { loadBalancer: { ingress: [{ ip: '192.0.2.2' }] } }), ...slices);
  let r = lb([slice({ ip: '10.89.0.2' }, { ip: '10.89.0.3', node: 'n2' })]);
  const ext = r.chain('SKIFF-EXT-')[0].split(' ')[0];
  assert.deepEqual(r.jumps(ext), ['SKIFF-SVC', 'SKIFF-MARK-MASQ', 'SKIFF-SVC', 'SKIFF-SVL']);
  assert.match(r.chain(ext)[0], /-s 10\.89\.0\.0\/16 -j SKIFF-SVC-/);
  assert.match(r.chain(ext)[1], /--src-type LOCAL -j SKIFF-MARK-MASQ/);
  const svl = r.target(r.chain(ext)[3]);
  assert.deepEqual(r.jumps(svl), ['SKIFF-SEP'], 'the local endpoint only');
  assert.deepEqual(r.dnat, ['10.89.0.2:8080', '10.89.0.3:8080']);
  assert.ok(r.filter.some((l) => /^SKIFF-NODEPORTS .*--dport 31999 -j ACCEPT$/.test(l)), 'the health check port is accepted');
  r = lb([slice({ ip: '10.89.0.3', node: 'n2' })]);
  assert.deepEqual(r.jumps(r.chain('SKIFF-EXT-')[0].split(' ')[0]), ['SKIFF-SVC', 'SKIFF-MARK-MASQ', 'SKIFF-SVC'], 'no fall-through without local endpoints');
  const drops = r.filter.filter((l) => / -j DROP$/.test(l) && l.includes('has no local endpoints'));
  assert.equal(drops.length, 2, 'LB IP and node port are dropped for outside traffic');
  assert.ok(r.portal(/-d 10\.96\.0\.50/).length === 1, 'the cluster IP still works (Cluster internal policy)');
});

test('internalTrafficPolicy Local: the cluster IP goes to this node\'s endpoints only, or is dropped', () => {
  let r = rules(svc({ internalTrafficPolicy: 'Local' }), slice({ ip: '10.89.0.2' }, { ip: '10.89.0.3', node: 'n2' }));
  assert.match(r.portal(/-d 10\.96\.0\.50/)[0], /^SKIFF-SVL-/);
  assert.deepEqual(r.dnat, ['10.89.0.2:8080']);
  assert.deepEqual(r.chain('SKIFF-SVC-'), [], 'no cluster-wide chain');
  r = rules(svc({ internalTrafficPolicy: 'Local' }), slice({ ip: '10.89.0.3', node: 'n2' }));
  assert.deepEqual(r.portal(/-d 10\.96\.0\.50/), []);
  assert.ok(r.filter.some((l) => /^SKIFF-SERVICES .*"ns\/web:http has no local endpoints".*-j DROP$/.test(l)));
});

test('ClientIP affinity, stale chains and the health check count', () => {
  const s = svc({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } });
  const r = rules(s, slice({ ip: '10.89.0.2' }));
  assert.match(r.chain('SKIFF-SVC-').find((l) => l.includes('--rcheck'))!, /-m recent --name SKIFF-SEP-\S+ --mask 255\.255\.255\.255 --rsource --rcheck --seconds 60 --reap -j SKIFF-SEP-/);
  assert.ok(r.chain('SKIFF-SEP-').some((l) => /--set -j DNAT --to-destination 10\.89\.0\.2:8080$/.test(l)));
  const out = proxyRules({ services: [], slicesOf: () => [], podCidr: '10.89.0.0/16', nodeName: NODE, existingNat: ['SKIFF-SERVICES', 'SKIFF-SVC-AAAAAAAAAAAAAAAA', 'SKIFF-SEP-BBBBBBBBBBBBBBBB'] });
  assert.match(out, /^-X SKIFF-SVC-AAAAAAAAAAAAAAAA$/m);
  assert.match(out, /^-X SKIFF-SEP-BBBBBBBBBBBBBBBB$/m);
  assert.doesNotMatch(out, /-X SKIFF-SERVICES/);
  assert.equal(localReadyEndpoints(svc({}), [slice({ ip: '10.89.0.2' }, { ip: '10.89.0.3', node: 'n2' }), slice({ ip: '10.89.0.4', ready: false })], NODE), 1);
});
