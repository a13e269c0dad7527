/**
 * The scheduler end to end: a real API server (startTestServer), simulated nodes (SimNodes) and
 * the Scheduler as an API client, checked through the API and with the real kubectl 1.33:
 * placement by node selector, affinity, taints and resources; a pod that fits nowhere gets
 * kube-scheduler's PodScheduled=False message and is bound once a fitting node joins;
 * preemption of a lower-priority pod; topology spread; pods of another scheduler left alone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { until } from './helpers/cluster.js';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { InformerFactory } from '../src/controllers/runtime/informer.js';
import { ApiEventRecorder } from '../src/controllers/runtime/events.js';
import { realClock } from '../src/controllers/runtime/clock.js';
import { silentLog } from '../src/controllers/runtime/controller.js';
import { SimNodes } from '../src/sim/nodes.js';
import { Scheduler } from '../src/scheduler/scheduler.js';

let server: TestServer;
let client: ApiClient;
let informers: InformerFactory;
let recorder: ApiEventRecorder;
let scheduler: Scheduler;
let sim: SimNodes;

const CP_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  informers = new InformerFactory(client);
  recorder = new ApiEventRecorder(client, 'default-scheduler', realClock);
  // Short backoffs keep retries inside the test's patience; the logic is the same.
  scheduler = new Scheduler({ client, informers, clock: realClock, recorder, log: silentLog }, { queue: { initialBackoffMs: 100, maxBackoffMs: 500 } }).run();
  informers.start();
  sim = new SimNodes(client, { heartbeatMs: 2000 });
  await sim.start();
  const shape = { capacity: { cpu: '2', memory: '4Gi', pods: '20' } };
  await sim.addNode({ name: 'n1', labels: { zone: 'a' }, ...shape });
  await sim.addNode({ name: 'n2', labels: { zone: 'b' }, ...shape });
  await sim.addNode({ name: 'cp', labels: { zone: 'a', 'node-role.kubernetes.io/control-plane': '' }, taints: [CP_TAINT], capacity: { cpu: '8', memory: '16Gi', pods: '20' } });
});

after(async () => {
  scheduler?.stop();
  sim?.stop();
  informers?.stop();
  await recorder?.flush();
  client?.close();
  await server?.stop();
});

const pod = (name: string, spec: any = {}, labels: Record<string, string> = {}, cpu?: string): KObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels },
  spec: { containers: [{ name: 'c', image: 'registry.invalid/pause:3.9', ...(cpu ? { resources: { requests: { cpu } } } : {}) }], ...spec },
});

const get = (name: string) => client.get(R.pods, 'default', name);
const nodeOf = (name: string) => until(`${name} bound`, async () => (await get(name)).spec?.nodeName as string | undefined, 20_000);

async function deleteAll(names: string[]): Promise<void> {
  await Promise.all(names.map((n) => client.delete(R.pods, 'default', n).catch(() => {})));
  await until('pods gone', async () => {
    const left = (await client.list(R.pods, 'default')).items.filter((p) => names.includes(p.metadata.name!));
    return left.length === 0;
  });
}

test('pods land where node selectors, affinity, taints and resources say; kubectl get pods -o wide shows the nodes', async () => {
  await client.create(R.pods, 'default', pod('sel', { nodeSelector: { zone: 'b' } }));
  await client.create(R.pods, 'default', pod('on-cp', {
    tolerations: [{ key: CP_TAINT.key, operator: 'Exists', effect: 'NoSchedule' }],
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: CP_TAINT.key, operator: 'Exists' }] }] } } },
  }));
  assert.equal(await nodeOf('sel'), 'n2');
  assert.equal(await nodeOf('on-cp'), 'cp');
  // 1.5 CPU each: one per small node, never the tainted one.
  await client.create(R.pods, 'default', pod('big-1', {}, {}, '1500m'));
  const first = await nodeOf('big-1');
  await client.create(R.pods, 'default', pod('big-2', {}, {}, '1500m'));
  const second = await nodeOf('big-2');
  assert.deepEqual([first, second].sort(), ['n1', 'n2']);
  // Required anti-affinity per host: two pods, two hosts, and not the tainted one.
  const anti = { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'solo' } }, topologyKey: 'kubernetes.io/hostname' }] } } };
  await client.create(R.pods, 'default', pod('solo-1', anti, { app: 'solo' }));
  const s1 = await nodeOf('solo-1');
  await client.create(R.pods, 'default', pod('solo-2', anti, { app: 'solo' }));
  const s2 = await nodeOf('solo-2');
  assert.notEqual(s1, s2);
  assert.ok(s1 !== 'cp' && s2 !== 'cp');
  // Preferred pod affinity: next to solo-1.
  await client.create(R.pods, 'default', pod('friend', { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: 'solo' } }, topologyKey: 'kubernetes.io/hostname' } }] } } }));
  assert.ok(['n1', 'n2'].includes(await nodeOf('friend')));

  const wide = await server.kubectl('1.33', ['get', 'pods', '-o', 'wide']);
  assert.equal(wide.code, 0, wide.stderr);
  const lines = wide.stdout.trim().split('\n');
  assert.match(lines[0], /NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/);
  const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.split(/\s+/) ?? [];
  assert.equal(row('sel')[6], 'n2', wide.stdout);
  assert.equal(row('on-cp')[6], 'cp', wide.stdout);
  assert.equal(row('big-1')[6], first, wide.stdout);

  const events = (await client.list(R.events, 'default')).items.filter((e) => e.reason === 'Scheduled');
  assert.ok(events.some((e) => e.involvedObject.name === 'sel' && e.type === 'Normal' && e.message === 'Successfully assigned default/sel to n2'), JSON.stringify(events.map((e) => e.message)));
  await deleteAll(['sel', 'on-cp', 'big-1', 'big-2', 'solo-1', 'solo-2', 'friend']);
});

test('a pod that fits nowhere gets PodScheduled=False with kube-scheduler\'s message, and is scheduled once a fitting node is added', async () => {
  await client.create(R.pods, 'default', pod('huge', {}, {}, '3'));
  const want = '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. '
    + 'preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.';
  const cond = await until('PodScheduled=False', async () => (await get('huge')).status?.conditions?.find((c: any) => c.type === 'PodScheduled' && c.status === 'False'));
  assert.equal(cond.reason, 'Unschedulable');
  assert.equal(cond.message, want);
  const d = await until('the FailedScheduling event in kubectl describe', async () => {
    const r = await server.kubectl('1.33', ['describe', 'pod', 'huge']);
    return r.stdout.includes('FailedScheduling') && r;
  });
  assert.match(d.stdout, /Status:\s+Pending/);
  assert.match(d.stdout, /PodScheduled\s+False/);
  assert.match(d.stdout, /Warning\s+FailedScheduling\s+.*default-scheduler\s+0\/3 nodes are available: 1 node\(s\) had untolerated taint \{node-role\.kubernetes\.io\/control-plane: \}, 2 Insufficient cpu\./);
  assert.match(d.stdout, /preemption: 0\/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod\./);

  await sim.addNode({ name: 'n3', capacity: { cpu: '4', memory: '8Gi', pods: '20' } });
  assert.equal(await nodeOf('huge'), 'n3');
  const scheduled = await until('PodScheduled=True', async () => (await get('huge')).status?.conditions?.find((c: any) => c.type === 'PodScheduled' && c.status === 'True'));
  assert.ok(scheduled);
  const events = (await client.list(R.events, 'default')).items.filter((e) => e.involvedObject.name === 'huge');
  assert.ok(events.some((e) => e.reason === 'Scheduled' && e.message === 'Successfully assigned default/huge to n3'));
  await deleteAll(['huge']);
});

test('a high-priority pod preempts a low-priority one; preemptionPolicy Never does not', async () => {
  for (const [name, value, policy] of [['low', 100, undefined], ['high', 1000, undefined], ['polite', 1000, 'Never']] as const) {
    await client.create(R.priorityclasses, undefined, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...(policy ? { preemptionPolicy: policy } : {}) });
  }
  // Let the scheduler's PriorityClass cache see them before pods refer to them.
  await until('priority classes cached', async () => (await client.list(R.priorityclasses)).items.length >= 3);
  await new Promise((r) => setTimeout(r, 300));
  const inB = (name: string, cls: string) => pod(name, { priorityClassName: cls, nodeSelector: { zone: 'b' } }, { app: name }, '1500m');
  await client.create(R.pods, 'default', inB('victim', 'low'));
  assert.equal(await nodeOf('victim'), 'n2');
  const victimUid = (await get('victim')).metadata.uid;

  // Priority 1000 but preemptionPolicy Never: it may not evict the victim, so it waits.
  await client.create(R.pods, 'default', inB('waiter', 'polite'));
  const cond = await until('waiter unschedulable', async () => (await get('waiter')).status?.conditions?.find((c: any) => c.type === 'PodScheduled' && c.status === 'False'));
  const filters = "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector.";
  assert.equal(cond.message, `${filters} preemption: not eligible due to preemptionPolicy=Never.`);
  await deleteAll(['waiter']);

  await client.create(R.pods, 'default', inB('preemptor', 'high'));
  assert.equal(await nodeOf('preemptor'), 'n2');
  const p = await get('preemptor');
  assert.equal(p.status?.nominatedNodeName, 'n2');
  await until('the victim gone', async () => {
    const v = await get('victim').catch(() => undefined);
    return !v || v.metadata.uid !== victimUid;
  });
  const events = (await client.list(R.events, 'default')).items;
  assert.ok(events.some((e) => e.involvedObject.name === 'victim' && e.reason === 'Preempted' && e.message === `Preempted by pod ${p.metadata.uid} on node n2`));
  // The cycle that preempted reports the filters alone (kube-scheduler adds nothing for a successful PostFilter).
  const failed = events.filter((e) => e.involvedObject.name === 'preemptor' && e.reason === 'FailedScheduling').map((e) => e.message);
  assert.ok(failed.includes(filters), failed.join('\n'));
  const wide = await server.kubectl('1.33', ['get', 'pod', 'preemptor', '-o', 'wide', '--no-headers']);
  assert.match(wide.stdout, /^preemptor\s+\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+n2\s+n2\s/);
  await deleteAll(['preemptor']);
});

test('topology spread keeps zones within maxSkew; pods of another scheduler are left alone', async () => {
  await client.create(R.pods, 'default', pod('other', { schedulerName: 'my-scheduler' }));
  const spread = { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'sp' } } }] };
  const names = ['sp-0', 'sp-1', 'sp-2', 'sp-3'];
  const zones: string[] = [];
  // One at a time: each placement must respect the counts the previous ones made.
  for (const n of names) {
    await client.create(R.pods, 'default', pod(n, spread, { app: 'sp' }));
    const node = await nodeOf(n);
    assert.notEqual(node, 'n3', 'n3 has no zone label');
    zones.push(node === 'n2' ? 'b' : 'a');
  }
  assert.equal(zones.filter((z) => z === 'a').length, 2, zones.join());
  const other = await get('other');
  assert.equal(other.spec.nodeName, undefined);
  assert.equal(other.status?.conditions?.find((c: any) => c.type === 'PodScheduled'), undefined);
  await deleteAll([...names, 'other']);
});
