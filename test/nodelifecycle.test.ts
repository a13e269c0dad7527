/**
 * The node lifecycle controller on a controllable clock, against a real API server: a node
 * whose Lease stops moving goes Ready=Unknown after the grace period with the unreachable
 * taints; its pods are deleted at once, after their tolerationSeconds (300 s by default, from
 * DefaultTolerationSeconds admission) or never; a renewed lease and Ready status lift the
 * taints; the pods of a deleted node are garbage-collected. No wall-clock waits decide
 * anything: time moves only when the test advances the FakeClock.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { until } from './helpers/cluster.js';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { InformerFactory } from '../src/controllers/runtime/informer.js';
import { FakeClock, rfc3339 } from '../src/controllers/runtime/clock.js';
import { MemoryRecorder } from '../src/controllers/runtime/events.js';
import { silentLog } from '../src/controllers/runtime/controller.js';
import { NodeLifecycleController, TAINT } from '../src/controllers/nodelifecycle/nodelifecycle.js';

let server: TestServer;
let client: ApiClient;
let informers: InformerFactory;
let ctl: NodeLifecycleController;
const clock = new FakeClock(Date.now());
const recorder = new MemoryRecorder();

const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

async function renew(name: string): Promise<void> {
  await client.patch(R.leases, 'kube-node-lease', name, { spec: { renewTime: micro(clock.now()) } }, 'merge');
}

async function setReady(name: string, status: string): Promise<void> {
  const t = rfc3339(clock.now());
  await client.patch(R.nodes, undefined, name, { status: { conditions: [{ type: 'Ready', status, reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }] } }, 'merge', { subresource: 'status' });
}

async function addNode(name: string): Promise<void> {
  await client.create(R.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name } });
  await setReady(name, 'True');
  await client.create(R.leases, 'kube-node-lease', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: micro(clock.now()) } });
}

async function addPod(name: string, nodeName: string, tolerations?: any[]): Promise<KObject> {
  return client.create(R.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }], ...(tolerations ? { tolerations } : {}) } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Moves the fake clock in steps (so periodic checks run) and lets the controller catch up.
 * whenIdle waits for delayed keys too (they fire only when the clock moves), hence the cap.
 */
async function advance(ms: number, step = 5000): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await Promise.race([ctl.whenIdle(), sleep(300)]);
  }
}

const node = () => client.get(R.nodes, undefined, 'n1');
const deleting = async (name: string) => !!(await client.get(R.pods, 'default', name)).metadata.deletionTimestamp;

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  await addNode('n1');
  // Admission gives every pod an unreachable toleration (300 s) unless it has one: 0 s means "at once".
  await addPod('intolerant', 'n1', [{ key: TAINT.unreachable, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 0 }]);
  await addPod('brief', 'n1', [{ key: TAINT.unreachable, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }]);
  await addPod('defaulted', 'n1');
  await addPod('forever', 'n1', [{ key: TAINT.unreachable, operator: 'Exists', effect: 'NoExecute' }]);
  informers = new InformerFactory(client);
  ctl = new NodeLifecycleController({ client, informers, clock, recorder, log: silentLog }, { nodeMonitorGracePeriodMs: 40_000 });
  informers.start();
  await informers.synced();
  ctl.run();
});

after(async () => {
  ctl?.stop();
  informers?.stop();
  client?.close();
  await server?.stop();
});

test('DefaultTolerationSeconds admission gives a pod without its own tolerations 300 s for not-ready and unreachable', async () => {
  const p = await client.get(R.pods, 'default', 'defaulted');
  const tols = p.spec.tolerations.map((t: any) => `${t.key}:${t.effect}:${t.tolerationSeconds}`).sort();
  assert.deepEqual(tols, [`${TAINT.notReady}:NoExecute:300`, `${TAINT.unreachable}:NoExecute:300`]);
  const f = await client.get(R.pods, 'default', 'forever');
  assert.deepEqual(f.spec.tolerations.map((t: any) => t.key).sort(), [TAINT.notReady, TAINT.unreachable], 'its own unreachable toleration is kept, not-ready added');
  assert.equal(f.spec.tolerations.find((t: any) => t.key === TAINT.unreachable).tolerationSeconds, undefined);
});

test('a renewed lease keeps the node Ready', async () => {
  for (let i = 0; i < 6; i++) {
    await advance(10_000);
    await renew('n1');
  }
  const n = await node();
  assert.equal(n.status.conditions.find((c: any) => c.type === 'Ready').status, 'True');
  assert.equal((n.spec?.taints ?? []).length, 0);
});

test('a silent node goes Unknown with the unreachable taints after the grace period, and its pods leave by their tolerations', async () => {
  await advance(35_000);
  assert.equal((await node()).status.conditions.find((c: any) => c.type === 'Ready').status, 'True', 'within the grace period');
  await advance(10_000);
  const n = await until('Ready=Unknown', async () => {
    const x = await node();
    return x.status.conditions.find((c: any) => c.type === 'Ready').status === 'Unknown' && x;
  });
  const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
  assert.equal(ready.reason, 'NodeStatusUnknown');
  assert.equal(ready.message, 'Kubelet stopped posting node status.');
  await until('unreachable taints', async () => {
    const ts = (await node()).spec?.taints ?? [];
    return ts.some((t: any) => t.key === TAINT.unreachable && t.effect === 'NoExecute') && ts.some((t: any) => t.key === TAINT.unreachable && t.effect === 'NoSchedule');
  });
  assert.ok(recorder.events.some((e) => e.reason === 'NodeNotReady' && e.message === 'Node n1 status is now: NodeNotReady'));
  await until('the intolerant pod is evicted at once', () => deleting('intolerant'));
  assert.ok(recorder.events.some((e) => e.reason === 'TaintManagerEviction' && e.name === 'intolerant'));
  assert.equal(await deleting('brief'), false, 'tolerates 30 s');
  await advance(25_000);
  assert.equal(await deleting('brief'), false, 'still within its 30 s');
  await advance(10_000);
  await until('brief evicted after its tolerationSeconds', () => deleting('brief'));
  assert.equal(await deleting('defaulted'), false);
  await advance(270_000, 10_000);
  await until('defaulted evicted after 300 s', () => deleting('defaulted'));
  assert.equal(await deleting('forever'), false, 'a toleration without seconds lasts forever');
});

test('a lease renewed again and Ready status lift the taints', async () => {
  await renew('n1');
  await setReady('n1', 'True');
  await advance(5000);
  await until('taints removed', async () => ((await node()).spec?.taints ?? []).length === 0);
});

test('pods of a deleted node are deleted (pod GC)', async () => {
  await client.delete(R.nodes, undefined, 'n1');
  await advance(5000);
  await until('every pod of n1 gone', async () => (await client.list(R.pods, 'default')).items.length === 0);
});
