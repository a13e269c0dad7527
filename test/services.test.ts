/**
 * Services and cluster DNS end to end through `skiff up` with real containers (runc, CNI)
 * and the real kubectl (1.33, reads also with 1.27): a 3-replica Deployment of busybox httpd
 * pods (each serving its hostname) behind a ClusterIP Service is reached by name from another
 * pod and answers from all three; a NodePort and a LoadBalancer (ServiceLB on the node
 * address) answer on the host; a pod turned unready (its exec readiness probe) leaves the rotation;
 * a Service without endpoints refuses at once; two LoadBalancers on one port: the newer one
 * pending with an event until the port is free; Local traffic policies and the health check
 * port; DNS answers A (ClusterIP and headless), SRV for named ports, CNAME for ExternalName,
 * StatefulSet pod names and NXDOMAIN; resolv.conf per dnsPolicy; a pod reaches
 * https://kubernetes.default.svc, verifies it against the cluster CA and calls the API with its
 * service account token (also through KUBERNETES_SERVICE_HOST/PORT);
 * `kubectl cluster-info` lists the control plane and CoreDNS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, ensureTlsToolsImage, skiff } from './helpers/images.js';
import { skiffUp, skiffUpCleanup } from './helpers/up.js';
import { until } from './helpers/cluster.js';
import { kubectlBin } from './helpers/apiserver.js';
import { ApiClient } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { internalIP } from '../src/agent/machine.js';
import { parseResolvConf } from '../src/engine/network/files.js';
import { confDir, defaultConfList } from '../src/engine/network/config.js';
import { writeJsonAtomic } from '../src/lib/atomic.js';

const run = promisify(execFile);
const NODE = 'svc-test';
// A bridge and subnet of its own: pods other data roots left on skiff0 hold addresses of the
// default subnet (each root allocates its own), which would collide with this test's pods.
const BRIDGE = 'sksvc0';
const POD_CIDR = '10.91.0.0/16';
let root: string;
let proc: ChildProcess | undefined;
let client: ApiClient;
let nodeIP: string;

const kubectl = (args: string[], o: { input?: string; v?: string } = {}) =>
  skiff(root, ['kubectl', ...args], { input: o.input, env: { HOME: root, SKIFF_KUBECTL: kubectlBin(o.v ?? '1.33') } });
const apply = async (...objs: any[]) => {
  const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }) });
  assert.equal(r.code, 0, r.stderr);
};
/** Runs a shell script in a pod (kubectl exec); resolves with stdout+stderr and the exit code. */
async function sh(pod: string, script: string): Promise<{ out: string; code: number }> {
  const r = await kubectl(['exec', pod, '--', 'sh', '-c', script]);
  return { out: r.stdout + r.stderr, code: r.code };
}
/** The distinct answers of `n` requests to `url` from the client pod. */
const answers = async (url: string, n = 30) => new Set((await sh('client', `for i in $(seq ${n}); do timeout 3 wget -qO- ${url}; done`)).out.split('\n').filter(Boolean));

function get(host: string, port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
const hostAnswers = async (port: number, n = 30) => { const s = new Set<string>(); for (let i = 0; i < n; i++) s.add((await get(nodeIP, port)).body); return s; };

const svc = (name: string, spec: any, labels: any = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec } });
const sleeper = (name: string, spec: any = {}, image = 'busybox:1.36', container: any = {}) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name },
  spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], ...container }], ...spec },
});
const webPods = async () => (await client.list<any>(R.pods, 'default', { labelSelector: 'app=web' })).items.filter((p: any) => !p.metadata.deletionTimestamp);
async function setReady(pod: string, ready: boolean): Promise<void> {
  const r = await sh(pod, ready ? 'touch /tmp/ready' : 'rm /tmp/ready');
  assert.equal(r.code, 0, r.out);
}

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-svc-');
  await fs.mkdir(confDir(root), { recursive: true });
  await writeJsonAtomic(path.join(confDir(root), '10-skiff.conflist'), defaultConfList(root, { bridge: BRIDGE, subnet: POD_CIDR }));
  await ensureBusyboxImage(root, 'busybox:1.36');
  await ensureTlsToolsImage(root, 'tls-tools:1');
  proc = await skiffUp(root, NODE, { SKIFF_POD_CIDR: POD_CIDR });
  client = await ApiClient.fromKubeconfig(path.join(root, 'kubeconfig.yaml'));
  nodeIP = internalIP();
  const r = await kubectl(['wait', '--for=condition=Ready', `node/${NODE}`, '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  await apply(
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: {
        replicas: 3, selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [{
              name: 'web', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', ports: [{ name: 'http', containerPort: 8080 }],
              command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /www'],
              // Ready while it serves and /tmp/ready exists (the test removes it to turn a pod unready).
              readinessProbe: { exec: { command: ['sh', '-c', 'test -f /tmp/ready && wget -qO- http://127.0.0.1:8080/ >/dev/null'] }, periodSeconds: 1, failureThreshold: 1 },
              // As any zero-downtime rollout needs: keep serving until the endpoint is gone everywhere.
              lifecycle: { preStop: { exec: { command: ['sleep', '2'] } } },
            }],
          },
        },
      },
    },
    svc('web', {}),
    svc('web-np', { type: 'NodePort' }),
    svc('web-lb', { type: 'LoadBalancer', ports: [{ name: 'http', port: 8089, targetPort: 'http' }] }),
    svc('web-headless', { clusterIP: 'None' }),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'nothing' }, spec: { selector: { app: 'nobody' }, ports: [{ port: 80 }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'x', port: 1 }] } },
    {
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' },
      spec: { serviceName: 'db', replicas: 2, podManagementPolicy: 'Parallel', selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } } },
    },
    sleeper('client'),
  );
  await until('three web pods', async () => (await webPods()).length === 3, 30_000);
  for (const args of [['pod', '-l', 'app=web'], ['pod/client'], ['pod/db-0'], ['pod/db-1']]) {
    const w = await kubectl(['wait', '--for=condition=Ready', ...args, '--timeout=90s']);
    assert.equal(w.code, 0, w.stderr + (await kubectl(['get', 'pods', '-o', 'wide'])).stdout);
  }
});

after(async () => {
  client?.close();
  await skiffUpCleanup(proc, root);
  await run('ip', ['link', 'del', BRIDGE]).catch(() => {});
});

test('a ClusterIP Service reached by name answers from all three pods; NodePort and LoadBalancer answer on the host; an unready pod leaves', async () => {
  const names = (await webPods()).map((p: any) => p.metadata.name).sort();
  assert.deepEqual([...await answers('http://web.default.svc.cluster.local')].sort(), names, 'every replica answers the full name');
  assert.deepEqual([...await answers('http://web')].sort(), names, 'and the short name (search domains)');

  const np = (await client.get<any>(R.services, 'default', 'web-np')).spec.ports[0].nodePort;
  assert.deepEqual([...await hostAnswers(np)].sort(), names, 'the node port on the node address');
  assert.ok(names.includes((await get('127.0.0.1', np)).body), 'and on 127.0.0.1');

  // ServiceLB: the node's address is the load balancer's, on the Service port.
  await until('the LoadBalancer gets the node address', async () => (await client.get<any>(R.services, 'default', 'web-lb')).status?.loadBalancer?.ingress?.[0]?.ip === nodeIP);
  for (const v of ['1.27', '1.33']) {
    const r = await kubectl(['get', 'service', 'web-lb'], { v });
    assert.match(r.stdout, new RegExp(`web-lb\\s+LoadBalancer\\s+10\\.96\\.\\S+\\s+${nodeIP.replace(/\./g, '\\.')}\\s+8089:3\\d{4}/TCP`), r.stdout);
  }
  const curl = await run('curl', ['-s', '--max-time', '5', `http://${nodeIP}:8089/`]);
  assert.ok(names.includes(curl.stdout.trim()), `curl on the host: ${curl.stdout}`);
  assert.deepEqual([...await hostAnswers(8089)].sort(), names);

  // One pod turns unready (its readiness probe fails): its endpoint goes not-ready and it leaves the rotation.
  await setReady(names[0], false);
  await until('the endpoint is not ready', async () => {
    const slices = (await client.list<any>(R.endpointslices, 'default', { labelSelector: 'kubernetes.io/service-name=web' })).items;
    return slices.flatMap((s: any) => s.endpoints ?? []).some((e: any) => e.targetRef?.name === names[0] && e.conditions.ready === false);
  });
  await until('it is out of the rotation', async () => { const got = await answers('http://web', 20); return got.size === 2 && !got.has(names[0]); });
  assert.deepEqual([...await hostAnswers(np)].sort(), names.slice(1), 'the node port too');
  await setReady(names[0], true);
  await until('back in the rotation', async () => (await answers('http://web', 20)).size === 3);
});

test('a Service without endpoints refuses at once; a LoadBalancer port held by another stays pending with an event', async () => {
  const t0 = Date.now();
  const r = await sh('client', 'timeout 5 wget -qO- http://nothing; echo rc=$?');
  assert.match(r.out, /Connection refused/, r.out);
  assert.ok(Date.now() - t0 < 5000, 'refused, not timed out');

  await apply(svc('web-lb2', { type: 'LoadBalancer', ports: [{ name: 'http', port: 8089, targetPort: 'http' }] }));
  const ev = await until('the UnAvailableLoadBalancer event', async () => {
    const out = await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=web-lb2', '-o', 'json']);
    return JSON.parse(out.stdout || '{"items":[]}').items.find((e: any) => e.reason === 'UnAvailableLoadBalancer');
  });
  assert.equal(ev.message, 'There are no available nodes for LoadBalancer: port 8089/TCP is used by LoadBalancer default/web-lb');
  assert.match((await kubectl(['get', 'service', 'web-lb2'])).stdout, /web-lb2\s+LoadBalancer\s+\S+\s+<pending>/);
  assert.match((await kubectl(['describe', 'service', 'web-lb2'])).stdout, /Warning\s+UnAvailableLoadBalancer/);
  const del = await kubectl(['delete', 'service', 'web-lb']);
  assert.equal(del.code, 0, del.stderr);
  await until('the port passes to web-lb2', async () => (await client.get<any>(R.services, 'default', 'web-lb2')).status?.loadBalancer?.ingress?.[0]?.ip === nodeIP);
  assert.equal((await until('web-lb2 answers', () => get(nodeIP, 8089))).status, 200);
});

test('traffic policies Local: the health check node port counts this node\'s endpoints; the cluster IP stays on the node', async () => {
  await apply(svc('web-local', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 8090, targetPort: 'http' }] }));
  const s = await until('ingress and a health check port', async () => { const x = await client.get<any>(R.services, 'default', 'web-local'); return x.status?.loadBalancer?.ingress?.length && x; });
  assert.deepEqual(s.status.loadBalancer.ingress, [{ ip: nodeIP, ipMode: 'VIP' }], 'only nodes with a ready endpoint (this one)');
  const hc = await until('the health check answers', () => get(nodeIP, s.spec.healthCheckNodePort));
  assert.deepEqual([hc.status, JSON.parse(hc.body)], [200, { service: { namespace: 'default', name: 'web-local' }, localEndpoints: 3, serviceProxyHealthy: true }]);
  await until('from the host (short-circuited to every endpoint)', async () => (await hostAnswers(8090).catch(() => new Set())).size === 3);
  assert.equal((await answers('http://web-local:8090', 20)).size, 3, 'internalTrafficPolicy Local: the endpoints on this node');
});

test('cluster DNS: A, headless, SRV for named ports, CNAME, StatefulSet pod names, NXDOMAIN', async () => {
  const web = await client.get<any>(R.services, 'default', 'web');
  const ips = (await webPods()).map((p: any) => p.status.podIP).sort();
  let r = await sh('client', 'nslookup web.default.svc.cluster.local');
  assert.match(r.out, new RegExp(`Name:\\s+web\\.default\\.svc\\.cluster\\.local\\s+Address: ${web.spec.clusterIP.replace(/\./g, '\\.')}`), r.out);
  r = await sh('client', 'nslookup web-headless.default.svc.cluster.local');
  assert.deepEqual([...r.out.matchAll(/Address: (10\.\d+\.\d+\.\d+)$/gm)].map((m) => m[1]).sort(), ips, r.out);
  r = await sh('client', 'nslookup -type=srv _http._tcp.web.default.svc.cluster.local');
  assert.match(r.out, /_http\._tcp\.web\.default\.svc\.cluster\.local\s+service = 0 100 80 web\.default\.svc\.cluster\.local/, r.out);
  r = await sh('client', 'nslookup -type=srv _http._tcp.web-headless.default.svc.cluster.local');
  assert.deepEqual([...r.out.matchAll(/service = 0 \d+ 80 (\S+)\.web-headless\.default\.svc\.cluster\.local/g)].map((m) => m[1].replace(/-/g, '.')).sort(), ips, r.out);
  r = await sh('client', 'nslookup -type=cname ext.default.svc.cluster.local');
  assert.match(r.out, /ext\.default\.svc\.cluster\.local\s+canonical name = web\.default\.svc\.cluster\.local/, r.out);
  const db0 = await client.get<any>(R.pods, 'default', 'db-0');
  r = await sh('client', 'nslookup db-0.db.default.svc.cluster.local');
  assert.match(r.out, new RegExp(`Address: ${db0.status.podIP.replace(/\./g, '\\.')}$`, 'm'), r.out);
  // nslookup takes names as given; wget resolves through the search path (and fails to connect to port 1).
  r = await sh('db-1', 'timeout 3 wget -qO- http://db-0.db:1/');
  assert.match(r.out, new RegExp(`can't connect to remote host \\(${db0.status.podIP.replace(/\./g, '\\.')}\\)`), r.out);
  r = await sh('client', 'nslookup nosuch.default.svc.cluster.local');
  assert.match(r.out, /server can't find nosuch\.default\.svc\.cluster\.local: NXDOMAIN/, r.out);
  r = await sh('client', 'timeout 5 wget -qO- http://ext');
  assert.match(r.out, /^web-/, 'the ExternalName leads to the web Service');
});

test('resolv.conf per dnsPolicy: ClusterFirst, Default, None with dnsConfig, ClusterFirst with dnsConfig', async () => {
  await apply(
    sleeper('dns-default', { dnsPolicy: 'Default' }),
    sleeper('dns-none', { dnsPolicy: 'None', dnsConfig: { nameservers: ['192.0.2.53'], searches: ['example.test'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }),
    sleeper('dns-merge', { dnsConfig: { searches: ['example.test'], options: [{ name: 'ndots', value: '1' }] } }),
  );
  const w = await kubectl(['wait', '--for=condition=Ready', 'pod/dns-default', 'pod/dns-none', 'pod/dns-merge', '--timeout=60s']);
  assert.equal(w.code, 0, w.stderr);
  const host = parseResolvConf(await fs.readFile('/etc/resolv.conf', 'utf8'));
  const file = async (pod: string) => (await sh(pod, 'cat /etc/resolv.conf')).out;
  assert.equal(await file('client'), 'search default.svc.cluster.local svc.cluster.local cluster.local' + (host.search.length ? ` ${host.search.join(' ')}` : '') + '\nnameserver 10.96.0.10\noptions ndots:5\n');
  assert.equal(await file('dns-default'), [host.search.length ? `search ${host.search.join(' ')}` : '', ...host.servers.map((s) => `nameserver ${s}`), host.options.length ? `options ${host.options.join(' ')}` : ''].filter(Boolean).join('\n') + '\n');
  assert.equal(await file('dns-none'), 'search example.test\nnameserver 192.0.2.53\noptions ndots:2 edns0\n');
  assert.equal(await file('dns-merge'), 'search default.svc.cluster.local svc.cluster.local cluster.local' + (host.search.length ? ` ${host.search.join(' ')}` : '') + ' example.test\nnameserver 10.96.0.10\noptions ndots:1\n');
});

test('a pod calls https://kubernetes.default.svc with its service account token: the certificate verifies against the cluster CA, the API answers', async () => {
  await apply(sleeper('tls', {}, 'tls-tools:1'));
  const w = await kubectl(['wait', '--for=condition=Ready', 'pod/tls', '--timeout=60s']);
  assert.equal(w.code, 0, w.stderr);
  const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
  let r = await sh('tls', `for name in kubernetes.default.svc kubernetes.default.svc.cluster.local; do openssl s_client -connect $name:443 -servername $name -verify_hostname $name -CAfile ${SA}/ca.crt -verify_return_error -brief </dev/null 2>&1; done; openssl s_client -connect 10.96.0.1:443 -verify_ip 10.96.0.1 -CAfile ${SA}/ca.crt -verify_return_error -brief </dev/null 2>&1`);
  assert.equal((r.out.match(/Verification: OK/g) ?? []).length, 3, r.out);
  // busybox wget speaks TLS through openssl s_client, which verifies against SSL_CERT_FILE: the cluster CA.
  const get = (url: string, token = true) => sh('tls', `SSL_CERT_FILE=${SA}/ca.crt timeout 10 wget -qO- ${token ? `--header "Authorization: Bearer $(cat ${SA}/token)"` : ''} ${url}`);
  // RBAC: the pod's service account reads nothing until bound (here to view in its namespace).
  r = await get('https://kubernetes.default.svc/api/v1/namespaces/default/pods/tls');
  assert.match(r.out, /403 Forbidden/, r.out);
  assert.equal((await kubectl(['create', 'rolebinding', 'tls-view', '--clusterrole=view', '--serviceaccount=default:default'])).code, 0);
  r = await get('https://kubernetes.default.svc/api/v1/namespaces/default/pods/tls');
  assert.equal(JSON.parse(r.out).metadata.name, 'tls', r.out);
  r = await sh('tls', `timeout 10 wget -qO- --header "Authorization: Bearer $(cat ${SA}/token)" https://kubernetes.default.svc/api`);
  assert.equal(r.code, 1, 'a certificate the default trust store does not know is refused');
  r = await get('https://kubernetes.default.svc/api/v1/namespaces/default/pods/tls', false);
  assert.match(r.out, /401 Unauthorized/, 'without a token: refused');
  // In-cluster clients (client-go) find the API server through the Service variables and dial the IP.
  r = await sh('tls', `echo "$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT $WEB_SERVICE_PORT_HTTP"; (printf "GET /api/v1/namespaces/default/pods/tls HTTP/1.0\\r\\nAuthorization: Bearer $(cat ${SA}/token)\\r\\n\\r\\n"; sleep 2) | timeout 10 openssl s_client -quiet -connect $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT -verify_ip $KUBERNETES_SERVICE_HOST -CAfile ${SA}/ca.crt -verify_return_error 2>/dev/null`);
  assert.match(r.out, /^10\.96\.0\.1:443 80\nHTTP\/1\.1 200 OK\r\n/, r.out);
  assert.equal(JSON.parse(r.out.split('\r\n\r\n')[1]).metadata.name, 'tls', r.out);
});

test('kubectl cluster-info shows the control plane and the cluster\'s services', async () => {
  for (const v of ['1.27', '1.33']) {
    const r = await kubectl(['cluster-info'], { v });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Kubernetes control plane\S* is running at \S*https:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /CoreDNS\S* is running at \S*https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/kube-system\/services\/kube-dns:dns\/proxy/);
  }
  const kube = await client.get<any>(R.endpoints, 'default', 'kubernetes');
  assert.equal(kube.subsets[0].addresses[0].ip, nodeIP, 'the API server is advertised on the node address');
});

test('a rolling update (readiness probe, maxUnavailable 0) under a client loop through the Service: zero failed requests', async () => {
  const before = new Set((await webPods()).map((p: any) => p.metadata.name));
  let r = await kubectl(['patch', 'deployment', 'web', '-p', JSON.stringify({ spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } } })]);
  assert.equal(r.code, 0, r.stderr);
  // The client resolves the name and connects anew for every request, until told to stop.
  const loop = kubectl(['exec', 'client', '--', 'sh', '-c',
    'rm -f /tmp/stop; ok=0; bad=0; while [ ! -f /tmp/stop ]; do if a=$(timeout 3 wget -qO- http://web); then ok=$((ok+1)); echo "$a" >> /tmp/seen; else bad=$((bad+1)); fi; done; echo "ok=$ok bad=$bad"; sort -u /tmp/seen']);
  await new Promise((res) => setTimeout(res, 2000));
  r = await kubectl(['rollout', 'restart', 'deployment/web']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=120s']);
  assert.equal(r.code, 0, r.stderr);
  await until('the old pods are gone', async () => (await webPods()).every((p: any) => !before.has(p.metadata.name)), 60_000);
  await new Promise((res) => setTimeout(res, 2000));
  await sh('client', 'touch /tmp/stop');
  const out = await loop;
  const m = /ok=(\d+) bad=(\d+)/.exec(out.stdout);
  assert.ok(m, out.stdout + out.stderr);
  const [ok, bad] = [Number(m[1]), Number(m[2])];
  assert.equal(bad, 0, `failed requests during the rollout (ok=${ok})`);
  assert.ok(ok > 50, `requests made: ${ok}`);
  const seen = out.stdout.split('\n').filter((l) => l.startsWith('web-'));
  const after = (await webPods()).map((p: any) => p.metadata.name);
  assert.ok(seen.some((n) => before.has(n)) && after.every((n: string) => seen.includes(n)), `answered by the old pods, then by all new ones: ${seen.join(' ')}`);
});
