import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planLoadBalancers } from './plan.js';

const node = (name: string, ip: string, ready = true, ext?: string) => ({
  metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], addresses: [{ type: 'InternalIP', address: ip }, ...(ext ? [{ type: 'ExternalIP', address: ext }] : []), { type: 'Hostname', address: name }] },
});
const lb = (name: string, created: string, ports: [number, string?][], spec: any = {}) => ({
  metadata: { name, namespace: 'default', creationTimestamp: created },
  spec: { type: 'LoadBalancer', ports: ports.map(([port, protocol]) => ({ port, protocol: protocol ?? 'TCP' })), ...spec },
});
const sliceOn = (...nodes: [string, boolean][]) => ({ endpoints: nodes.map(([nodeName, ready], i) => ({ addresses: [`10.89.0.${i + 2}`], nodeName, conditions: { ready }, targetRef: { kind: 'Pod' } })) });

test('planLoadBalancers: node addresses, port conflicts, traffic policy, classes', () => {
  const nodes = [node('a', '192.0.2.2'), node('b', '192.0.2.3'), node('c', '192.0.2.4', false)];
  const cases: [string, any[], any[], Record<string, any>, Record<string, any[]>?][] = [
    ['every Ready node\'s InternalIP', [lb('web', '2026-01-01T00:00:00Z', [[80]])], nodes, { 'default/web': { ingress: ['192.0.2.2', '192.0.2.3'] } }],
    ['ExternalIPs win when a node has one', [lb('web', '2026-01-01T00:00:00Z', [[80]])], [node('a', '192.0.2.2', true, '203.0.113.7'), node('b', '192.0.2.3')], { 'default/web': { ingress: ['203.0.113.7'] } }],
    ['the older Service keeps a shared port; the other is pending, with the holder named', [lb('new', '2026-01-02T00:00:00Z', [[443], [80]]), lb('old', '2026-01-01T00:00:00Z', [[80]])], nodes,
      { 'default/old': { ingress: ['192.0.2.2', '192.0.2.3'] }, 'default/new': { ingress: [], conflict: { port: '80/TCP', holder: 'default/old' } } }],
    ['same port, other protocol: no conflict', [lb('dns-udp', '2026-01-01T00:00:00Z', [[53, 'UDP']]), lb('dns-tcp', '2026-01-02T00:00:00Z', [[53, 'TCP']])], [nodes[0]],
      { 'default/dns-udp': { ingress: ['192.0.2.2'] }, 'default/dns-tcp': { ingress: ['192.0.2.2'] } }],
    ['externalTrafficPolicy Local: only nodes with a ready endpoint', [lb('loc', '2026-01-01T00:00:00Z', [[80]], { externalTrafficPolicy: 'Local' })], nodes,
      { 'default/loc': { ingress: ['192.0.2.3'] } }, { 'default/loc': [sliceOn(['b', true], ['a', false])] }],
    ['another loadBalancerClass and other types are not planned', [lb('other', '2026-01-01T00:00:00Z', [[80]], { loadBalancerClass: 'example.com/lb' }), { metadata: { name: 'np', namespace: 'default' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } }], nodes, {}],
    ['no Ready node: no ingress', [lb('web', '2026-01-01T00:00:00Z', [[80]])], [nodes[2]], { 'default/web': { ingress: [] } }],
  ];
  for (const [what, services, ns, want, slices] of cases) {
    const got = planLoadBalancers(services, ns, (s) => slices?.[`${s.metadata.namespace}/${s.metadata.name}`] ?? []);
    assert.deepEqual(Object.fromEntries(got), want, what);
  }
});
