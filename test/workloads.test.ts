/**
 * StatefulSets and DaemonSets end to end: the control plane in-process (API server, scheduler,
 * controllers), simulated nodes, and the real kubectl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlane } from '../src/cmd/controlplane.js';
import type { SimNodes } from '../src/sim/nodes.js';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';
import { Informer } from '../src/controllers/runtime/informer.js';
import { listWatch } from '../src/client/listwatch.js';
import type { KObject } from '../src/client/client.js';

let cp: ControlPlane;
let sim: SimNodes;
let cluster: TestCluster;
let kubectl: TestCluster['kubectl'];

const ready = (p: KObject) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');

before(async () => {
  cluster = await startTestCluster({ sim: { heartbeatMs: 1000 } });
  ({ cp, sim, kubectl } = cluster);
  await sim.addNodes(2, 'w');
  // Claims need volumes (the scheduler waits for them, as kube-scheduler's VolumeBinding does):
  // static PersistentVolumes without a class, as an administrator would make them.
  for (let i = 0; i < 6; i++) {
    await cp.client.create(R.persistentvolumes, undefined, { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `pv-${i}` },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/tmp/skiff-test-pv-${i}` } } });
  }
});

after(async () => { await cluster?.stop(); });

test('a StatefulSet scales up in order and down in reverse, with a claim per pod; a partitioned update touches only ordinals >= partition', async () => {
  // Record, for each pod creation and deletion, which pods were ready at that moment.
  const inf = new Informer(listWatch(cp.client, R.pods, 'default', { labelSelector: 'app=db' }));
  const log: string[] = [];
  const readyNow = () => inf.list().filter(ready).map((p) => p.metadata.name).sort().join(',');
  inf.on({ add: (p) => log.push(`+${p.metadata.name} [${readyNow()}]`), update: (o, p) => { if (!o.metadata.deletionTimestamp && p.metadata.deletionTimestamp) log.push(`-${p.metadata.name} [${readyNow()}]`); } }).start();
  await inf.synced;
  const sts = (replicas: number, image = 'db:1', partition = 0) => JSON.stringify({
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'default' },
    spec: {
      replicas, serviceName: 'db', selector: { matchLabels: { app: 'db' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } },
      template: { metadata: { labels: { app: 'db' }, annotations: { 'sim.skiff.dev/ready-after-ms': '200' } }, spec: { containers: [{ name: 'c', image }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  });
  let r = await kubectl('1.33', ['apply', '-f', '-'], sts(3));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'statefulset/db', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(log.splice(0), ['+db-0 []', '+db-1 [db-0]', '+db-2 [db-0,db-1]'], 'each pod waits for the one before it to be Ready');
  const claims = await cp.client.list(R.persistentvolumeclaims, 'default');
  assert.deepEqual(claims.items.map((c) => c.metadata.name).sort(), ['data-db-0', 'data-db-1', 'data-db-2']);
  const pod0 = await cp.client.get(R.pods, 'default', 'db-0');
  assert.equal(pod0.spec.hostname, 'db-0');
  assert.equal(pod0.spec.subdomain, 'db');
  assert.equal(pod0.metadata.labels['apps.kubernetes.io/pod-index'], '0');
  assert.deepEqual(pod0.spec.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim, { claimName: 'data-db-0' });

  // Scale down: the highest ordinal goes first, claims stay.
  r = await kubectl('1.33', ['scale', 'statefulset/db', '--replicas=1']);
  assert.equal(r.code, 0, r.stderr);
  await until('one pod left', async () => (await cp.client.list(R.pods, 'default', { labelSelector: 'app=db' })).items.length === 1);
  assert.deepEqual(log.splice(0).map((l) => l.split(' ')[0]), ['-db-2', '-db-1']);
  assert.equal((await cp.client.list(R.persistentvolumeclaims, 'default')).items.length, 3, 'claims are kept on scale down');

  // A partitioned update: only ordinals >= 2 get the new template.
  r = await kubectl('1.33', ['apply', '-f', '-'], sts(4, 'db:2', 2));
  assert.equal(r.code, 0, r.stderr);
  await until('4 ready pods, ordinals >= 2 on db:2', async () => {
    const pods = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=db' })).items.filter(ready);
    const img = (n: string) => pods.find((p) => p.metadata.name === n)?.spec.containers[0].image;
    return pods.length === 4 && img('db-0') === 'db:1' && img('db-1') === 'db:1' && img('db-2') === 'db:2' && img('db-3') === 'db:2';
  });
  const s = await until('status', async () => { const x = await cp.client.get(R.statefulsets, 'default', 'db'); return x.status.updatedReplicas === 2 && x; });
  assert.notEqual(s.status.currentRevision, s.status.updateRevision);
  r = await kubectl('1.33', ['rollout', 'status', 'statefulset/db', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /partitioned roll out complete: 2 new pods have been updated/);
  // Partition 0: the rest follow, highest first.
  log.splice(0);
  r = await kubectl('1.33', ['patch', 'statefulset/db', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'statefulset/db', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(log.filter((l) => l.startsWith('-')).map((l) => l.split(' ')[0]), ['-db-1', '-db-0']);
  for (const v of ['1.27', '1.33']) {
    r = await kubectl(v, ['rollout', 'history', 'statefulset/db']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  }
  r = await kubectl('1.33', ['rollout', 'undo', 'statefulset/db']);
  assert.equal(r.code, 0, r.stderr);
  await until('back on db:1', async () => {
    const pods = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=db' })).items.filter(ready);
    return pods.length === 4 && pods.every((p) => p.spec.containers[0].image === 'db:1');
  }, 60_000);
  inf.stop();
  assert.equal((await kubectl('1.33', ['delete', 'statefulset', 'db'])).code, 0);
  await until('pods gone', async () => (await cp.client.list(R.pods, 'default', { labelSelector: 'app=db' })).items.length === 0);
});

test('a DaemonSet follows nodes added and removed, honours its nodeSelector and taints, and rolls out an update', async () => {
  const ds = (image: string) => JSON.stringify({
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { role: 'worker' }, containers: [{ name: 'c', image }] } },
    },
  });
  const podsByNode = async () => {
    const pods = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=agent' })).items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running');
    return pods.map((p) => p.spec.nodeName).sort().join(',');
  };
  await sim.addNode({ name: 'd1', labels: { role: 'worker' } });
  await sim.addNode({ name: 'd2', labels: { role: 'worker' } });
  await sim.addNode({ name: 'd3', labels: { role: 'worker' }, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
  let r = await kubectl('1.33', ['apply', '-f', '-'], ds('agent:1'));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'daemonset/agent', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(await podsByNode(), 'd1,d2', 'only labelled, untainted nodes (w-0/w-1 lack the label; d3 is tainted)');
  const pod = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=agent' })).items[0];
  assert.ok(pod.spec.tolerations.some((t: any) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute'), 'daemon tolerations added');
  // A new eligible node gets a pod; a removed node's pod goes.
  await sim.addNode({ name: 'd4', labels: { role: 'worker' } });
  await until('a pod on d4', async () => (await podsByNode()) === 'd1,d2,d4');
  await sim.removeNode('d1');
  await until('d1\'s pod gone', async () => (await cp.client.list(R.pods, 'default', { labelSelector: 'app=agent', fieldSelector: 'spec.nodeName=d1' })).items.length === 0);
  assert.equal(await podsByNode(), 'd2,d4');
  await until('status: 2 desired, 2 scheduled', async () => {
    const st = (await cp.client.get(R.daemonsets, 'default', 'agent')).status;
    return st.desiredNumberScheduled === 2 && st.currentNumberScheduled === 2;
  });
  // Rolling update.
  r = await kubectl('1.33', ['apply', '-f', '-'], ds('agent:2'));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'daemonset/agent', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await until('all on agent:2', async () => {
    const pods = (await cp.client.list(R.pods, 'default', { labelSelector: 'app=agent' })).items.filter((p) => !p.metadata.deletionTimestamp);
    return pods.length === 2 && pods.every((p) => p.spec.containers[0].image === 'agent:2');
  });
  r = await kubectl('1.27', ['rollout', 'history', 'daemonset/agent']);
  assert.match(r.stdout, /1\s+<none>\n2\s+<none>/);
  assert.equal((await kubectl('1.33', ['delete', 'daemonset', 'agent'])).code, 0);
});
