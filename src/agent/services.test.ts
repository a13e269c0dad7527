/**
 * Unit tests of what the agent does for Services and cluster DNS: resolv.conf per dnsPolicy,
 * readiness gates, the Service environment variables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podDns } from './dns.js';
import { podStatus, readinessGates } from './status.js';
import { parseResolvConf, resolvConf } from '../engine/network/files.js';

const host = parseResolvConf('nameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch corp.example\noptions edns0 timeout:2\n');
const pod = (spec: any) => ({ metadata: { name: 'p', namespace: 'team' }, spec });
const cluster = { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local' };

test('resolv.conf per dnsPolicy, as the kubelet forms it', () => {
  const cases: [string, any, any, string][] = [
    ['ClusterFirst (the default): cluster DNS, cluster search domains then the host\'s, ndots:5', {}, cluster,
      'search team.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n'],
    ['Default: the node\'s resolvers (loopback ones unreachable from pods)', { dnsPolicy: 'Default' }, cluster,
      'search corp.example\nnameserver 10.255.255.53\noptions edns0 timeout:2\n'],
    ['None: dnsConfig only', { dnsPolicy: 'None', dnsConfig: { nameservers: ['192.0.2.53'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }] } }, cluster,
      'search a.example\nnameserver 192.0.2.53\noptions ndots:2 rotate\n'],
    ['ClusterFirst with dnsConfig: appended, options replaced by name', { dnsConfig: { nameservers: ['192.0.2.53', '10.96.0.10'], searches: ['b.example'], options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }] } }, cluster,
      'search team.svc.cluster.local svc.cluster.local cluster.local corp.example b.example\nnameserver 10.96.0.10\nnameserver 192.0.2.53\noptions ndots:1 edns0\n'],
    ['hostNetwork falls back to Default under ClusterFirst', { hostNetwork: true }, cluster, 'search corp.example\nnameserver 10.255.255.53\noptions edns0 timeout:2\n'],
    ['ClusterFirstWithHostNet keeps cluster DNS', { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }, cluster,
      'search team.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n'],
    ['no cluster DNS configured: Default', {}, {}, 'search corp.example\nnameserver 10.255.255.53\noptions edns0 timeout:2\n'],
    ['at most 3 nameservers', { dnsPolicy: 'None', dnsConfig: { nameservers: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'] } }, cluster,
      'nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n'],
  ];
  // The sandbox writes the file from these settings with the host's resolv.conf at hand: nothing of it may leak in.
  for (const [what, spec, cfg, want] of cases) assert.equal(resolvConf('nameserver 198.51.100.1\nsearch leak.example\n', podDns(pod(spec), host, cfg)), want, what);
});

test('readiness gates: Ready waits for every gate condition; conditions others own are kept', () => {
  const spec = { readinessGates: [{ conditionType: 'example.com/in-rotation' }], containers: [] };
  assert.equal(readinessGates(spec, []), 'corresponding condition of pod readiness gate "example.com/in-rotation" does not exist.');
  assert.equal(readinessGates(spec, [{ type: 'example.com/in-rotation', status: 'False' }]), 'the status of pod readiness gate "example.com/in-rotation" is not "True", but False');
  assert.equal(readinessGates(spec, [{ type: 'example.com/in-rotation', status: 'True' }]), undefined);
  const status = (gate?: string) => podStatus({
    pod: { metadata: { name: 'p', namespace: 'team' }, spec, status: { conditions: gate ? [{ type: 'example.com/in-rotation', status: gate }] : [] } },
    containers: [], waiting: new Map(), hostIP: '192.0.2.2', now: Date.parse('2026-01-01T00:00:00Z'),
  });
  const cond = (s: any, type: string) => s.conditions.find((c: any) => c.type === type);
  let s = status('False');
  assert.equal(cond(s, 'ContainersReady').status, 'True', 'no containers: all ready');
  assert.deepEqual([cond(s, 'Ready').status, cond(s, 'Ready').reason], ['False', 'ReadinessGatesNotReady']);
  assert.equal(cond(s, 'example.com/in-rotation').status, 'False', 'the gate condition is kept');
  s = status('True');
  assert.equal(cond(s, 'Ready').status, 'True');
});

test('Service environment variables as the kubelet sets them', async () => {
  const { serviceEnv } = await import('./service-env.js');
  const { containerEnv } = await import('./env.js');
  const svc = (namespace: string, name: string, clusterIP: string, ports: any[]) => ({ metadata: { namespace, name }, spec: { clusterIP, ports } });
  const services = [
    svc('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]),
    svc('team', 'web-api', '10.96.3.4', [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns-udp', port: 53, protocol: 'UDP' }]),
    svc('team', 'headless', 'None', [{ port: 80 }]),
    { metadata: { namespace: 'team', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } },
    svc('other', 'elsewhere', '10.96.9.9', [{ port: 80 }]),
  ];
  const env = serviceEnv(services, 'team', true);
  assert.deepEqual(Object.fromEntries(env), {
    KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: 'tcp://10.96.0.1:443', KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443', KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443', KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
    WEB_API_SERVICE_HOST: '10.96.3.4', WEB_API_SERVICE_PORT: '80', WEB_API_SERVICE_PORT_HTTP: '80', WEB_API_SERVICE_PORT_DNS_UDP: '53',
    WEB_API_PORT: 'tcp://10.96.3.4:80', WEB_API_PORT_80_TCP: 'tcp://10.96.3.4:80', WEB_API_PORT_80_TCP_PROTO: 'tcp', WEB_API_PORT_80_TCP_PORT: '80',
    WEB_API_PORT_80_TCP_ADDR: '10.96.3.4', WEB_API_PORT_53_UDP: 'udp://10.96.3.4:53', WEB_API_PORT_53_UDP_PROTO: 'udp', WEB_API_PORT_53_UDP_PORT: '53',
    WEB_API_PORT_53_UDP_ADDR: '10.96.3.4',
  });
  assert.deepEqual([...serviceEnv(services, 'team', false).keys()].filter((k) => !k.startsWith('KUBERNETES_')), [], 'enableServiceLinks: false keeps only the API server\'s');
  // In a container: its own variables win, and $(VAR) may name a Service variable.
  const pod = { metadata: { name: 'p', namespace: 'team' }, spec: { containers: [] } };
  const c = { env: [{ name: 'WEB_API_SERVICE_PORT', value: '8080' }, { name: 'URL', value: 'https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)' }] };
  const src = { configMap: async () => undefined, secret: async () => undefined, services: async () => services };
  const out = Object.fromEntries((await containerEnv(pod, c, src, { podIP: '10.89.0.2', hostIP: '192.0.2.2', allocatable: {} } as any)).map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
  assert.equal(out.WEB_API_SERVICE_PORT, '8080');
  assert.equal(out.URL, 'https://10.96.0.1:443');
  assert.equal(out.WEB_API_SERVICE_HOST, '10.96.3.4');
});
