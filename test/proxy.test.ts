/**
 * The service proxy's data path with the real iptables and real pod sandboxes (CNI bridge):
 * two busybox httpd "pods" behind a Service, reached by its cluster IP and by its node port
 * from the host; an unready endpoint leaves the rotation; a Service without endpoints refuses
 * connections at once (REJECT); a load balancer IP (the node's address) answers on the
 * Service port; a Local LoadBalancer's health check node port counts this node's endpoints;
 * removing the Services and cleaning up leave no Skiff chain behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { dropNetworkRoot, networkRoot, startInPod, stop } from './network-helpers.js';
import { SandboxManager, type SandboxRecord } from '../src/engine/network/sandbox.js';
import { R } from '../src/client/resources.js';
import { InformerFactory } from '../src/controllers/runtime/informer.js';
import { MemoryRecorder } from '../src/controllers/runtime/events.js';
import { realClock } from '../src/controllers/runtime/clock.js';
import { silentLog } from '../src/controllers/runtime/controller.js';
import { ServiceProxy, cleanupServiceRules, skiffChains } from '../src/proxy/proxier.js';
import { internalIP } from '../src/agent/machine.js';

const run = promisify(execFile);
const BRIDGE = 'skproxy0';
const SUBNET = '10.89.236.0/24';
let cluster: TestCluster;
let root: string;
let mgr: SandboxManager;
let pods: SandboxRecord[] = [];
let servers: ChildProcess[] = [];
let proxy: ServiceProxy;
let informers: InformerFactory;

function get(host: string, port: number, withStatus = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(withStatus ? `${res.statusCode} ${body.trim()}` : body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The pods' addresses that some Skiff endpoint chain DNATs to, from iptables-save. */
async function dnatTargets(): Promise<string[]> {
  const { stdout } = await run('iptables-save', ['-t', 'nat']);
  const ips = new Set(pods.map((p) => p.ip));
  return [...stdout.matchAll(/^-A SKIFF-SEP-\S+ .*-j DNAT --to-destination (\S+):(\d+)$/gm)].filter((m) => ips.has(m[1])).map((m) => `${m[1]}:${m[2]}`).sort();
}

before(async () => {
  root = await networkRoot('skiff-proxy-', BRIDGE, SUBNET);
  mgr = new SandboxManager(root);
  for (const name of ['a', 'b']) {
    const rec = await mgr.create({ name: `proxy-${name}` });
    const dir = path.join(root, `www-${name}`);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'index.html'), `pod-${name}\n`);
    servers.push(startInPod(rec, ['httpd', '-f', '-p', '8080', '-h', dir]));
    pods.push(rec);
  }
  cluster = await startTestCluster({ disable: ['scheduler', 'controllers'] });
  informers = new InformerFactory(cluster.cp.client);
  proxy = new ServiceProxy({ client: cluster.cp.client, informers, clock: realClock, recorder: new MemoryRecorder(), log: silentLog }, { podCidr: SUBNET, nodeName: 'proxy-test' });
  informers.start();
  proxy.run();
});

after(async () => {
  proxy?.stop();
  informers?.stop();
  for (const s of servers) await stop(s);
  for (const p of pods) await mgr.remove(p.id, { force: true }).catch(() => {});
  await cleanupServiceRules();
  await cluster?.stop();
  await dropNetworkRoot(root, BRIDGE);
});

test('a Service spreads connections over its ready endpoints, by cluster IP and node port; unready endpoints leave', async () => {
  const c = cluster.cp.client;
  const svc = await c.create(R.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30777 }] } });
  const slice = (readyB: boolean) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-manual', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [pods[0].ip], conditions: { ready: true } }, { addresses: [pods[1].ip], conditions: { ready: readyB } }],
  });
  const created = await c.create(R.endpointslices, 'default', slice(true));
  const seen = await until('both backends answer on the cluster IP', async () => {
    const got = new Set<string>();
    for (let i = 0; i < 30; i++) got.add(await get(svc.spec.clusterIP, 80));
    return got.size === 2 && got;
  });
  assert.deepEqual([...seen].sort(), ['pod-a', 'pod-b']);
  assert.match(await get('127.0.0.1', 30777), /^pod-[ab]$/, 'the node port answers on the host');
  await c.update(R.endpointslices, 'default', { ...created, ...slice(false), metadata: created.metadata });
  await until('only the ready backend', async () => {
    const got = new Set<string>();
    for (let i = 0; i < 20; i++) got.add(await get(svc.spec.clusterIP, 80));
    return got.size === 1 && got.has('pod-a');
  });
  // The cluster's own `kubernetes` Service has chains too: count only those DNATing to these pods.
  assert.deepEqual(await dnatTargets(), [`${pods[0].ip}:8080`], 'one endpoint chain left, the ready pod\'s');
  await c.delete(R.services, 'default', 'web');
  await until('the service\'s chains are gone', async () => (await dnatTargets()).length === 0);
});

test('no endpoints: refused at once; a load balancer on the node address; a Local health check port', async () => {
  const c = cluster.cp.client;
  const nodeIP = internalIP();
  const empty = await c.create(R.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'empty' }, spec: { ports: [{ port: 80, targetPort: 8080 }] } });
  // kube-proxy's filter rule answers icmp port unreachable: the client fails at once instead of hanging.
  const err = await until('the REJECT rule', async () => {
    const e = await get(empty.spec.clusterIP, 80).then(() => undefined, (x) => x);
    return e?.code === 'ECONNREFUSED' && e;
  });
  assert.equal(err.code, 'ECONNREFUSED');
  const lb = await c.create(R.services, 'default', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb' },
    spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30779, ports: [{ name: 'http', port: 8081, targetPort: 8080, nodePort: 30778 }] },
  });
  const slice = (readyA: boolean) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'lb-manual', labels: { 'kubernetes.io/service-name': 'lb' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [pods[0].ip], nodeName: 'proxy-test', conditions: { ready: readyA } }, { addresses: [pods[1].ip], nodeName: 'elsewhere', conditions: { ready: true } }],
  });
  const created = await c.create(R.endpointslices, 'default', slice(true));
  await c.update(R.services, 'default', { ...lb, status: { loadBalancer: { ingress: [{ ip: nodeIP, ipMode: 'VIP' }] } } }, 'status');
  // The host's own traffic to a Local load balancer is sent to every endpoint (kube-proxy's short-circuit).
  const seen = await until('the LB IP answers on the service port', async () => {
    const got = new Set<string>();
    for (let i = 0; i < 20; i++) got.add(await get(nodeIP, 8081));
    return got.size === 2 && got;
  });
  assert.deepEqual([...seen].sort(), ['pod-a', 'pod-b']);
  assert.equal(JSON.parse((await until('the health check port', () => get(nodeIP, 30779, true))).slice(4)).localEndpoints, 1);
  assert.match(await get(nodeIP, 30779, true), /^200 \{"service":\{"namespace":"default","name":"lb"\},"localEndpoints":1,"serviceProxyHealthy":true\}$/);
  await c.update(R.endpointslices, 'default', { ...created, ...slice(false), metadata: created.metadata });
  await until('503 without a local endpoint', async () => (await get(nodeIP, 30779, true)).startsWith('503 '));
  await c.delete(R.services, 'default', 'lb');
  await c.delete(R.services, 'default', 'empty');
  await until('the health check port closes', async () => proxy.healthCheckPorts().length === 0);
  await until('no REJECT rule left', async () => !(await run('iptables-save', ['-t', 'filter'])).stdout.includes('default/empty'));
  // Stopped first: a sync running during the cleanup would put jumps back.
  proxy.stop();
  await proxy.whenIdle();
  await cleanupServiceRules();
  assert.deepEqual([...await skiffChains('nat'), ...await skiffChains('filter')], [], 'cleanup leaves nothing');
  const { stdout } = await run('iptables-save');
  assert.doesNotMatch(stdout, /SKIFF-/, 'no jump left in any table');
});
