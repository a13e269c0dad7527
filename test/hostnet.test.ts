/**
 * hostNetwork, hostPort and pod-level cgroups end to end through `skiff up` (real runc, CNI
 * portmap, iptables, cgroups) with the real kubectl 1.33:
 * - a hostNetwork pod (busybox httpd on a free port) answers on 127.0.0.1, reports the node's
 *   IP as its podIP, has the host's hostname and network, IPC and PID namespaces (hostIPC,
 *   hostPID), the kubelet's host-network /etc/hosts and resolv.conf per dnsPolicy, is reached
 *   by kubectl port-forward; its ports default to host ports; hostPort != containerPort is
 *   refused with 422;
 * - a hostPort pod answers on the host port through the portmap plugin; a second pod asking
 *   for the same host port stays Pending with a FailedScheduling event until the first goes;
 *   after deletion the port is released and no CNI-HOSTPORT rule is left;
 * - pods get a cgroup under the QoS hierarchy with every container below it, the summed
 *   memory limit and CPU quota, shares from requests; the cgroups go with the pod, an orphan
 *   pod cgroup is removed when skiff up starts again, `skiff down` removes the hierarchy.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, skiff } from './helpers/images.js';
import { skiffUp, skiffUpCleanup } from './helpers/up.js';
import { until } from './helpers/cluster.js';
import { kubectlBin } from './helpers/apiserver.js';
import { ApiClient } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { confDir, defaultConfList } from '../src/engine/network/config.js';
import { cgroupMode } from '../src/engine/container/cgroups.js';
import { podCgroupRoot } from '../src/agent/cgroups.js';
import { writeJsonAtomic } from '../src/lib/atomic.js';
import { dropBridge } from './network-helpers.js';

const run = promisify(execFile);
const NODE = 'hostnet-test';
// A network of its own (bridge, subnet, name: rule comments and recovery go by the name).
const NETWORK = { name: 'skiff-hostnet-test', bridge: 'skiffhn0', subnet: '10.97.0.0/16' };
let root: string;
let proc: ChildProcess | undefined;
let client: ApiClient;

const kubectl = (args: string[], input?: string) => skiff(root, ['kubectl', ...args], { input, env: { HOME: root, SKIFF_KUBECTL: kubectlBin('1.33') } });
const apply = async (obj: any) => {
  const r = await kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  assert.equal(r.code, 0, r.stderr);
};
const waitReady = async (name: string) => {
  const r = await kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=90s']);
  assert.equal(r.code, 0, r.stderr + (await kubectl(['describe', 'pod', name])).stdout);
};
const exec = async (pod: string, script: string) => {
  const r = await kubectl(['exec', pod, '--', 'sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};
const httpd = (port: number, text: string) => ['sh', '-c', `mkdir -p /tmp/www && echo ${text} > /tmp/www/index.html && exec httpd -f -p ${port} -h /tmp/www`];
const pod = (name: string, spec: any) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 1, ...spec } });
const container = (extra: any) => ({ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', ...extra });

/** A TCP port nothing listens on now. */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '0.0.0.0', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** GET http://127.0.0.1:port/ with a raw socket: the body, or the connection error's code. */
function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    s.setTimeout(3000, () => { s.destroy(); resolve('ETIMEDOUT'); });
    s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    s.on('data', (d) => { data += d; });
    s.on('end', () => resolve(data.split('\r\n\r\n')[1]?.trim() ?? ''));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** The nat rules of the portmap plugin (its shared chains and per-pod DNAT chains). */
async function hostportRules(): Promise<string[]> {
  const { stdout } = await run('iptables-save', ['-t', 'nat']);
  return stdout.split('\n').filter((l) => l.startsWith('-A') && /CNI-HOSTPORT-|CNI-DN-/.test(l));
}

/** A cgroup's directory in one controller's hierarchy (v1), or in the unified one (v2). */
const cgDir = (controller: string, cg: string) => (cgroupMode() === 'v2' ? path.join('/sys/fs/cgroup', cg) : path.join('/sys/fs/cgroup', controller, cg));
const exists = (p: string) => fs.stat(p).then(() => true, () => false);
const readCg = async (controller: string, cg: string, v1: string, v2: string) => (await fs.readFile(path.join(cgDir(controller, cg), cgroupMode() === 'v2' ? v2 : v1), 'utf8')).trim();

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-hostnet-');
  await fs.mkdir(confDir(root), { recursive: true });
  await writeJsonAtomic(path.join(confDir(root), '10-hostnet.conflist'), defaultConfList(root, NETWORK));
  await ensureBusyboxImage(root, 'busybox:1.36');
  proc = await skiffUp(root, NODE, { SKIFF_POD_CIDR: NETWORK.subnet });
  client = await ApiClient.fromKubeconfig(path.join(root, 'kubeconfig.yaml'));
  const r = await kubectl(['wait', '--for=condition=Ready', `node/${NODE}`, '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  client?.close();
  await skiffUpCleanup(proc, root);
  await dropBridge(NETWORK.bridge, NETWORK.subnet);
});

test('a hostNetwork pod listens on the host, has the node\'s IP and hostname, the host\'s namespaces and the kubelet\'s files', async () => {
  const port = await freePort();
  await apply(pod('hostweb', {
    hostNetwork: true, hostPID: true, hostIPC: true,
    containers: [container({ command: httpd(port, 'from-host-network'), ports: [{ containerPort: port }], readinessProbe: { httpGet: { port }, periodSeconds: 1 } })],
  }));
  await waitReady('hostweb');
  assert.equal(await get(port), 'from-host-network', 'httpd answers on the host\'s 127.0.0.1');
  const p = await client.get<any>(R.pods, 'default', 'hostweb');
  const node = await client.get<any>(R.nodes, undefined, NODE);
  const nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
  assert.equal(p.status.podIP, nodeIP, 'podIP is the node\'s IP');
  assert.deepEqual(p.status.podIPs, [{ ip: nodeIP }]);
  assert.equal(p.status.hostIP, nodeIP);
  assert.equal(p.spec.containers[0].ports[0].hostPort, port, 'the API server defaults hostPort to containerPort');
  const wide = await kubectl(['get', 'pod', 'hostweb', '-o', 'wide']);
  assert.match(wide.stdout, new RegExp(`hostweb\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${nodeIP.replace(/\./g, '\\.')}\\s+${NODE}`));

  // The host's network, UTS, IPC and PID namespaces (compared with this process's).
  const inside = (await exec('hostweb', 'hostname; for n in net uts ipc pid; do readlink /proc/self/ns/$n; done')).trim().split('\n');
  const mine = await Promise.all(['net', 'uts', 'ipc', 'pid'].map((n) => fs.readlink(`/proc/self/ns/${n}`)));
  assert.deepEqual(inside, [os.hostname(), ...mine]);
  // The kubelet's host-network /etc/hosts: its header, then the node's file.
  const hosts = await exec('hostweb', 'cat /etc/hosts');
  assert.equal(hosts, '# Kubernetes-managed hosts file (host network).\n' + (await fs.readFile('/etc/hosts', 'utf8')).replace(/\n?$/, '\n'));
  // ClusterFirst falls back to Default for a host-network pod: the node's resolvers, not cluster DNS.
  const resolv = await exec('hostweb', 'cat /etc/resolv.conf');
  assert.doesNotMatch(resolv, /10\.96\.0\.10|ndots:5/);
  const hostServers = (await fs.readFile('/etc/resolv.conf', 'utf8')).split('\n').filter((l) => /^nameserver\s/.test(l)).slice(0, 3).map((l) => l.trim().replace(/\s+/g, ' '));
  for (const s of hostServers) assert.ok(resolv.includes(s), `${s} (loopback ones included) in ${resolv}`);

  // ClusterFirstWithHostNet keeps the cluster's DNS.
  await apply(pod('hostdns', { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet', containers: [container({ command: ['sleep', '3600'] })] }));
  await waitReady('hostdns');
  assert.match(await exec('hostdns', 'cat /etc/resolv.conf'), /search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local[^\n]*\nnameserver 10\.96\.0\.10\noptions ndots:5/);
  // Without hostPID/hostIPC a host-network pod's containers have their own PID and IPC namespaces.
  const own = (await exec('hostdns', 'for n in pid ipc; do readlink /proc/self/ns/$n; done')).trim().split('\n');
  assert.notEqual(own[0], mine[3]);
  assert.notEqual(own[1], mine[2]);

  // kubectl port-forward reaches it in the node's own network namespace.
  const local = await freePort();
  const pf = spawn(kubectlBin('1.33'), ['port-forward', 'pod/hostweb', `${local}:${port}`], { env: { ...process.env, KUBECONFIG: path.join(root, 'kubeconfig.yaml'), HOME: root }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    pf.stdout!.on('data', (d) => { out += d; });
    await until('kubectl port-forward listening', async () => out.includes(`Forwarding from 127.0.0.1:${local} -> ${port}`));
    assert.equal(await get(local), 'from-host-network', 'through kubectl port-forward');
  } finally {
    pf.kill();
  }

  // hostPort must equal containerPort under hostNetwork (422 with the field).
  const bad = await kubectl(['apply', '-f', '-'], JSON.stringify(pod('badhost', { hostNetwork: true, containers: [container({ command: ['true'], ports: [{ containerPort: 80, hostPort: 8080 }] })] })));
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /spec\.containers\[0\]\.ports\[0\]\.containerPort: Invalid value: 80: must match `hostPort` when `hostNetwork` is true/);

  const del = await kubectl(['delete', 'pod', 'hostweb', 'hostdns', '--wait=true', '--timeout=60s']);
  assert.equal(del.code, 0, del.stderr);
  assert.equal(await get(port), 'ECONNREFUSED', 'nothing listens once the pod is gone');
});

test('hostPort through the portmap plugin: answers on the host port, a conflicting pod stays Pending, the rules go with the pod', async () => {
  const before = await hostportRules();
  const port = await freePort();
  const web = (name: string, text: string) => pod(name, {
    containers: [container({ command: httpd(80, text), ports: [{ containerPort: 80, hostPort: port }], readinessProbe: { httpGet: { port: 80 }, periodSeconds: 1 } })],
  });
  await apply(web('hp1', 'first'));
  await waitReady('hp1');
  assert.equal(await get(port), 'first', 'the host port reaches the pod');
  const during = await hostportRules();
  assert.ok(during.length > before.length, 'portmap added its rules');
  assert.ok(during.some((l) => l.includes(`--dport ${port}`)), during.join('\n'));

  // The same host port again: the scheduler's NodePorts filter keeps it off the only node.
  await apply(web('hp2', 'second'));
  await until('a FailedScheduling event for hp2', async () => {
    const ev = await kubectl(['get', 'events', '--field-selector', 'involvedObject.name=hp2,reason=FailedScheduling', '-o', 'jsonpath={.items[*].message}']);
    return /didn't have free ports for the requested pod ports/.test(ev.stdout);
  });
  const p2 = await client.get<any>(R.pods, 'default', 'hp2');
  assert.equal(p2.status.phase, 'Pending');
  assert.equal(p2.spec.nodeName, undefined);

  // The first goes: its port and rules are released and the second is scheduled and answers.
  let r = await kubectl(['delete', 'pod', 'hp1', '--wait=true', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  await waitReady('hp2');
  assert.equal(await get(port), 'second');
  r = await kubectl(['delete', 'pod', 'hp2', '--wait=true', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await get(port), 'ECONNREFUSED', 'the host port is released');
  const afterRules = await hostportRules();
  assert.deepEqual(afterRules.filter((l) => l.includes(`--dport ${port}`)), [], 'no DNAT for the port is left');
  assert.equal(afterRules.length, before.length, `CNI-HOSTPORT rules before:\n${before.join('\n')}\nafter:\n${afterRules.join('\n')}`);
});

test('pod cgroups: the QoS hierarchy, containers under the pod, summed limits; removed with the pod and after a restart', async () => {
  const cgRoot = podCgroupRoot(root);
  const limits = (mem: string, cpu: string) => ({ limits: { memory: mem, cpu }, requests: { memory: mem, cpu } });
  await apply(pod('guaranteed', {
    containers: [
      container({ name: 'a', command: ['sleep', '3600'], resources: limits('32Mi', '200m') }),
      container({ name: 'b', command: ['sleep', '3600'], resources: limits('48Mi', '300m') }),
    ],
  }));
  await apply(pod('burstable', { containers: [container({ command: ['sleep', '3600'], resources: { requests: { cpu: '250m', memory: '16Mi' }, limits: { memory: '64Mi' } } }), container({ name: 'd', command: ['sleep', '3600'] })] }));
  await apply(pod('besteffort', { containers: [container({ command: ['sleep', '3600'] })] }));
  for (const n of ['guaranteed', 'burstable', 'besteffort']) await waitReady(n);
  const uid = async (n: string) => (await client.get<any>(R.pods, 'default', n)).metadata.uid;
  const g = path.posix.join(cgRoot, `pod${await uid('guaranteed')}`);
  const b = path.posix.join(cgRoot, 'burstable', `pod${await uid('burstable')}`);
  const be = path.posix.join(cgRoot, 'besteffort', `pod${await uid('besteffort')}`);

  // Guaranteed: directly under the root; memory 32Mi + 48Mi, quota 200m + 300m, shares 512.
  assert.equal(Number(await readCg('memory', g, 'memory.limit_in_bytes', 'memory.max')), 80 * 2 ** 20);
  assert.equal(await readCg('cpu', g, 'cpu.cfs_quota_us', 'cpu.max'), cgroupMode() === 'v2' ? '50000 100000' : '50000');
  if (cgroupMode() !== 'v2') assert.equal(await readCg('cpu', g, 'cpu.shares', ''), '512');
  // Every container's cgroup is below the pod's, in each hierarchy, as the containers see it.
  const gp = await client.get<any>(R.pods, 'default', 'guaranteed');
  for (const cs of gp.status.containerStatuses) {
    const id = cs.containerID.replace(/^\w+:\/\//, '');
    for (const ctl of ['memory', 'cpu', 'pids']) assert.ok(await exists(cgDir(ctl, path.posix.join(g, id))), `${ctl} cgroup of ${cs.name} under the pod's`);
    const self = await exec('guaranteed', cgroupMode() === 'v2' ? 'cat /proc/self/cgroup' : `cat /proc/self/cgroup | grep :memory:`);
    assert.ok(self.includes(`pod${gp.metadata.uid}`), self);
  }
  // Burstable: not every container has a memory limit, so none on the pod; shares from the 250m request.
  assert.ok(Number(await readCg('memory', b, 'memory.limit_in_bytes', 'memory.max')) > 2 ** 60 || (await readCg('memory', b, '', 'memory.max')) === 'max');
  if (cgroupMode() !== 'v2') assert.equal(await readCg('cpu', b, 'cpu.shares', ''), '256');
  if (cgroupMode() !== 'v2') assert.equal(await readCg('cpu', be, 'cpu.shares', ''), '2');
  if (cgroupMode() !== 'v2') assert.equal(await readCg('cpu', path.posix.join(cgRoot, 'besteffort'), 'cpu.shares', ''), '2');

  // Deleted: the pod cgroups go from every hierarchy.
  const r = await kubectl(['delete', 'pod', 'guaranteed', 'burstable', '--wait=true', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  for (const cg of [g, b]) for (const ctl of ['memory', 'cpu', 'cpuacct', 'pids', 'cpuset', 'blkio', 'devices', 'freezer', 'systemd', 'unified']) assert.equal(await exists(cgDir(ctl, cg)), false, `${ctl} ${cg}`);
  assert.ok(await exists(cgDir('memory', be)), 'the other pod\'s cgroup stays');

  // A pod cgroup no pod owns (a crash between a pod's removal and its cgroup's) goes at the next start.
  const orphan = path.posix.join(cgRoot, 'burstable', 'pod00000000-0000-0000-0000-00000000dead');
  await fs.mkdir(cgDir('memory', orphan), { recursive: true });
  proc!.kill('SIGTERM');
  await new Promise((res) => proc!.once('exit', res));
  proc = await skiffUp(root, NODE, { SKIFF_POD_CIDR: NETWORK.subnet });
  await until('the orphan pod cgroup removed', async () => !(await exists(cgDir('memory', orphan))));
  await waitReady('besteffort');
  assert.ok(await exists(cgDir('memory', be)), 'a live pod keeps its cgroup across the restart');

  // skiff down: nothing of the hierarchy is left.
  const down = await skiff(root, ['down']);
  assert.equal(down.code, 0, down.stderr);
  proc = undefined;
  for (const ctl of ['memory', 'cpu', 'pids', 'cpuset', 'unified']) assert.equal(await exists(cgDir(ctl, cgRoot)), false, `${ctl} ${cgRoot} after skiff down`);
});
