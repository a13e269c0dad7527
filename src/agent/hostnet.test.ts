/**
 * Unit tests of the pure parts of hostNetwork, hostPort and pod cgroups in the agent: a
 * pod's sandbox networking (host namespaces, portMappings for portmap, the /etc/hosts
 * header), its containers' namespace options, the pod cgroup's limits as the kubelet's
 * ResourceConfigForPod and the QoS layout (against stand-in cgroup operations), and the status'
 * podIP of a host-network pod; in the engine, the OCI spec of host namespaces and a cgroup
 * parent, and the cgroup files written for limits on v1 and v2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sandboxNetwork, HOSTS_HEADER, HOSTS_HEADER_HOST_NETWORK } from './runtime.js';
import { namespaceOptions } from './spec.js';
import { PodCgroups, cpuQuota, podCgroupLimits, podCgroupRoot, podTotal, type CgroupOps } from './cgroups.js';
import { podStatus } from './status.js';
import { buildSpec } from '../engine/container/spec.js';
import { cgroupsPath, limitFiles, sharesToWeight, type CgroupLimits } from '../engine/container/cgroups.js';
import { hostHostsFile, parseResolvConf } from '../engine/network/files.js';
import type { SandboxRecord } from '../engine/network/sandbox.js';

const pod = (spec: any, uid = 'u1'): any => ({ metadata: { name: 'p', namespace: 'ns', uid }, spec });
const c = (name: string, resources: any = {}, extra: any = {}) => ({ name, image: 'i', resources, ...extra });
const lim = (cpu?: string, memory?: string) => ({ limits: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } });
const both = (cpu: string, memory: string) => ({ limits: { cpu, memory }, requests: { cpu, memory } });
const MiB = 2 ** 20;

test('sandbox networking: host namespaces, host ports as portMappings, the kubelet\'s hosts header', () => {
  const ports = (...ps: any[]) => [c('a', {}, { ports: ps })];
  const cases: [string, any, any][] = [
    ['no host port', { containers: ports({ containerPort: 80 }) }, { hostsHeader: HOSTS_HEADER }],
    ['TCP and UDP host ports, protocol lower-cased, hostIP kept (0.0.0.0 dropped)',
      { containers: ports({ containerPort: 80, hostPort: 8080, protocol: 'TCP' }, { containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '127.0.0.1' }, { containerPort: 81, hostPort: 8081, hostIP: '0.0.0.0' }) },
      { ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' }, { hostPort: 8081, containerPort: 81, protocol: 'tcp' }], hostsHeader: HOSTS_HEADER }],
    ['SCTP is left out; init containers count; the same mapping once',
      { initContainers: ports({ containerPort: 9, hostPort: 9, protocol: 'SCTP' }, { containerPort: 7, hostPort: 7 }), containers: ports({ containerPort: 7, hostPort: 7 }) },
      { ports: [{ hostPort: 7, containerPort: 7, protocol: 'tcp' }], hostsHeader: HOSTS_HEADER }],
    ['hostNetwork: the host\'s network, no mappings', { hostNetwork: true, containers: ports({ containerPort: 80, hostPort: 80 }) }, { host: { network: true }, hostsHeader: HOSTS_HEADER_HOST_NETWORK }],
    ['hostIPC alone', { hostIPC: true, containers: ports() }, { host: { ipc: true }, hostsHeader: HOSTS_HEADER }],
  ];
  for (const [what, spec, want] of cases) assert.deepEqual(sandboxNetwork(pod(spec)), want, what);
});

test('container namespaces: the sandbox\'s pins, or the host\'s for hostNetwork, hostIPC, hostPID', () => {
  const sb = (ns: any) => ({ namespaces: ns } as SandboxRecord);
  const all = { net: '/r/net', ipc: '/r/ipc', uts: '/r/uts' };
  assert.deepEqual(namespaceOptions(pod({}), sb(all)), { join: { network: '/r/net', ipc: '/r/ipc', uts: '/r/uts' } });
  assert.deepEqual(namespaceOptions(pod({ hostNetwork: true }), sb({ ipc: '/r/ipc' })), { join: { ipc: '/r/ipc' }, network: 'host', uts: 'host' });
  assert.deepEqual(namespaceOptions(pod({ hostNetwork: true, hostIPC: true, hostPID: true }), sb({})), { join: {}, network: 'host', uts: 'host', ipc: 'host', pid: 'host' });
  assert.deepEqual(namespaceOptions(pod({ hostPID: true }), sb(all)), { join: { network: '/r/net', ipc: '/r/ipc', uts: '/r/uts' }, pid: 'host' });
});

test('the OCI spec: host namespaces are left out (hostname untouched, host /dev/shm); the cgroup parent', () => {
  const ctx = { id: 'abc', rootfs: '/r', hostname: 'h', image: { config: { Cmd: ['sh'] } } as any, user: { uid: 0, gid: 0, additionalGids: [] }, nofile: 1024 };
  const spec: any = buildSpec({ image: 'i', network: 'host', uts: 'host', ipc: 'host', pid: 'host', join: {}, cgroupParent: '/skiff/kubepods-1/pod9' }, ctx);
  assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }]);
  assert.equal(spec.hostname, undefined);
  assert.equal(spec.linux.cgroupsPath, '/skiff/kubepods-1/pod9/abc');
  assert.deepEqual(spec.mounts.find((m: any) => m.destination === '/dev/shm'), { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] });
  const own: any = buildSpec({ image: 'i', join: { network: '/n', ipc: '/i', uts: '/u' } }, ctx);
  assert.deepEqual(own.linux.namespaces, [{ type: 'pid' }, { type: 'ipc', path: '/i' }, { type: 'uts', path: '/u' }, { type: 'mount' }, { type: 'network', path: '/n' }]);
  assert.equal(own.linux.cgroupsPath, '/skiff/abc', 'the default parent');
  assert.equal(own.mounts.find((m: any) => m.destination === '/dev/shm').type, 'tmpfs');
  assert.equal(cgroupsPath('x', 'a/b'), '/a/b/x');
});

test('pod cgroup limits as ResourceConfigForPod: shares from requests, quota and memory summed when every container has them', () => {
  const cases: [string, any, CgroupLimits][] = [
    ['BestEffort: shares 2 only', { containers: [c('a'), c('b')] }, { cpuShares: 2 }],
    ['Guaranteed: sums of two containers', { containers: [c('a', both('200m', '32Mi')), c('b', both('300m', '48Mi'))] },
      { cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, memory: 80 * MiB }],
    ['Burstable, every container limited: quota and memory', { containers: [c('a', lim('1', '64Mi')), c('b', { ...lim('500m', '16Mi'), requests: { cpu: '100m' } })] },
      { cpuShares: 1126, cpuQuota: 150_000, cpuPeriod: 100_000, memory: 80 * MiB }],
    ['Burstable, one container unlimited: shares only', { containers: [c('a', { requests: { cpu: '250m' }, limits: { memory: '64Mi' } }), c('b')] }, { cpuShares: 256 }],
    ['an init container larger than the app containers sets the pod\'s amounts', { initContainers: [c('i', both('2', '256Mi'))], containers: [c('a', both('500m', '64Mi'))] },
      { cpuShares: 2048, cpuQuota: 200_000, cpuPeriod: 100_000, memory: 256 * MiB }],
    ['a sidecar adds to the app containers', { initContainers: [c('s', both('100m', '8Mi'), { restartPolicy: 'Always' })], containers: [c('a', both('100m', '8Mi'))] },
      { cpuShares: 204, cpuQuota: 20_000, cpuPeriod: 100_000, memory: 16 * MiB }],
    ['the overhead is added', { overhead: { cpu: '100m', memory: '10Mi' }, containers: [c('a', both('100m', '10Mi'))] },
      { cpuShares: 204, cpuQuota: 20_000, cpuPeriod: 100_000, memory: 20 * MiB }],
  ];
  for (const [what, spec, want] of cases) assert.deepEqual(podCgroupLimits(pod(spec)), want, what);
  assert.equal(cpuQuota(0), 0);
  assert.equal(cpuQuota(5), 1000, 'at least 1 ms');
  assert.equal(podTotal(pod({ initContainers: [c('i')], containers: [c('a'), c('b')] }), () => 1), 2);
});

test('pod cgroups: QoS layout, removal, orphans', async () => {
  const made = new Map<string, CgroupLimits | undefined>();
  const ops: CgroupOps = {
    ensure: async (cg, l) => { made.set(cg, l); },
    removeTree: async (cg) => { for (const k of [...made.keys()]) if (k === cg || k.startsWith(cg + '/')) made.delete(k); return true; },
    children: async (cg) => [...new Set([...made.keys()].filter((k) => k.startsWith(cg + '/')).map((k) => k.slice(cg.length + 1).split('/')[0]))],
  };
  const root = podCgroupRoot('/var/lib/skiff');
  assert.match(root, /^\/skiff\/kubepods-[0-9a-f]{8}$/);
  assert.notEqual(podCgroupRoot('/var/lib/other'), root, 'another data root, another hierarchy');
  const m = new PodCgroups(root, ops);
  assert.equal(await m.ensure(pod({ containers: [c('a', both('1', '1Gi'))] }, 'g')), `${root}/podg`);
  assert.equal(await m.ensure(pod({ containers: [c('a', lim(undefined, '1Gi'))] }, 'b')), `${root}/burstable/podb`);
  assert.equal(await m.ensure(pod({ containers: [c('a')] }, 'e')), `${root}/besteffort/pode`);
  assert.deepEqual(made.get(`${root}/besteffort`), { cpuShares: 2 });
  assert.deepEqual(made.get(`${root}/podg`), { cpuShares: 1024, cpuQuota: 100_000, cpuPeriod: 100_000, memory: 2 ** 30 });
  assert.deepEqual([...(await m.list()).entries()].sort(), [['b', `${root}/burstable/podb`], ['e', `${root}/besteffort/pode`], ['g', `${root}/podg`]]);
  assert.deepEqual(await m.removeOrphans(new Set(['e'])), ['g', 'b']);
  assert.deepEqual([...(await m.list()).keys()], ['e']);
  assert.equal(await m.remove('e'), true);
  assert.deepEqual([...made.keys()].sort(), [root, `${root}/besteffort`, `${root}/burstable`]);
});

test('cgroup limit files on v1 and v2 (runc\'s shares-to-weight conversion)', () => {
  assert.deepEqual(limitFiles('v1', '/x', { memory: 1024, cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000 }), [
    ['memory/x', 'memory.limit_in_bytes', '1024'], ['cpu/x', 'cpu.shares', '512'], ['cpu/x', 'cpu.cfs_period_us', '100000'], ['cpu/x', 'cpu.cfs_quota_us', '50000']]);
  assert.deepEqual(limitFiles('v1', '/x', {}), [['memory/x', 'memory.limit_in_bytes', '-1'], ['cpu/x', 'cpu.cfs_period_us', '100000'], ['cpu/x', 'cpu.cfs_quota_us', '-1']]);
  assert.deepEqual(limitFiles('v2', '/x', { memory: 1024, cpuShares: 1024, cpuQuota: 50_000 }), [['/x', 'memory.max', '1024'], ['/x', 'cpu.weight', '39'], ['/x', 'cpu.max', '50000 100000']]);
  assert.deepEqual(limitFiles('v2', '/x', { cpuShares: 2 }), [['/x', 'memory.max', 'max'], ['/x', 'cpu.weight', '1'], ['/x', 'cpu.max', 'max 100000']]);
  assert.equal(sharesToWeight(262144), 10000);
});

test('a host-network pod\'s status has the node\'s IP; its files', () => {
  const base = { containers: [], waiting: new Map(), hostIP: '192.0.2.7', now: 0 };
  const sandbox = { state: 'ready', namespaces: {}, host: { network: true } } as unknown as SandboxRecord;
  const s = podStatus({ ...base, pod: pod({ hostNetwork: true, containers: [c('a')] }), sandbox });
  assert.equal(s.podIP, '192.0.2.7');
  assert.deepEqual(s.podIPs, [{ ip: '192.0.2.7' }]);
  const own = podStatus({ ...base, pod: pod({ containers: [c('a')] }), sandbox: { ...sandbox, ip: '10.1.0.5' } as SandboxRecord });
  assert.equal(own.podIP, '10.1.0.5');
  assert.equal(hostHostsFile('127.0.0.1 localhost\n10.0.0.1 vm', ['1.2.3.4\tx']), '127.0.0.1 localhost\n10.0.0.1 vm\n1.2.3.4\tx\n');
  assert.deepEqual(parseResolvConf('nameserver 127.0.0.53\nnameserver 10.0.0.2\n').servers, ['10.0.0.2']);
  assert.deepEqual(parseResolvConf('nameserver 127.0.0.53\nnameserver 10.0.0.2\n', { keepLoopback: true }).servers, ['127.0.0.53', '10.0.0.2']);
});
