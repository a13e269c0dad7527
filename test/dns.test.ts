/**
 * Cluster DNS: the server answers from Services and EndpointSlices the control plane keeps
 * (simulated pods), as Kubernetes' DNS specification says, and forwards other names to the
 * host's resolver (a stand-in upstream on loopback here: this machine reaches no real one).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import type { ControlPlane } from '../src/cmd/controlplane.js';
import type { SimNodes } from '../src/sim/nodes.js';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';
import { InformerFactory } from '../src/controllers/runtime/informer.js';
import { ClusterDns } from '../src/dns/server.js';

let cluster: TestCluster;
let cp: ControlPlane;
let sim: SimNodes;
let dns: ClusterDns;
let informers: InformerFactory;
let upstream: dgram.Socket;

function ask(name: string, type: string, port = dns.port): Promise<packet.Packet & { rcode?: string }> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error(`no answer for ${name}`)); }, 3000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(packet.decode(m) as packet.Packet & { rcode?: string }); });
    s.send(packet.encode({ type: 'query', id: 7, flags: packet.RECURSION_DESIRED, questions: [{ type: type as any, name }] }), port, '127.0.0.1');
  });
}

before(async () => {
  cluster = await startTestCluster({ disable: ['scheduler'] });
  ({ cp, sim } = cluster);
  await sim.addNode({ name: 'n1' });
  // The "host resolver": answers example.org with 192.0.2.1.
  upstream = dgram.createSocket('udp4');
  upstream.on('message', (m, r) => {
    const q = packet.decode(m);
    upstream.send(packet.encode({ type: 'response', id: q.id, questions: q.questions, answers: [{ type: 'A', name: q.questions![0].name, ttl: 60, data: '192.0.2.1' }] }), r.port, r.address);
  });
  await new Promise<void>((ok) => upstream.bind(0, '127.0.0.1', ok));
  informers = new InformerFactory(cp.client);
  dns = new ClusterDns({ informers, host: '127.0.0.1', port: 0, upstreams: [`127.0.0.1:${upstream.address().port}`] });
  informers.start();
  await informers.synced();
  await dns.start();
});

after(async () => {
  dns?.stop();
  informers?.stop();
  upstream?.close();
  await cluster?.stop();
});

const svc = (name: string, spec: any) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec });
const pod = (name: string, labels: any, extra: any = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }], ...extra } });

test('A for a ClusterIP Service, SRV for its named ports, NXDOMAIN for what does not exist', async () => {
  const s = await cp.client.create(R.services, 'default', svc('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
  await until('service seen', async () => (await ask('web.default.svc.cluster.local', 'A')).answers?.length);
  let r = await ask('web.default.svc.cluster.local', 'A');
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(r.answers!.map((a: any) => a.data), [s.spec.clusterIP]);
  assert.ok(r.flags! & packet.AUTHORITATIVE_ANSWER);
  r = await ask('_http._tcp.web.default.svc.cluster.local', 'SRV');
  assert.deepEqual((r.answers![0] as any).data, { priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' });
  assert.equal((await ask('nope.default.svc.cluster.local', 'A')).rcode, 'NXDOMAIN');
  assert.equal((await ask('_smtp._tcp.web.default.svc.cluster.local', 'SRV')).rcode, 'NXDOMAIN');
  r = await ask('web.default.svc.cluster.local', 'AAAA');
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.answers!.length, 0, 'no IPv6 address: an empty answer, not NXDOMAIN');
});

test('a headless Service answers with its ready pods; StatefulSet-style pods by hostname; pod names by dashed IP', async () => {
  await cp.client.create(R.services, 'default', svc('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] }));
  await cp.client.create(R.pods, 'default', pod('db-0', { app: 'db' }, { hostname: 'db-0', subdomain: 'db' }));
  await cp.client.create(R.pods, 'default', pod('db-1', { app: 'db' }, { hostname: 'db-1', subdomain: 'db' }));
  await cp.client.create(R.pods, 'default', { ...pod('db-x', { app: 'db' }), metadata: { name: 'db-x', labels: { app: 'db' }, annotations: { 'sim.skiff.dev/never-ready': 'true' } } });
  await until('two ready endpoints in DNS', async () => (await ask('db.default.svc.cluster.local', 'A')).answers?.length === 2);
  const ips = (await Promise.all(['db-0', 'db-1'].map((n) => cp.client.get(R.pods, 'default', n)))).map((p) => p.status.podIP).sort();
  const r = await ask('db.default.svc.cluster.local', 'A');
  assert.deepEqual(r.answers!.map((a: any) => a.data).sort(), ips, 'the unready pod is not listed');
  const one = await ask('db-0.db.default.svc.cluster.local', 'A');
  assert.deepEqual(one.answers!.map((a: any) => a.data), [ips.find((ip) => ip === (one.answers![0] as any).data)]);
  const srv = await ask('_pg._tcp.db.default.svc.cluster.local', 'SRV');
  assert.deepEqual(srv.answers!.map((a: any) => a.data.target).sort(), ['db-0.db.default.svc.cluster.local', 'db-1.db.default.svc.cluster.local']);
  const byIp = await ask(`${ips[0].replace(/\./g, '-')}.default.pod.cluster.local`, 'A');
  assert.deepEqual(byIp.answers!.map((a: any) => a.data), [ips[0]]);
});

test('ExternalName is a CNAME, followed to its records; names outside the cluster go to the host resolver, over UDP and TCP', async () => {
  await cp.client.create(R.services, 'default', svc('ext', { type: 'ExternalName', externalName: 'example.org' }));
  const r = await until('cname', async () => { const x = await ask('ext.default.svc.cluster.local', 'A'); return x.answers?.length ? x : undefined; });
  assert.deepEqual(r.answers![0], { type: 'CNAME', name: 'ext.default.svc.cluster.local', ttl: 5, class: 'IN', flush: false, data: 'example.org' });
  // The CNAME is followed, as CoreDNS does (stub resolvers do not): the upstream's A record comes next.
  assert.deepEqual(r.answers!.slice(1).map((a: any) => [a.type, a.name, a.data]), [['A', 'example.org', '192.0.2.1']]);
  assert.deepEqual((await ask('ext.default.svc.cluster.local', 'CNAME')).answers!.map((a: any) => a.type), ['CNAME'], 'a CNAME question gets the CNAME only');
  await cp.client.create(R.services, 'default', svc('inner', { type: 'ExternalName', externalName: 'kubernetes.default.svc.cluster.local' }));
  const inner = await until('inner cname', async () => { const x = await ask('inner.default.svc.cluster.local', 'A'); return x.answers?.length ? x : undefined; });
  assert.deepEqual(inner.answers!.map((a: any) => [a.type, a.data]), [['CNAME', 'kubernetes.default.svc.cluster.local'], ['A', '10.96.0.1']], 'a target in the cluster is answered here');
  const fwd = await ask('example.org', 'A');
  assert.deepEqual(fwd.answers!.map((a: any) => a.data), ['192.0.2.1']);
  // TCP: a two-byte length, then the message.
  const q = packet.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
  const answer = await new Promise<packet.Packet>((resolve, reject) => {
    const sock = net.connect(dns.port, '127.0.0.1');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    let buf = Buffer.alloc(0);
    sock.on('connect', () => sock.write(Buffer.concat([len, q])));
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 2 + buf.readUInt16BE(0)) { sock.end(); resolve(packet.decode(buf.subarray(2))); } });
    sock.on('error', reject);
  });
  assert.equal(answer.id, 9);
  assert.equal(answer.answers!.length, 1);
});
