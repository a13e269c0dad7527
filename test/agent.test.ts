/**
 * The node agent end to end on this machine: a real API server, a NodeAgent running real
 * containers (runc + conmon) in real pod sandboxes (CNI bridge), the busybox image built
 * locally, pods created with spec.nodeName set (no scheduler), real kubectl 1.33. Every
 * container, sandbox and veth made is counted and must be gone at the end.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { NodeAgent } from '../src/agent/agent.js';
import { L } from '../src/agent/labels.js';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { ensureBusyboxImage } from './helpers/images.js';
import { countLeaks, settledLeaks, type LeakCounts } from './helpers/containers.js';
import { until } from './helpers/cluster.js';
import { startRegistry } from './helpers/registry.js';
import { push } from '../src/engine/image/registry/push.js';
import { dropBridge } from './network-helpers.js';

const exec = promisify(execFile);
const NODE = 'agent-node';
// A network of its own, so this test never shares IPs or a bridge with another data root.
const NETWORK = { name: 'skiff-agent-test', bridge: 'skiffag0', subnet: '10.94.0.0/16' };
const IMAGE = 'busybox:1.36';

let server: TestServer;
let client: ApiClient;
let root: string;
let agent: NodeAgent;
let baseline: LeakCounts;

function newAgent(): NodeAgent {
  return new NodeAgent({ client, nodeName: NODE, root, network: NETWORK, log: (m) => process.env.AGENT_DEBUG && console.error(m) });
}

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  root = await fs.mkdtemp('/var/tmp/skiff-agent-');
  await ensureBusyboxImage(root, IMAGE);
  baseline = await countLeaks(root);
  agent = newAgent();
  await agent.start();
});

after(async () => {
  await agent?.stop();
  // Whatever a failed test left: removed through the engine, so nothing stays mounted.
  if (root) {
    for (const c of await agent.engine.list()) await agent.engine.remove(c.id, { force: true }).catch(() => {});
    for (const s of await agent.sandboxes.list()) await agent.sandboxes.remove(s.id, { force: true }).catch(() => {});
    await agent.cgroups?.removeAll();
    await dropBridge(NETWORK.bridge, NETWORK.subnet);
    await fs.rm(root, { recursive: true, force: true });
  }
  client?.close();
  await server?.stop();
});

/** A pod bound to the agent's node. */
function pod(name: string, spec: Record<string, unknown>): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 5, ...spec } };
}

/** A long-running busybox container that exits at once on SIGTERM. */
const sleeper = (name: string, extra: Record<string, unknown> = {}) => ({
  name, image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'], ...extra,
});

const getPod = (name: string) => client.get(R.pods, 'default', name);

async function deleteAndWait(name: string): Promise<void> {
  await client.delete(R.pods, 'default', name).catch(() => {});
  await until(`pod ${name} gone`, async () => getPod(name).then(() => false, (e) => e.code === 404), 60_000);
}

async function logOf(containerId: string): Promise<string> {
  const rec = await agent.engine.resolve(containerId);
  return fs.readFile(agent.engine.logPath(rec), 'utf8').catch(() => '');
}

test('the node registers with real capacity, nodeInfo, Ready conditions and a Lease; kubectl shows it Ready', async () => {
  const node = await client.get(R.nodes, undefined, NODE);
  const s = node.status;
  assert.equal(s.capacity.cpu, String(os.cpus().length));
  assert.equal(s.capacity.pods, '110');
  const memKi = Number(/^(\d+)Ki$/.exec(s.capacity.memory)?.[1]);
  assert.ok(Math.abs(memKi * 1024 - os.totalmem()) < 64 * 2 ** 20, `memory ${s.capacity.memory} vs ${os.totalmem()}`);
  assert.ok(Number(/^(\d+)Ki$/.exec(s.allocatable.memory)?.[1]) === memKi - 100 * 1024, 'allocatable memory = capacity - 100Mi');
  assert.match(s.capacity['ephemeral-storage'], /^\d+Ki$/);
  assert.match(s.nodeInfo.containerRuntimeVersion, /^skiff:\/\/0\.1\.0 \((runc|crun) [\d.]+/);
  assert.equal(s.nodeInfo.kernelVersion, os.release());
  assert.match(s.nodeInfo.osImage, /Debian|Linux/);
  assert.deepEqual(s.addresses.map((a: any) => a.type), ['InternalIP', 'Hostname']);
  const byType = Object.fromEntries(s.conditions.map((c: any) => [c.type, c]));
  assert.equal(byType.Ready.status, 'True');
  assert.equal(byType.Ready.reason, 'KubeletReady');
  for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) assert.equal(byType[t].status, 'False', t);
  const lease = await client.get(R.leases, 'kube-node-lease', NODE);
  assert.equal(lease.spec.holderIdentity, NODE);
  assert.equal(lease.metadata.ownerReferences?.[0]?.kind, 'Node');
  const events = await until('node events', async () => {
    const evs = (await client.list(R.events, 'default')).items.filter((e: any) => e.involvedObject.kind === 'Node' && e.involvedObject.name === NODE);
    return evs.some((e: any) => e.reason === 'NodeReady') && evs;
  });
  const reasons = events.map((e: any) => e.reason);
  for (const r of ['Starting', 'NodeHasSufficientMemory', 'NodeHasNoDiskPressure', 'NodeHasSufficientPID', 'NodeReady']) assert.ok(reasons.includes(r), `${r} in ${reasons}`);
  assert.ok(events.some((e: any) => e.message === `Node ${NODE} status is now: NodeReady` && e.source.component === 'kubelet'));
  const out = await server.kubectl('1.33', ['get', 'nodes', NODE, '--no-headers']);
  assert.match(out.stdout, new RegExp(`^${NODE}\\s+Ready\\s`), out.stderr);
});

test('a pod with an init container and an env var from a ConfigMap runs: init Completed, app Running, env and hostname as Kubernetes gives them; kubectl -o wide shows the IP', async () => {
  await client.create(R.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'greeting' }, data: { text: 'hello-from-configmap' } });
  await client.create(R.pods, 'default', pod('web', {
    terminationGracePeriodSeconds: 30,
    initContainers: [{ name: 'prepare', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo init done'] }],
    containers: [sleeper('app', {
      command: ['sh', '-c', 'echo "greeting=$GREETING name=$POD_NAME ns=$POD_NS ip=$POD_IP node=$NODE host=$(hostname) both=$BOTH"; trap "exit 0" TERM; while true; do sleep 0.2; done'],
      env: [
        { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'greeting', key: 'text' } } },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'BOTH', value: '$(POD_NAME)-$(GREETING)-$$(KEPT)' },
      ],
      resources: { limits: { memory: '64Mi', cpu: '500m' }, requests: { memory: '64Mi', cpu: '500m' } },
    })],
  }));
  const p = await until('web Running', async () => {
    const x = await getPod('web');
    return x.status?.phase === 'Running' && x.status.containerStatuses?.[0]?.state?.running ? x : undefined;
  }, 60_000);
  const init = p.status.initContainerStatuses[0];
  assert.equal(init.state.terminated.reason, 'Completed');
  assert.equal(init.state.terminated.exitCode, 0);
  const app = p.status.containerStatuses[0];
  assert.equal(app.ready, true);
  assert.equal(app.started, true);
  assert.equal(app.restartCount, 0);
  assert.match(app.containerID, /^skiff:\/\/[0-9a-f]{64}$/);
  assert.equal(app.image, 'docker.io/library/busybox:1.36');
  assert.match(app.imageID, /^docker\.io\/library\/busybox@sha256:[0-9a-f]{64}$/);
  assert.match(p.status.podIP, /^10\.94\.\d+\.\d+$/);
  assert.deepEqual(p.status.podIPs, [{ ip: p.status.podIP }]);
  assert.ok(p.status.hostIP);
  assert.ok(p.status.startTime);
  // The init container has no resources, so the pod is not Guaranteed (Kubernetes counts init containers).
  assert.equal(p.status.qosClass, 'Burstable');
  const conds = Object.fromEntries(p.status.conditions.map((c: any) => [c.type, c.status]));
  assert.deepEqual(conds, { PodReadyToStartContainers: 'True', Initialized: 'True', Ready: 'True', ContainersReady: 'True', PodScheduled: 'True' });

  const id = app.containerID.slice('skiff://'.length);
  const log = await until('app log', async () => (await logOf(id)).includes('greeting=') && logOf(id), 10_000);
  assert.match(log as string, new RegExp(`greeting=hello-from-configmap name=web ns=default ip=${p.status.podIP.replace(/\./g, '\\.')} node=${NODE} host=web both=web-hello-from-configmap-\\$\\(KEPT\\)`));
  const rec = await agent.engine.resolve(id);
  assert.equal(rec.options.memory, 64 * 2 ** 20, 'limits.memory reaches the engine');
  assert.equal(rec.options.cpus, 0.5);
  assert.equal(rec.options.cpuShares, 512);
  assert.equal(rec.options.labels?.[L.podUid], p.metadata.uid);

  const wide = await server.kubectl('1.33', ['get', 'pod', 'web', '-o', 'wide', '--no-headers']);
  assert.match(wide.stdout, new RegExp(`^web\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${p.status.podIP.replace(/\./g, '\\.')}\\s+${NODE}\\s`), wide.stdout + wide.stderr);

  const events = (await client.list(R.events, 'default')).items.filter((e: any) => e.involvedObject.name === 'web').map((e: any) => e.reason);
  for (const r of ['Pulled', 'Created', 'Started']) assert.ok(events.includes(r), `event ${r} in ${events}`);
});

test('restartPolicy Never: a container exiting 1 makes the pod Failed with exit code 1, reason Error', async () => {
  await client.create(R.pods, 'default', pod('fails', {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'exit 1'] }],
  }));
  const p = await until('fails Failed', async () => {
    const x = await getPod('fails');
    return x.status?.phase === 'Failed' ? x : undefined;
  }, 60_000);
  const t = p.status.containerStatuses[0].state.terminated;
  assert.equal(t.exitCode, 1);
  assert.equal(t.reason, 'Error');
  assert.equal(p.status.containerStatuses[0].restartCount, 0);
  const ready = p.status.conditions.find((c: any) => c.type === 'Ready');
  assert.equal(ready.status, 'False');
  assert.equal(ready.reason, 'PodCompleted');
  // A finished pod's sandbox is stopped (its IP released) and nothing is restarted.
  await until('sandbox stopped', async () => (await agent.sandboxes.list()).some((s) => s.labels[L.podUid] === p.metadata.uid && s.state === 'stopped'));
  const out = await server.kubectl('1.33', ['get', 'pod', 'fails', '--no-headers']);
  assert.match(out.stdout, /^fails\s+0\/1\s+Error\s+0\s/, out.stdout);
});

test('restartPolicy Never: a container over its memory limit is OOMKilled; a command that cannot start is a StartError (exit 128)', async () => {
  await client.create(R.pods, 'default', pod('oom', {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['tail', '/dev/zero'], resources: { limits: { memory: '16Mi' } } }],
  }));
  await client.create(R.pods, 'default', pod('nostart', {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['/no/such/binary'] }],
  }));
  const oom = await until('oom Failed', async () => {
    const x = await getPod('oom');
    return x.status?.phase === 'Failed' ? x : undefined;
  }, 60_000);
  assert.equal(oom.status.containerStatuses[0].state.terminated.reason, 'OOMKilled');
  assert.equal(oom.status.containerStatuses[0].state.terminated.exitCode, 137);
  const ns = await until('nostart Failed', async () => {
    const x = await getPod('nostart');
    return x.status?.phase === 'Failed' ? x : undefined;
  }, 60_000);
  const t = ns.status.containerStatuses[0].state.terminated;
  assert.equal(t.reason, 'StartError');
  assert.equal(t.exitCode, 128);
  assert.match(t.message, /no\/such\/binary/);
  await deleteAndWait('oom');
  await deleteAndWait('nostart');
});

test('securityContext: runAsUser/runAsGroup and readOnlyRootFilesystem reach the container; runAsNonRoot refuses a root image', async () => {
  await client.create(R.pods, 'default', pod('secure', {
    restartPolicy: 'Never',
    securityContext: { runAsUser: 1000, runAsGroup: 2000 },
    containers: [{
      name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      command: ['sh', '-c', 'echo "uid=$(id -u) gid=$(id -g)"; touch /x 2>/dev/null && echo writable || echo readonly'],
    }],
  }));
  await client.create(R.pods, 'default', pod('rootless', {
    securityContext: { runAsNonRoot: true },
    containers: [sleeper('main')],
  }));
  const p = await until('secure Succeeded', async () => {
    const x = await getPod('secure');
    return x.status?.phase === 'Succeeded' ? x : undefined;
  }, 60_000);
  const log = await logOf(p.status.containerStatuses[0].containerID.slice('skiff://'.length));
  assert.match(log, /uid=1000 gid=2000/);
  assert.match(log, /readonly/);
  const w = await until('rootless waits', async () => (await getPod('rootless')).status?.containerStatuses?.[0]?.state?.waiting);
  assert.equal(w.reason, 'CreateContainerConfigError');
  assert.equal(w.message, 'container has runAsNonRoot and image will run as root');
  await deleteAndWait('secure');
  await deleteAndWait('rootless');
});

test('a sidecar (init container with restartPolicy Always) starts before the app and is stopped when the app completes: Succeeded', async () => {
  await client.create(R.pods, 'default', pod('job', {
    restartPolicy: 'Never',
    initContainers: [sleeper('proxy', { restartPolicy: 'Always' })],
    containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'sleep 1; exit 0'] }],
  }));
  const p = await until('job Succeeded', async () => {
    const x = await getPod('job');
    return x.status?.phase === 'Succeeded' ? x : undefined;
  }, 60_000);
  assert.equal(p.status.containerStatuses[0].state.terminated.reason, 'Completed');
  const uid = p.metadata.uid;
  await until('sidecar stopped', async () => (await agent.runtime.state(uid)).containers.every((c) => c.rec.status === 'exited'));
  const side = (await agent.runtime.state(uid)).containers.find((c) => c.name === 'proxy')!;
  const main = (await agent.runtime.state(uid)).containers.find((c) => c.name === 'main')!;
  assert.ok(side.rec.startedAt! <= main.rec.startedAt!, 'the sidecar started first');
  await deleteAndWait('job');
});

test('restartPolicy Always: a crashing container restarts, counts restarts, and backs off (CrashLoopBackOff, 10 s then 20 s)', async () => {
  await client.create(R.pods, 'default', pod('crash', {
    containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo crashing; exit 1'] }],
  }));
  const p = await until('crash in CrashLoopBackOff', async () => {
    const x = await getPod('crash');
    const s = x.status?.containerStatuses?.[0];
    return s?.state?.waiting?.reason === 'CrashLoopBackOff' ? x : undefined;
  }, 60_000);
  const s = p.status.containerStatuses[0];
  assert.equal(p.status.phase, 'Running', 'a restarting pod is Running, as the kubelet reports it');
  assert.ok(s.restartCount >= 1, `restartCount ${s.restartCount}`);
  assert.equal(s.lastState.terminated.exitCode, 1);
  assert.equal(s.lastState.terminated.reason, 'Error');
  assert.match(s.state.waiting.message, /^back-off 10s restarting failed container=main pod=crash_default\(/);
  const events = (await client.list(R.events, 'default')).items.filter((e: any) => e.involvedObject.name === 'crash');
  assert.ok(events.some((e: any) => e.reason === 'BackOff' && e.type === 'Warning'), 'BackOff event');
  const out = await server.kubectl('1.33', ['get', 'pod', 'crash', '--no-headers']);
  assert.match(out.stdout, /^crash\s+0\/1\s+CrashLoopBackOff\s+\d+/, out.stdout);
  // The delay doubles: after the next restart the message says 20s.
  const later = await until('back-off 20s', async () => {
    const x = await getPod('crash');
    return /back-off 20s/.test(x.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '') ? x : undefined;
  }, 40_000);
  assert.equal(later.status.containerStatuses[0].restartCount, s.restartCount + 1);
  // Only the latest instance and the one before it are kept.
  const kept = (await agent.engine.list()).filter((c) => c.options.labels?.[L.podUid] === p.metadata.uid);
  assert.ok(kept.length <= 2, `${kept.length} instances kept`);
  await deleteAndWait('crash');
});

test('images per imagePullPolicy from a real registry with imagePullSecrets: Always pulls, Never refuses what is absent, a failed pull backs off', async () => {
  const reg = await startRegistry({ auth: 'htpasswd' });
  try {
    const [user, password] = Object.entries(reg.users)[0];
    const ref = `${reg.host}/team/app:v1`;
    await push(agent.engine.images, IMAGE, ref, { credentials: { username: user, password } });
    const dockerconfig = { auths: { [reg.host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } };
    await client.create(R.secrets, 'default', {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerconfig)).toString('base64') },
    });
    await client.create(R.pods, 'default', pod('pulled', { imagePullSecrets: [{ name: 'regcred' }], containers: [sleeper('main', { image: ref, imagePullPolicy: 'Always' })] }));
    await client.create(R.pods, 'default', pod('never', { containers: [sleeper('main', { image: `${reg.host}/team/absent:v1`, imagePullPolicy: 'Never' })] }));
    await client.create(R.pods, 'default', pod('nocreds', { containers: [sleeper('main', { image: ref, imagePullPolicy: 'Always' })] }));
    const p = await until('pulled Running', async () => {
      const x = await getPod('pulled');
      return x.status?.phase === 'Running' ? x : undefined;
    }, 60_000);
    assert.equal(p.status.containerStatuses[0].image, ref);
    assert.match(p.status.containerStatuses[0].imageID, new RegExp(`^${reg.host.replace(/\./g, '\\.')}/team/app@sha256:[0-9a-f]{64}$`));
    const events = (await client.list(R.events, 'default')).items.filter((e: any) => e.involvedObject.name === 'pulled');
    assert.ok(events.some((e: any) => e.reason === 'Pulling' && e.message === `Pulling image "${ref}"`));
    assert.ok(events.some((e: any) => e.reason === 'Pulled' && /^Successfully pulled image ".*" in [\d.]+s/.test(e.message)));
    const never = await until('never waits', async () => (await getPod('never')).status?.containerStatuses?.[0]?.state?.waiting);
    assert.equal(never.reason, 'ErrImageNeverPull');
    assert.equal(never.message, `Container image "${reg.host}/team/absent:v1" is not present with pull policy of Never`);
    // Without the secret the registry refuses: ErrImagePull, then ImagePullBackOff.
    const seen = new Set<string>();
    await until('ImagePullBackOff', async () => {
      const w = (await getPod('nocreds')).status?.containerStatuses?.[0]?.state?.waiting;
      if (w) seen.add(w.reason);
      return seen.has('ImagePullBackOff');
    }, 30_000);
    assert.ok(seen.has('ErrImagePull') || seen.has('ImagePullBackOff'));
    assert.equal((await getPod('nocreds')).status.phase, 'Pending');
  } finally {
    await Promise.all(['pulled', 'never', 'nocreds'].map((n) => deleteAndWait(n)));
    await reg.stop();
  }
});

test('stopping the agent leaves containers running; a new agent adopts them (same container, same counts) and removes what belongs to deleted pods', async () => {
  const before = await getPod('web');
  const id = before.status.containerStatuses[0].containerID;
  await client.create(R.pods, 'default', pod('doomed', { containers: [sleeper('main')] }));
  const doomed = await until('doomed Running', async () => {
    const x = await getPod('doomed');
    return x.status?.phase === 'Running' ? x : undefined;
  }, 60_000);
  await agent.stop();
  const running = (await agent.engine.list()).filter((c) => c.status === 'running').map((c) => `skiff://${c.id}`);
  assert.ok(running.includes(id), 'the container outlives the agent');
  // Deleted while the agent is away: the API server waits for the node (grace), so force it.
  await client.delete(R.pods, 'default', 'doomed', { gracePeriodSeconds: 0 });
  await until('doomed gone', async () => getPod('doomed').then(() => false, (e) => e.code === 404));
  agent = newAgent();
  await agent.start();
  assert.ok(agent.pods.adopted.includes(before.metadata.uid), 'web adopted');
  assert.ok(agent.pods.removedOrphans.includes(doomed.metadata.uid), 'the deleted pod\'s containers removed');
  assert.equal((await agent.runtime.state(doomed.metadata.uid)).containers.length, 0);
  assert.equal((await agent.runtime.state(doomed.metadata.uid)).sandboxes.length, 0);
  // Give the new agent a few relists: the container must stay the same one.
  await new Promise((r) => setTimeout(r, 2500));
  const after = await getPod('web');
  assert.equal(after.status.phase, 'Running');
  assert.equal(after.status.containerStatuses[0].containerID, id);
  assert.equal(after.status.containerStatuses[0].restartCount, 0);
  assert.equal(after.status.podIP, before.status.podIP);
});

test('deleting pods stops them gracefully (SIGTERM, then SIGKILL after the grace period) and removes their containers and sandboxes: nothing leaks', async () => {
  // PID 1 ignores SIGTERM unless it handles it: busybox sleep is killed after the grace period.
  await client.create(R.pods, 'default', pod('stubborn', { terminationGracePeriodSeconds: 2, containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] }));
  await until('stubborn Running', async () => (await getPod('stubborn')).status?.phase === 'Running', 60_000);
  const t1 = Date.now();
  await deleteAndWait('stubborn');
  assert.ok(Date.now() - t1 >= 2000, 'the grace period was waited for');
  const web = await getPod('web');
  const t0 = Date.now();
  await deleteAndWait('web');
  assert.ok(Date.now() - t0 < 20_000, 'SIGTERM honoured: no wait for the 30 s grace period');
  assert.equal((await agent.runtime.state(web.metadata.uid)).containers.length, 0);
  await deleteAndWait('fails');
  const events = (await client.list(R.events, 'default')).items.filter((e: any) => e.involvedObject.name === 'web').map((e: any) => e.reason);
  assert.ok(events.includes('Killing'), `Killing event in ${events}`);
  assert.deepEqual(await settledLeaks(root, baseline), baseline);
});
