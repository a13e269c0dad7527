/**
 * The control plane as one: `startControlPlane` (API server + scheduler + controllers, the
 * composition `skiff server` runs) with simulated nodes and the real kubectl, for the issue-6
 * behaviours that need several components at once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlane } from '../src/cmd/controlplane.js';
import type { SimNodes } from '../src/sim/nodes.js';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';
import { Informer } from '../src/controllers/runtime/informer.js';
import { listWatch } from '../src/client/listwatch.js';

let cp: ControlPlane;
let sim: SimNodes;
let cluster: TestCluster;
let kubectl: TestCluster['kubectl'];

before(async () => {
  // A short grace period so a stopped node is noticed within the test.
  cluster = await startTestCluster({ tuning: { nodeMonitorGracePeriodMs: 3000 }, sim: { heartbeatMs: 500 } });
  ({ cp, sim, kubectl } = cluster);
  await sim.addNodes(3, 'n', { capacity: { cpu: '4', memory: '8Gi', pods: '20' } });
});

after(async () => { await cluster?.stop(); });

const deployment = (name: string, replicas: number, extra: any = {}) => JSON.stringify({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default' },
  spec: {
    replicas, selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [{ name: 'c', image: 'busybox:1', resources: { requests: { cpu: '100m' } } }],
        // Evicted quickly when their node dies (Kubernetes' default is 300 s).
        tolerations: [
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 },
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 },
        ],
        ...extra,
      },
    },
  },
});

async function runningPods(app: string) {
  const list = await cp.client.list(R.pods, 'default', { labelSelector: `app=${app}` });
  return list.items.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
}

test('kubectl apply of a Deployment: the scheduler spreads its pods over the nodes and rollout status succeeds', async () => {
  const r = await kubectl('1.33', ['apply', '-f', '-'], deployment('web', 6));
  assert.equal(r.code, 0, r.stderr);
  const st = await kubectl('1.33', ['rollout', 'status', 'deployment/web', '--timeout=60s']);
  assert.equal(st.code, 0, st.stderr + st.stdout);
  assert.match(st.stdout, /successfully rolled out/);
  const pods = await runningPods('web');
  assert.equal(pods.length, 6);
  const nodes = new Set(pods.map((p) => p.spec.nodeName));
  assert.equal(nodes.size, 3, `spread over every node: ${[...nodes]}`);
  const events = await cp.client.list(R.events, 'default');
  const reasons = new Set(events.items.map((e) => e.reason));
  for (const want of ['ScalingReplicaSet', 'SuccessfulCreate', 'Scheduled']) assert.ok(reasons.has(want), `event ${want} in ${[...reasons]}`);
});

test('pods of a stopped node are replaced elsewhere', async () => {
  const victim = (await runningPods('web'))[0].spec.nodeName;
  sim.stopNode(victim);
  const node = await until('the node to go NotReady with the unreachable taint', async () => {
    const n = await cp.client.get(R.nodes, undefined, victim);
    const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
    return ready.status === 'Unknown' && (n.spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unreachable') && n;
  });
  assert.ok(node);
  await until('six running pods, none on the stopped node', async () => {
    const pods = await runningPods('web');
    return pods.length === 6 && pods.every((p) => p.spec.nodeName !== victim);
  }, 60_000);
  // Its pods were evicted: Terminating until an agent on that node confirms (as in Kubernetes).
  const left = await cp.client.list(R.pods, 'default', { fieldSelector: `spec.nodeName=${victim}` });
  assert.ok(left.items.length > 0 && left.items.every((p) => p.metadata.deletionTimestamp), 'evicted pods are Terminating');
  await sim.restartNode(victim);
  await until('the node\'s agent back: its Terminating pods are gone', async () => {
    const all = await cp.client.list(R.pods, 'default', { fieldSelector: `spec.nodeName=${victim}` });
    return all.items.every((p) => !p.metadata.deletionTimestamp);
  });
  await until('the node Ready again and untainted', async () => {
    const n = await cp.client.get(R.nodes, undefined, victim);
    return n.status.conditions.find((c: any) => c.type === 'Ready').status === 'True' && !(n.spec.taints ?? []).some((t: any) => t.key.startsWith('node.kubernetes.io/unreachable'));
  });
});

test('deleting a Deployment removes its ReplicaSets and pods', async () => {
  const r = await kubectl('1.33', ['delete', 'deployment', 'web']);
  assert.equal(r.code, 0, r.stderr);
  await until('ReplicaSets and pods gone', async () => {
    const rs = await cp.client.list(R.replicasets, 'default', { labelSelector: 'app=web' });
    const pods = await cp.client.list(R.pods, 'default', { labelSelector: 'app=web' });
    return rs.items.length === 0 && pods.items.length === 0;
  });
});

test('a pod that fits nowhere is reported as kube-scheduler does, and scheduled when a node that fits arrives', async () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big' }, spec: { containers: [{ name: 'c', image: 'busybox:1', resources: { requests: { cpu: '16' } } }] } };
  await cp.client.create(R.pods, 'default', pod);
  const cond = await until('PodScheduled=False', async () => {
    const p = await cp.client.get(R.pods, 'default', 'big');
    return p.status?.conditions?.find((c: any) => c.type === 'PodScheduled' && c.status === 'False');
  });
  assert.equal(cond.reason, 'Unschedulable');
  assert.match(cond.message, /^0\/3 nodes are available: 3 Insufficient cpu\./);
  const d = await kubectl('1.33', ['describe', 'pod', 'big']);
  assert.match(d.stdout, /FailedScheduling/);
  await sim.addNode({ name: 'huge', capacity: { cpu: '32', memory: '64Gi', pods: '110' } });
  const bound = await until('bound to the new node', async () => (await cp.client.get(R.pods, 'default', 'big')).spec.nodeName);
  assert.equal(bound, 'huge');
  await cp.client.delete(R.pods, 'default', 'big');
});

test('a rolling update stays within maxUnavailable and maxSurge; history, undo, pause, resume and restart work with kubectl 1.27 and 1.33', async () => {
  const manifest = (image: string) => JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'roll', namespace: 'default' },
    spec: {
      replicas: 4, selector: { matchLabels: { app: 'roll' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
      template: { metadata: { labels: { app: 'roll' }, annotations: { 'sim.skiff.dev/ready-after-ms': '300' } }, spec: { containers: [{ name: 'c', image }] } },
    },
  });
  let r = await kubectl('1.33', ['apply', '-f', '-'], manifest('busybox:1'));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'deployment/roll', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  // Watch every pod change during the rollout: available (ready, not terminating) and total.
  const inf = new Informer(listWatch(cp.client, R.pods, 'default', { labelSelector: 'app=roll' }));
  let minAvailable = Infinity, maxTotal = 0;
  let sampling = false;
  const sample = () => {
    // The first list arrives one add at a time: count only from a whole picture on.
    if (!sampling) return;
    const live = inf.list().filter((p) => !p.metadata.deletionTimestamp);
    const ready = live.filter((p) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    minAvailable = Math.min(minAvailable, ready.length);
    maxTotal = Math.max(maxTotal, live.length);
  };
  inf.on({ add: sample, update: sample, delete: sample }).start();
  await inf.synced;
  sampling = true;
  sample();
  r = await kubectl('1.33', ['set', 'image', 'deployment/roll', 'c=busybox:2']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'deployment/roll', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  inf.stop();
  assert.ok(minAvailable >= 3, `never below replicas - maxUnavailable: saw ${minAvailable} available`);
  assert.ok(maxTotal <= 5, `never above replicas + maxSurge: saw ${maxTotal} pods`);
  const pods = await runningPods('roll');
  assert.ok(pods.length === 4 && pods.every((p) => p.spec.containers[0].image === 'busybox:2'));

  for (const v of ['1.27', '1.33']) {
    r = await kubectl(v, ['rollout', 'history', 'deployment/roll']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  }
  r = await kubectl('1.27', ['rollout', 'undo', 'deployment/roll']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'deployment/roll', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  const d = await cp.client.get(R.deployments, 'default', 'roll');
  assert.equal(d.spec.template.spec.containers[0].image, 'busybox:1', 'undo restores the previous template');
  assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '3', 'the restored template is revision 3');
  await until('pods back on the old image', async () => { const ps = await runningPods('roll'); return ps.length === 4 && ps.every((p) => p.spec.containers[0].image === 'busybox:1'); });

  // Paused: a template change makes no new ReplicaSet until resumed.
  assert.equal((await kubectl('1.33', ['rollout', 'pause', 'deployment/roll'])).code, 0);
  assert.equal((await kubectl('1.33', ['set', 'image', 'deployment/roll', 'c=busybox:3'])).code, 0);
  await new Promise((res) => setTimeout(res, 500));
  const rsCount = async () => (await cp.client.list(R.replicasets, 'default', { labelSelector: 'app=roll' })).items.length;
  assert.equal(await rsCount(), 2, 'no new ReplicaSet while paused');
  const paused = await cp.client.get(R.deployments, 'default', 'roll');
  assert.equal(paused.status.conditions.find((c: any) => c.type === 'Progressing').reason, 'DeploymentPaused');
  assert.equal((await kubectl('1.33', ['rollout', 'resume', 'deployment/roll'])).code, 0);
  r = await kubectl('1.33', ['rollout', 'status', 'deployment/roll', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await rsCount(), 3);
  // Restart: a new ReplicaSet whose template carries restartedAt.
  assert.equal((await kubectl('1.33', ['rollout', 'restart', 'deployment/roll'])).code, 0);
  r = await kubectl('1.33', ['rollout', 'status', 'deployment/roll', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  const pods2 = await runningPods('roll');
  assert.ok(pods2.every((p) => p.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']), 'restarted pods carry restartedAt');
  assert.equal((await kubectl('1.33', ['delete', 'deployment', 'roll'])).code, 0);
});
