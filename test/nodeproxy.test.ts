/**
 * The API server's pod streams (pods/log, pods/exec, pods/portforward) relayed to a node agent
 * endpoint, driven by the real kubectl and by raw upgrade requests. The agent here is a stand-in that speaks kubelet's paths and the
 * channel.k8s.io WebSocket protocol, so this file tests the API server's half (resolution,
 * errors, authentication to the agent, the upgrade splice); the node agent's tests cover its
 * own half with real containers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { ApiClient } from '../src/client/client.js';
import { R } from '../src/client/resources.js';

let server: TestServer;
let agent: https.Server;
let client: ApiClient;
const seen: { path: string; cn?: string; headers?: string[] }[] = [];
/** Attach sessions the agent stand-in holds open, with a promise of each one's end. */
const held: { closed: Promise<void> }[] = [];

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  const c = server.credentials;
  // The agent stand-in: serving cert of the test server's (any cert will do: it is not verified), requires the cluster CA's clients.
  agent = https.createServer({ key: c.servingKey, cert: c.servingCert, ca: c.caCert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push({ path: req.url!, cn: (req.socket as TLSSocket).getPeerCertificate().subject?.CN as string | undefined });
    if (req.url!.startsWith('/containerLogs/default/one/c?')) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('line 1\n');
      setTimeout(() => res.end('line 2\n'), 50);
    } else { res.writeHead(404); res.end('no'); }
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (ps) => (ps.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
  agent.on('upgrade', (req, socket, head) => {
    seen.push({ path: req.url!, cn: (req.socket as TLSSocket).getPeerCertificate().subject?.CN as string | undefined, headers: req.rawHeaders });
    if (req.url!.startsWith('/attach/')) {
      // A session that stays open until its peer goes.
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n');
      socket.on('error', () => {});
      held.push({ closed: new Promise((ok) => socket.once('close', () => ok())) });
      return;
    }
    if (req.url!.startsWith('/portForward/')) {
      // SPDY's answer as the kubelet gives it, then a few bytes of "session".
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\nspdy-bytes');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const cmd = new URL(req.url!, 'https://x').searchParams.getAll('command');
      ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`ran ${cmd.join(' ')}\n`)]));
      ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' }))]));
      ws.close(1000);
    });
  });
  await new Promise<void>((ok) => agent.listen(0, '127.0.0.1', ok));
  const port = (agent.address() as AddressInfo).port;
  await client.create(R.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
  await client.patch(R.nodes, undefined, 'n1', { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } }, 'merge', { subresource: 'status' });
  const pod = (name: string, containers: string[], nodeName?: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { ...(nodeName ? { nodeName } : {}), containers: containers.map((n) => ({ name: n, image: 'busybox' })) } });
  await client.create(R.pods, 'default', pod('one', ['c'], 'n1'));
  await client.create(R.pods, 'default', pod('two', ['a', 'b'], 'n1'));
  await client.create(R.pods, 'default', pod('pending', ['c']));
});

after(async () => {
  client?.close();
  agent?.close();
  agent?.closeAllConnections();
  await server?.stop();
});

test('kubectl logs is relayed to the agent of the pod\'s node, streamed, with the API server\'s client certificate', async () => {
  const r = await server.kubectl('1.33', ['logs', 'one', '--tail=5', '--timestamps']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'line 1\nline 2\n');
  const hit = seen.find((s) => s.path.startsWith('/containerLogs/'))!;
  assert.match(hit.path, /^\/containerLogs\/default\/one\/c\?/);
  assert.match(hit.path, /tailLines=5/);
  assert.match(hit.path, /timestamps=true/);
  assert.equal(hit.cn, 'admin');
});

test('kubectl exec upgrades through the API server to the agent (WebSocket v5)', async () => {
  const r = await server.kubectl('1.33', ['exec', 'one', '--', 'echo', 'hi there']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ran echo hi there\n');
  assert.ok(seen.some((s) => /^\/exec\/default\/one\/c\?command=echo&command=hi\+there/.test(s.path)), JSON.stringify(seen));
});

test('bad stream requests: Kubernetes\' messages and codes', async () => {
  // kubectl itself picks the first container when there are several; the API answers 400.
  await assert.rejects(client.request('GET', '/api/v1/namespaces/default/pods/two/log'),
    (e: any) => e.code === 400 && e.message === 'a container name must be specified for pod two, choose one of: [a b]');
  let r = await server.kubectl('1.33', ['logs', 'one', '-c', 'nope']);
  assert.match(r.stderr, /container nope is not valid for pod one/);
  r = await server.kubectl('1.33', ['logs', 'pending']);
  assert.match(r.stderr, /pod pending does not have a host assigned/);
  r = await server.kubectl('1.33', ['logs', 'ghost']);
  assert.match(r.stderr, /pods "ghost" not found/);
  await assert.rejects(client.request('GET', '/api/v1/namespaces/default/pods/one/exec?command=ls'), (e: any) => e.code === 400 && /Upgrade request required/.test(e.message));
});

/** Sends a raw upgrade request to the API server; resolves with everything it answered. */
async function rawUpgrade(path: string, headers: string[], token?: string): Promise<string> {
  const url = new URL(server.url);
  const sock = tls.connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  await new Promise<void>((ok, fail) => { sock.once('secureConnect', ok); sock.once('error', fail); });
  sock.write([`POST ${path} HTTP/1.1`, `Host: ${url.host}`, ...(token ? [`Authorization: Bearer ${token}`] : []), ...headers, 'Content-Length: 0', '', ''].join('\r\n'));
  return new Promise((ok) => { let t = ''; sock.on('data', (d) => { t += d.toString('latin1'); }); sock.on('close', () => ok(t)); sock.on('error', () => ok(t)); });
}

test('SPDY upgrades are relayed with their headers (kubectl 1.27\'s port-forward); ports become the kubelet\'s port parameters; upgrades need credentials', async () => {
  const token = server.credentials.token;
  const spdy = ['Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: portforward.k8s.io'];
  let got = await rawUpgrade('/api/v1/namespaces/default/pods/one/portforward', spdy, token);
  assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*\r\n\r\nspdy-bytes$/);
  const hit = seen.filter((s) => s.path.startsWith('/portForward/')).pop()!;
  assert.equal(hit.path, '/portForward/default/one');
  assert.equal(hit.cn, 'admin');
  const relayed = (name: string) => hit.headers!.filter((_, i) => i % 2 === 1 && hit.headers![i - 1].toLowerCase() === name);
  assert.deepEqual([relayed('upgrade'), relayed('x-stream-protocol-version'), relayed('authorization')], [['SPDY/3.1'], ['portforward.k8s.io'], []],
    'the upgrade headers pass; the client\'s credentials stay at the API server');
  // PodPortForwardOptions.ports (repeated or comma-separated) → port=… for the kubelet.
  await rawUpgrade('/api/v1/namespaces/default/pods/one/portforward?ports=80,81&ports=82', spdy, token);
  assert.equal(seen.filter((s) => s.path.startsWith('/portForward/')).pop()!.path, '/portForward/default/one?port=80&port=81&port=82');
  got = await rawUpgrade('/api/v1/namespaces/default/pods/one/portforward?ports=http', spdy, token);
  assert.match(got, /^HTTP\/1\.1 400 /);
  got = await rawUpgrade('/api/v1/namespaces/default/pods/one/portforward?ports=70000', spdy, token);
  assert.match(got, /^HTTP\/1\.1 400 [\s\S]*must be between 1 and 65535/);
  // No credentials: refused before anything reaches the agent.
  const before = seen.length;
  got = await rawUpgrade('/api/v1/namespaces/default/pods/one/portforward', spdy);
  assert.match(got, /^HTTP\/1\.1 401 /);
  assert.equal(seen.length, before);
});

/** Opens an attach stream through the API server; resolves with the client's socket once the agent holds the session. */
async function openAttach(): Promise<{ sock: tls.TLSSocket; tcp: net.Socket }> {
  const url = new URL(server.url);
  const tcp = net.connect(Number(url.port), url.hostname);
  tcp.on('error', () => {});
  const sock = tls.connect({ socket: tcp, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  sock.on('error', () => {});
  await new Promise<void>((ok, fail) => { sock.once('secureConnect', ok); sock.once('error', fail); });
  const n = held.length;
  sock.write(['POST /api/v1/namespaces/default/pods/one/attach?stdin=true&stdout=true HTTP/1.1', `Host: ${url.host}`, `Authorization: Bearer ${server.credentials.token}`,
    'Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: v4.channel.k8s.io', 'Content-Length: 0', '', ''].join('\r\n'));
  await new Promise<void>((ok) => sock.once('data', () => ok()));
  assert.equal(held.length, n + 1, 'the agent holds the session');
  return { sock, tcp };
}

/** Whether `p` settles within `ms` (a hang detector, not a timing measurement). */
function settles(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((ok) => setTimeout(() => ok(false), ms).unref())]);
}

test('a client that vanishes from a relayed stream (its connection reset) ends the agent\'s side of it', async () => {
  const { tcp } = await openAttach();
  tcp.resetAndDestroy();
  assert.ok(await settles(held.at(-1)!.closed, 10_000), 'the agent\'s connection is closed');
});

test('last: stopping the API server ends the streams it relays, even one whose client reads nothing', async () => {
  const { sock } = await openAttach();
  sock.pause();
  const clientGone = new Promise<void>((ok) => sock.once('close', () => ok()));
  assert.ok(await settles(server.stop(), 10_000), 'the API server stops');
  assert.ok(await settles(held.at(-1)!.closed, 10_000), 'the agent\'s connection is closed');
  sock.resume();
  assert.ok(await settles(clientGone, 10_000), 'the client\'s connection is closed');
});
