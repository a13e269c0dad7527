/**
 * The DaemonSet controller end to end: a real API server, the DaemonSet controller and the node
 * lifecycle controller (whose pod garbage collection removes the pods of deleted nodes, as
 * Kubernetes' podgc does), simulated nodes, a test binder standing in for the scheduler (it
 * binds pods pinned by metadata.name affinity), and the real kubectl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { until } from './helpers/cluster.js';
import { DaemonPodBinder } from './helpers/ds-binder.js';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { listWatch } from '../src/client/listwatch.js';
import { Informer, InformerFactory } from '../src/controllers/runtime/informer.js';
import { realClock } from '../src/controllers/runtime/clock.js';
import { MemoryRecorder } from '../src/controllers/runtime/events.js';
import { silentLog, type ControllerContext } from '../src/controllers/runtime/controller.js';
import { DaemonSetController } from '../src/controllers/daemonset/daemonset.js';
import { NodeLifecycleController } from '../src/controllers/nodelifecycle/nodelifecycle.js';
import { SimNodes } from '../src/sim/nodes.js';

let server: TestServer;
let client: ApiClient;
let informers: InformerFactory;
let controllers: { stop(): void }[] = [];
let sim: SimNodes;
let binder: DaemonPodBinder;
const recorder = new MemoryRecorder();

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  informers = new InformerFactory(client);
  const ctx: ControllerContext = { client, informers, clock: realClock, recorder, log: silentLog };
  controllers = [new DaemonSetController(ctx).run(), new NodeLifecycleController(ctx).run()];
  informers.start();
  sim = new SimNodes(client, { heartbeatMs: 1000 });
  await sim.start();
  binder = await new DaemonPodBinder(client).start();
});

after(async () => {
  binder?.stop();
  sim?.stop();
  for (const c of controllers) c.stop();
  informers?.stop();
  await server?.stop();
});

const kubectl = (v: string, args: string[], input?: string) => server.kubectl(v, args, input === undefined ? {} : { input });
const ready = (p: KObject) => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

function manifest(image: string, strategy: any = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }): string {
  return JSON.stringify({
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'agent' } }, updateStrategy: strategy,
      template: {
        metadata: { labels: { app: 'agent' }, annotations: { 'sim.skiff.dev/ready-after-ms': '100' } },
        spec: { nodeSelector: { role: 'worker' }, containers: [{ name: 'c', image }] },
      },
    },
  });
}

/** Running pods of the set, as "node=image", sorted. */
async function placement(): Promise<string> {
  const pods = (await client.list(R.pods, 'default', { labelSelector: 'app=agent' })).items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running');
  return pods.map((p) => `${p.spec.nodeName}=${p.spec.containers[0].image}`).sort().join(',');
}

test('a DaemonSet follows nodes added and removed, honours its nodeSelector and taints; kubectl rollout status', async () => {
  await sim.addNode({ name: 'plain' });
  await sim.addNode({ name: 'd1', labels: { role: 'worker' } });
  await sim.addNode({ name: 'd2', labels: { role: 'worker' } });
  await sim.addNode({ name: 'd3', labels: { role: 'worker' }, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
  let r = await kubectl('1.33', ['apply', '-f', '-'], manifest('agent:1'));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'ds/agent', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /daemon set "agent" successfully rolled out/);
  assert.equal(await placement(), 'd1=agent:1,d2=agent:1', 'only labelled nodes without untolerated taints');

  const pod = (await client.list(R.pods, 'default', { labelSelector: 'app=agent' })).items[0];
  assert.ok(pod.metadata.generateName === 'agent-' && pod.metadata.labels['controller-revision-hash'] && pod.metadata.labels['pod-template-generation'] === '1');
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    assert.ok(pod.spec.tolerations.some((t: any) => t.key === key && t.effect === 'NoExecute' && t.operator === 'Exists' && t.tolerationSeconds === undefined), key);
  }
  for (const key of ['disk-pressure', 'memory-pressure', 'pid-pressure', 'unschedulable']) {
    assert.ok(pod.spec.tolerations.some((t: any) => t.key === `node.kubernetes.io/${key}` && t.effect === 'NoSchedule'), key);
  }
  assert.deepEqual(pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
    [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [pod.spec.nodeName] }] }], 'pinned to its node for the scheduler');
  let st = (await client.get(R.daemonsets, 'default', 'agent')).status;
  assert.deepEqual([st.desiredNumberScheduled, st.currentNumberScheduled, st.numberReady, st.numberAvailable, st.updatedNumberScheduled, st.numberMisscheduled], [2, 2, 2, 2, 2, 0]);

  // Nodes come and go.
  await sim.addNode({ name: 'd4', labels: { role: 'worker' } });
  await until('a pod on d4', async () => (await placement()) === 'd1=agent:1,d2=agent:1,d4=agent:1');
  await sim.removeNode('d1');
  await until('d1\'s pod gone', async () => (await client.list(R.pods, 'default', { labelSelector: 'app=agent', fieldSelector: 'spec.nodeName=d1' })).items.length === 0);
  assert.equal(await placement(), 'd2=agent:1,d4=agent:1');
  // Labels and taints change: a node labelled in gets a pod; NoSchedule keeps a running pod, NoExecute evicts it.
  r = await kubectl('1.33', ['label', 'node', 'plain', 'role=worker']);
  assert.equal(r.code, 0, r.stderr);
  await until('a pod on the relabelled node', async () => (await placement()) === 'd2=agent:1,d4=agent:1,plain=agent:1');
  r = await kubectl('1.33', ['taint', 'node', 'd4', 'maint=yes:NoSchedule']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['taint', 'node', 'd2', 'gone=yes:NoExecute']);
  assert.equal(r.code, 0, r.stderr);
  await until('d2 emptied', async () => (await placement()) === 'd4=agent:1,plain=agent:1');
  await until('status: 1 desired (plain), 1 misscheduled (d4)', async () => {
    st = (await client.get(R.daemonsets, 'default', 'agent')).status;
    return st.desiredNumberScheduled === 1 && st.numberMisscheduled === 1 && st.currentNumberScheduled === 1;
  });
  assert.equal(await placement(), 'd4=agent:1,plain=agent:1', 'the NoSchedule node keeps its pod');
  for (const [n, t] of [['d4', 'maint'], ['d2', 'gone']]) assert.equal((await kubectl('1.33', ['taint', 'node', n, `${t}-`])).code, 0);
  await until('back on d2', async () => (await placement()) === 'd2=agent:1,d4=agent:1,plain=agent:1');
  const msgs = recorder.events.filter((e) => e.name === 'agent').map((e) => `${e.reason}: ${e.message}`);
  assert.ok(msgs.some((m) => /^SuccessfulCreate: Created pod: agent-\w+$/.test(m)), msgs.join('\n'));
  assert.ok(msgs.some((m) => /^SuccessfulDelete: Deleted pod: agent-\w+$/.test(m)), msgs.join('\n'));
});

test('rolling updates: maxUnavailable never exceeded, maxSurge keeps every node served; rollout history and undo with kubectl 1.27 and 1.33', async () => {
  // Start from three ready pods (an unready old pod may be replaced beyond the budget, rightly).
  await until('3 available', async () => (await client.get(R.daemonsets, 'default', 'agent')).status.numberAvailable === 3);
  // Watch availability: with maxUnavailable 1 at most one node is without a ready pod; with surge none.
  const inf = new Informer(listWatch(client, R.pods, 'default', { labelSelector: 'app=agent' }));
  let worst = 3;
  const trace: string[] = [];
  const measure = () => {
    const nodes = new Set(inf.list().filter(ready).map((p) => p.spec.nodeName));
    worst = Math.min(worst, nodes.size);
    trace.push(inf.list().map((p) => `${p.metadata.name}@${p.spec.nodeName ?? '-'}:${p.spec.containers[0].image}${ready(p) ? 'R' : ''}${p.metadata.deletionTimestamp ? 'T' : ''}`).join(' '));
  };
  inf.on({ add: measure, update: measure, delete: measure }).start();
  await inf.synced;
  // The first list arrives pod by pod: count from here.
  worst = 3;
  trace.length = 0;
  let r = await kubectl('1.33', ['apply', '-f', '-'], manifest('agent:2'));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'ds/agent', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await until('all on agent:2', async () => (await placement()) === 'd2=agent:2,d4=agent:2,plain=agent:2');
  assert.equal(worst, 2, `maxUnavailable 1: never more than one node without a ready pod\n${trace.join('\n')}`);

  await until('3 available', async () => (await client.get(R.daemonsets, 'default', 'agent')).status.numberAvailable === 3);
  worst = 3;
  r = await kubectl('1.33', ['apply', '-f', '-'], manifest('agent:3', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'ds/agent', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await until('all on agent:3', async () => (await placement()) === 'd2=agent:3,d4=agent:3,plain=agent:3');
  assert.equal(worst, 3, 'surge: every node keeps a ready pod throughout');
  inf.stop();

  for (const v of ['1.27', '1.33']) {
    r = await kubectl(v, ['rollout', 'history', 'ds/agent']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n3\s+<none>\n/, v);
    r = await kubectl(v, ['rollout', 'history', 'ds/agent', '--revision=2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Image:\s+agent:2/, v);
  }
  r = await kubectl('1.33', ['rollout', 'undo', 'ds/agent', '--to-revision=1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /daemonset.apps\/agent rolled back/);
  r = await kubectl('1.33', ['rollout', 'status', 'ds/agent', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await until('all back on agent:1', async () => (await placement()) === 'd2=agent:1,d4=agent:1,plain=agent:1');
  r = await kubectl('1.27', ['rollout', 'history', 'ds/agent']);
  assert.match(r.stdout, /\n2\s+<none>\n3\s+<none>\n4\s+<none>\n/, 'revision 1 renumbered as 4');
});

test('OnDelete: a changed template reaches a node only when its pod is deleted; a failed pod is replaced', async () => {
  let r = await kubectl('1.33', ['apply', '-f', '-'], manifest('agent:5', { type: 'OnDelete' }));
  assert.equal(r.code, 0, r.stderr);
  await until('status observed', async () => { const d = await client.get(R.daemonsets, 'default', 'agent'); return d.status.observedGeneration === d.metadata.generation; });
  assert.equal(await placement(), 'd2=agent:1,d4=agent:1,plain=agent:1', 'nothing replaced by itself');
  const onD2 = (await client.list(R.pods, 'default', { labelSelector: 'app=agent', fieldSelector: 'spec.nodeName=d2' })).items[0];
  r = await kubectl('1.33', ['delete', 'pod', onD2.metadata.name!]);
  assert.equal(r.code, 0, r.stderr);
  await until('d2 on agent:5', async () => (await placement()) === 'd2=agent:5,d4=agent:1,plain=agent:1');
  const st = (await client.get(R.daemonsets, 'default', 'agent')).status;
  assert.equal(st.updatedNumberScheduled, 1);

  const onD4 = (await client.list(R.pods, 'default', { labelSelector: 'app=agent', fieldSelector: 'spec.nodeName=d4' })).items[0];
  await client.patch(R.pods, 'default', onD4.metadata.name!, { status: { phase: 'Failed' } }, 'merge', { subresource: 'status' });
  await until('d4 replaced', async () => (await placement()) === 'd2=agent:5,d4=agent:5,plain=agent:1');
  assert.ok(recorder.events.some((e) => e.reason === 'FailedDaemonPod' && e.message === `Found failed daemon pod default/${onD4.metadata.name} on node d4, will try to kill it`));
  assert.equal((await kubectl('1.33', ['delete', 'ds', 'agent'])).code, 0);
  await until('pods gone', async () => (await client.list(R.pods, 'default', { labelSelector: 'app=agent' })).items.length === 0);
});
