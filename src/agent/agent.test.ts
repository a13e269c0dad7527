/**
 * Unit tests of the node agent's logic, table-driven: $(VAR) expansion, command/args over
 * Entrypoint/Cmd, env sources, users and runAsNonRoot, pull policies and docker config
 * credentials, the restart back-off, pod phase and container status, node conditions and
 * allocatable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, containerEnv, ConfigError, type EnvSources } from './env.js';
import { commandOf, cpuShares, userOf, checkNonRoot, seccompOf } from './spec.js';
import { commandFor } from '../engine/container/spec.js';
import { pullPolicy, credentialsFromDockerConfig } from './images.js';
import { Backoff } from './backoff.js';
import { podPhase, podStatus, qosClass } from './status.js';
import { goDuration } from './worker.js';
import { nodeConditions, nodeResources, conditionEventReason } from './node.js';
import { osImage, parseMeminfo } from './machine.js';
import { containerName, sandboxName } from './labels.js';
import type { ContainerRecord } from '../engine/container/state.js';

test('$(VAR) expansion follows Kubernetes: known names replaced, unknown kept, $$ escapes', () => {
  const vars: Record<string, string> = { A: 'x', B: 'y', EMPTY: '' };
  const cases: [string, string][] = [
    ['$(A)', 'x'], ['$(A)-$(B)', 'x-y'], ['$(C)', '$(C)'], ['$$(A)', '$(A)'], ['$$', '$'], ['a$b', 'a$b'],
    ['$(A', '$(A'], ['$(EMPTY)z', 'z'], ['$', '$'], ['$$$(A)', '$x'], ['plain', 'plain'],
  ];
  for (const [input, want] of cases) assert.equal(expand(input, (n) => vars[n]), want, input);
});

test('command and args combine with the image Entrypoint and Cmd as Kubernetes does', () => {
  const image = { config: { Entrypoint: ['/ep'], Cmd: ['cmd-arg'] } } as any;
  const cases: [any, string[]][] = [
    [{}, ['/ep', 'cmd-arg']],
    [{ command: ['/bin/x'] }, ['/bin/x']],
    [{ args: ['a1'] }, ['/ep', 'a1']],
    [{ command: ['/bin/x'], args: ['a1'] }, ['/bin/x', 'a1']],
    [{ command: [], args: [] }, ['/ep', 'cmd-arg']],
  ];
  for (const [c, want] of cases) assert.deepEqual(commandFor(image, { image: 'i', ...commandOf(c, []) }), want, JSON.stringify(c));
  assert.deepEqual(commandOf({ command: ['echo', '$(X)', '$$(X)'] }, ['X=1']), { entrypoint: ['echo', '1', '$(X)'] });
});

test('env: envFrom then env, fieldRef, configMap and secret keys, optional sources, kubelet messages', async () => {
  const src: EnvSources = {
    configMap: async (_ns, n) => (n === 'cm' ? { metadata: { name: 'cm' }, data: { a: '1', 'bad key': 'x', b: '2' } } : undefined),
    secret: async (_ns, n) => (n === 's' ? { metadata: { name: 's' }, data: { pw: Buffer.from('hunter2').toString('base64') } } : undefined),
  };
  const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'web' } }, spec: { nodeName: 'n1', containers: [] } };
  const env = await containerEnv(pod, {
    envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }],
    env: [
      { name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'pw' } } },
      { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'none', key: 'k', optional: true } } },
      { name: 'MIX', value: '$(CM_a)/$(PW)' },
    ],
    resources: { limits: { memory: '64Mi' } },
  }, src, { podIP: '10.1.2.3' });
  assert.deepEqual(env, ['CM_a=1', 'CM_b=2', 'PW=hunter2', 'UID=u1', 'APP=web', 'IP=10.1.2.3', 'MEM=64', 'MIX=1/hunter2']);
  const errors: [any, RegExp][] = [
    [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'none', key: 'k' } } }] }, /^configmap "none" not found$/],
    [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }] }, /^couldn't find key k in ConfigMap ns\/cm$/],
    [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }] }, /^secret "nope" not found$/],
    [{ envFrom: [{ secretRef: { name: 'nope' } }] }, /^secret "nope" not found$/],
  ];
  for (const [c, re] of errors) await assert.rejects(containerEnv(pod, c, src, {}), (e) => e instanceof ConfigError && re.test((e as Error).message));
});

test('users: runAsUser/runAsGroup from pod and container (container wins); runAsNonRoot refuses root', () => {
  const img = (User?: string) => ({ config: { User } }) as any;
  const cases: [any, any, string | undefined, { user?: string; uid?: number }][] = [
    [{}, {}, undefined, { user: undefined, uid: 0 }],
    [{}, {}, 'nobody', { user: 'nobody', uid: undefined }],
    [{}, {}, '1000:1000', { user: '1000:1000', uid: 1000 }],
    [{ runAsUser: 1000 }, {}, undefined, { user: '1000', uid: 1000 }],
    [{ runAsUser: 1000 }, { runAsUser: 2000, runAsGroup: 3000 }, 'root', { user: '2000:3000', uid: 2000 }],
    [{ runAsGroup: 5 }, {}, 'nobody', { user: 'nobody:5', uid: undefined }],
  ];
  for (const [psc, sc, user, want] of cases) {
    assert.deepEqual(userOf({ metadata: {}, spec: { securityContext: psc } }, { securityContext: sc }, img(user)), want, JSON.stringify([psc, sc, user]));
  }
  const pod = { metadata: {}, spec: { securityContext: { runAsNonRoot: true } } };
  assert.throws(() => checkNonRoot(pod, {}, { uid: 0 }), /container has runAsNonRoot and image will run as root/);
  assert.throws(() => checkNonRoot(pod, {}, { user: 'app', uid: undefined }), /image has non-numeric user \(app\), cannot verify user is non-root/);
  assert.doesNotThrow(() => checkNonRoot(pod, {}, { uid: 1000 }));
  assert.doesNotThrow(() => checkNonRoot({ metadata: {}, spec: {} }, {}, { uid: 0 }));
});

test('resources and seccomp as the kubelet converts them', () => {
  assert.deepEqual([0, 1, 100, 250, 1000, 2500].map(cpuShares), [2, 2, 102, 256, 1024, 2560]);
  assert.equal(seccompOf(undefined), 'unconfined');
  assert.equal(seccompOf({ type: 'RuntimeDefault' }), 'default');
  assert.equal(seccompOf({ type: 'Localhost', localhostProfile: '/p.json' }), '/p.json');
});

test('pull policy defaults by tag; docker config credentials by host', () => {
  const cases: [any, string][] = [
    [{ image: 'busybox' }, 'Always'], [{ image: 'busybox:latest' }, 'Always'], [{ image: 'busybox:1.36' }, 'IfNotPresent'],
    [{ image: 'reg:5000/app' }, 'Always'], [{ image: 'reg:5000/app:v1' }, 'IfNotPresent'],
    [{ image: 'busybox@sha256:' + 'a'.repeat(64) }, 'IfNotPresent'], [{ image: 'busybox', imagePullPolicy: 'Never' }, 'Never'],
  ];
  for (const [c, want] of cases) assert.equal(pullPolicy(c), want, c.image);
  const cfg = { auths: { 'https://127.0.0.1:5000': { auth: Buffer.from('u:p').toString('base64') }, 'other:1': { username: 'a', password: 'b' } } };
  assert.deepEqual(credentialsFromDockerConfig(cfg, '127.0.0.1:5000'), { username: 'u', password: 'p' });
  assert.deepEqual(credentialsFromDockerConfig(cfg, 'other:1'), { username: 'a', password: 'b' });
  assert.equal(credentialsFromDockerConfig(cfg, 'nowhere'), undefined);
});

test('restart back-off: immediate first restart, then 10 s doubling to 5 min; a long run or a long quiet resets it', () => {
  const b = new Backoff();
  let now = 0;
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    const c = b.check('k', now);
    if (!c.ok) { now += c.waitMs; assert.equal(b.check('k', now).ok, true); }
    delays.push(b.next('k', now));
    now += 1000;
  }
  assert.deepEqual(delays.map((d) => d / 1000), [10, 20, 40, 80, 160, 300, 300, 300]);
  assert.equal(b.check('k', now, 600_000).ok, true, 'a 10 min run resets');
  assert.equal(b.delay('k'), 0);
  b.next('k', 0);
  assert.equal(b.check('k', 5000).ok, false);
  assert.equal(b.check('k', 700_000).ok, true, 'twice the cap without failures resets');
  assert.deepEqual([10_000, 80_000, 160_000, 300_000].map(goDuration), ['10s', '1m20s', '2m40s', '5m0s']);
});

const run = { state: { running: {} }, ready: true, started: true };
const ok = { state: { terminated: { exitCode: 0 } } };
const bad = { state: { terminated: { exitCode: 1 } } };
const wait = { state: { waiting: {} }, lastState: {} };
const crashLoop = { state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } };

test('pod phase as the kubelet computes it', () => {
  const cases: [string, any, any[], any[], string][] = [
    ['nothing started', { restartPolicy: 'Always' }, [], [wait], 'Pending'],
    ['running', { restartPolicy: 'Always' }, [], [run], 'Running'],
    ['one running one waiting', { restartPolicy: 'Always' }, [], [run, wait], 'Pending'],
    ['crash loop under Always', { restartPolicy: 'Always' }, [], [crashLoop], 'Running'],
    ['all exited 0, Never', { restartPolicy: 'Never' }, [], [ok, ok], 'Succeeded'],
    ['one failed, Never', { restartPolicy: 'Never' }, [], [ok, bad], 'Failed'],
    ['one failed, OnFailure', { restartPolicy: 'OnFailure' }, [], [bad], 'Running'],
    ['all exited 0, OnFailure', { restartPolicy: 'OnFailure' }, [], [ok], 'Succeeded'],
    ['exited under Always', { restartPolicy: 'Always' }, [], [ok], 'Running'],
    ['init running', { restartPolicy: 'Always', initContainers: [{}] }, [run], [wait], 'Pending'],
    ['init failed, Never', { restartPolicy: 'Never', initContainers: [{}] }, [bad], [wait], 'Failed'],
    ['init failed, Always', { restartPolicy: 'Always', initContainers: [{}] }, [crashLoop], [wait], 'Pending'],
    ['init done', { restartPolicy: 'Always', initContainers: [{}] }, [ok], [run], 'Running'],
    ['sidecar started', { restartPolicy: 'Never', initContainers: [{ restartPolicy: 'Always' }] }, [run], [run], 'Running'],
  ];
  for (const [what, spec, init, app, want] of cases) assert.equal(podPhase(spec, init, app), want, what);
});

function rec(id: string, name: string, attempt: number, status: 'running' | 'exited', exitCode?: number, kind = 'app'): any {
  const r = {
    id, name: id, image: 'i', imageId: 'sha256:cfg', command: [], status, createdAt: `2026-01-01T00:00:0${attempt}Z`, runtime: 'runc', lowerDirs: [],
    startedAt: '2026-01-01T00:00:00Z', finishedAt: status === 'exited' ? '2026-01-01T00:00:01Z' : undefined, exitCode,
    options: { image: 'i', labels: { 'io.kubernetes.container.name': name, 'io.kubernetes.pod.uid': 'u' } },
  } as unknown as ContainerRecord;
  return { rec: r, name, attempt, kind };
}

test('pod status: states, lastState, restartCount, conditions and reasons', () => {
  const pod = {
    metadata: { name: 'p', namespace: 'ns', uid: 'u' },
    spec: { restartPolicy: 'Always', initContainers: [{ name: 'init', image: 'i' }], containers: [{ name: 'a', image: 'i' }, { name: 'b', image: 'i' }] },
    status: {},
  };
  const sandbox: any = { state: 'ready', ip: '10.0.0.5' };
  const s = podStatus({
    pod, sandbox, hostIP: '192.0.2.2', now: 0,
    containers: [rec('i0', 'init', 0, 'exited', 0, 'init'), rec('a0', 'a', 0, 'exited', 1), rec('a1', 'a', 1, 'exited', 2), rec('b0', 'b', 0, 'running')],
    waiting: new Map([['a', { reason: 'CrashLoopBackOff', message: 'back-off 10s' }]]),
  });
  assert.equal(s.phase, 'Running');
  assert.equal(s.podIP, '10.0.0.5');
  assert.deepEqual(s.initContainerStatuses[0].state.terminated.reason, 'Completed');
  assert.equal(s.initContainerStatuses[0].ready, true);
  const [a, b] = s.containerStatuses;
  assert.deepEqual(a.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } });
  assert.equal(a.lastState.terminated.exitCode, 2);
  assert.equal(a.restartCount, 1);
  assert.equal(a.ready, false);
  assert.equal(b.ready, true);
  assert.equal(b.containerID, 'skiff://b0');
  const conds = Object.fromEntries(s.conditions.map((c: any) => [c.type, c]));
  assert.equal(conds.Initialized.status, 'True');
  assert.equal(conds.Ready.status, 'False');
  assert.equal(conds.Ready.reason, 'ContainersNotReady');
  assert.equal(conds.Ready.message, 'containers with unready status: [a]');
  const pending = podStatus({ pod, sandbox, hostIP: 'h', now: 0, containers: [rec('i0', 'init', 0, 'running', undefined, 'init')], waiting: new Map() });
  assert.equal(pending.phase, 'Pending');
  assert.equal(pending.containerStatuses[0].state.waiting.reason, 'PodInitializing');
  const init = pending.conditions.find((c: any) => c.type === 'Initialized');
  assert.equal(init.message, 'containers with incomplete status: [init]');
});

test('pod status: a pod the agent failed (DeadlineExceeded) is Failed with its reason and message, not ready', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { restartPolicy: 'Always', containers: [{ name: 'a', image: 'i' }] }, status: {} };
  const sandbox: any = { state: 'ready', ip: '10.0.0.5' };
  const containers = [rec('a0', 'a', 0, 'exited', 137)];
  const normal = podStatus({ pod, sandbox, hostIP: 'h', now: 0, containers, waiting: new Map() });
  assert.equal(normal.phase, 'Running', 'restartPolicy Always: an exit alone does not fail the pod');
  assert.equal(normal.reason, undefined);
  const evicted = { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
  const s = podStatus({ pod, sandbox, hostIP: 'h', now: 0, containers, waiting: new Map(), evicted });
  assert.equal(s.phase, 'Failed');
  assert.equal(s.reason, 'DeadlineExceeded');
  assert.equal(s.message, evicted.message);
  const ready = s.conditions.find((c: any) => c.type === 'Ready');
  assert.deepEqual([ready.status, ready.reason], ['False', 'PodCompleted']);
  assert.equal(s.containerStatuses[0].state.terminated.exitCode, 137);
});

test('qos classes', () => {
  const r = (requests: any, limits: any) => ({ resources: { requests, limits } });
  assert.equal(qosClass({ containers: [{}] }), 'BestEffort');
  assert.equal(qosClass({ containers: [r({ cpu: '1', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })] }), 'Guaranteed');
  assert.equal(qosClass({ containers: [r({}, { cpu: '1', memory: '1Gi' })] }), 'Guaranteed');
  assert.equal(qosClass({ containers: [r({ cpu: '1' }, {})] }), 'Burstable');
});

const GiB = 2 ** 30;
const machine = { cpus: 2, memoryTotal: 24 * GiB, memoryAvailable: 20 * GiB, fsTotal: 100 * GiB, fsAvailable: 50 * GiB, inodesTotal: 1000, inodesFree: 900, pids: 500, pidMax: 32768 };

test('node conditions follow the kubelet\'s hard eviction thresholds', () => {
  const status = (m: Partial<typeof machine>, rt = { ok: true }) => Object.fromEntries(nodeConditions({ ...machine, ...m }, rt).map((c) => [c.type, `${c.status}/${c.reason}`]));
  assert.deepEqual(status({}), { MemoryPressure: 'False/KubeletHasSufficientMemory', DiskPressure: 'False/KubeletHasNoDiskPressure', PIDPressure: 'False/KubeletHasSufficientPID', Ready: 'True/KubeletReady' });
  assert.equal(status({ memoryAvailable: 99 * 2 ** 20 }).MemoryPressure, 'True/KubeletHasInsufficientMemory');
  assert.equal(status({ fsAvailable: 14 * GiB }).DiskPressure, 'True/KubeletHasDiskPressure', 'imagefs.available<15% (same filesystem)');
  assert.equal(status({ inodesFree: 40 }).DiskPressure, 'True/KubeletHasDiskPressure');
  assert.equal(status({ pids: 30000 }).PIDPressure, 'True/KubeletHasInsufficientPID');
  assert.equal(status({}, { ok: false }).Ready, 'False/KubeletNotReady');
  assert.deepEqual(nodeConditions({ ...machine, memoryAvailable: 0 }, { ok: false }).map(conditionEventReason),
    ['NodeHasInsufficientMemory', 'NodeHasNoDiskPressure', 'NodeHasSufficientPID', 'NodeNotReady']);
  const { capacity, allocatable } = nodeResources(machine);
  assert.equal(capacity.cpu, '2');
  assert.equal(capacity.memory, `${24 * 1024 * 1024}Ki`);
  assert.equal(allocatable.memory, `${24 * 1024 * 1024 - 100 * 1024}Ki`);
  assert.equal(allocatable['ephemeral-storage'], String(Math.floor(100 * GiB * 0.9)));
  assert.equal(capacity.pods, '110');
});

test('machine readers and names', () => {
  assert.deepEqual(parseMeminfo('MemTotal:       1024 kB\nMemAvailable:    512 kB\nHugePages_Total:       0\n'), { MemTotal: 1024 * 1024, MemAvailable: 512 * 1024, HugePages_Total: 0 });
  assert.equal(osImage('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'), 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(osImage('PRETTY_NAME=Alpine\n'), 'Alpine');
  assert.equal(containerName({ uid: 'u-1', name: 'web', namespace: 'default' }, 'app', 3), 'k8s_app_web_default_u-1_3');
  const long = sandboxName({ uid: '0123456789abcdef0123456789abcdef0123', name: 'x'.repeat(200), namespace: 'ns' });
  assert.ok(long.length <= 128 && long.endsWith('_0123456789abcdef0123456789abcdef0123'));
});
