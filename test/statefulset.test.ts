/**
 * The StatefulSet controller end to end: a real API server, the controller as an API client,
 * simulated nodes (a round-robin binder standing in for the scheduler) and the real kubectl.
 * Ordering is observed through a watch: each pod's creation is logged with the pods Ready at
 * that moment, in the order the API server reports them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers/apiserver.js';
import { until } from './helpers/cluster.js';
import { TestBinder } from './helpers/job-binder.js';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { listWatch } from '../src/client/listwatch.js';
import { Informer, InformerFactory } from '../src/controllers/runtime/informer.js';
import { realClock } from '../src/controllers/runtime/clock.js';
import { MemoryRecorder } from '../src/controllers/runtime/events.js';
import { silentLog } from '../src/controllers/runtime/controller.js';
import { StatefulSetController } from '../src/controllers/statefulset/statefulset.js';
import { PVCProtectionController } from '../src/controllers/persistentvolume/protection.js';
import { SimNodes } from '../src/sim/nodes.js';

let server: TestServer;
let client: ApiClient;
let informers: InformerFactory;
let controller: StatefulSetController;
let protection: PVCProtectionController;
let sim: SimNodes;
let binder: TestBinder;
const recorder = new MemoryRecorder();

before(async () => {
  server = await startTestServer();
  client = await ApiClient.fromKubeconfig(server.kubeconfig);
  informers = new InformerFactory(client);
  controller = new StatefulSetController({ client, informers, clock: realClock, recorder, log: silentLog }).run();
  // Claims carry kubernetes.io/pvc-protection (admission): deleted ones go once no pod uses them.
  protection = new PVCProtectionController({ client, informers, clock: realClock, recorder, log: silentLog }).run();
  informers.start();
  sim = new SimNodes(client, { heartbeatMs: 1000 });
  await sim.start();
  await sim.addNodes(2, 'w');
  binder = await new TestBinder(client, ['w-0', 'w-1']).start();
});

after(async () => {
  binder?.stop();
  sim?.stop();
  controller?.stop();
  protection?.stop();
  informers?.stop();
  await server?.stop();
});

const ready = (p: KObject) => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const kubectl = (v: string, args: string[], input?: string) => server.kubectl(v, args, input === undefined ? {} : { input });

/** Logs "+pod [ready pods]" on each creation and "-pod" when a pod starts terminating, from a watch of `selector`. */
function watchLog(selector: string): { log: string[]; stop(): void; synced: Promise<void> } {
  const inf = new Informer(listWatch(client, R.pods, 'default', { labelSelector: selector }));
  const log: string[] = [];
  const readyNow = () => inf.list().filter(ready).map((p) => p.metadata.name).sort().join(',');
  inf.on({
    add: (p) => log.push(`+${p.metadata.name} [${readyNow()}]`),
    update: (o, p) => { if (!o.metadata.deletionTimestamp && p.metadata.deletionTimestamp) log.push(`-${p.metadata.name}`); },
  }).start();
  return { log, stop: () => inf.stop(), synced: inf.synced };
}

function manifest(o: { name: string; replicas: number; image?: string; partition?: number; policy?: string; retention?: any }): string {
  return JSON.stringify({
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: o.name, namespace: 'default' },
    spec: {
      replicas: o.replicas, serviceName: o.name, selector: { matchLabels: { app: o.name } },
      podManagementPolicy: o.policy ?? 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: o.partition ?? 0 } },
      ...(o.retention ? { persistentVolumeClaimRetentionPolicy: o.retention } : {}),
      template: {
        metadata: { labels: { app: o.name }, annotations: { 'sim.skiff.dev/ready-after-ms': '150' } },
        spec: { containers: [{ name: 'c', image: o.image ?? 'nginx:1' }] },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  });
}

const podsOf = async (app: string) => (await client.list(R.pods, 'default', { labelSelector: `app=${app}` })).items;
const claimNames = async (app: string) => (await client.list(R.persistentvolumeclaims, 'default', { labelSelector: `app=${app}` })).items.map((c) => c.metadata.name).sort();

test('OrderedReady: web-0 is Ready before web-1 exists; claims first; scale down in reverse, claims kept; kubectl rollout status', async () => {
  const w = watchLog('app=web');
  await w.synced;
  let r = await kubectl('1.33', ['apply', '-f', '-'], manifest({ name: 'web', replicas: 3 }));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'sts/web', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /partitioned roll out complete: 3 new pods have been updated/);
  assert.deepEqual(w.log.splice(0), ['+web-0 []', '+web-1 [web-0]', '+web-2 [web-0,web-1]'], 'each pod waits for the ones before it');
  assert.deepEqual(await claimNames('web'), ['data-web-0', 'data-web-1', 'data-web-2']);
  const p1 = await client.get(R.pods, 'default', 'web-1');
  assert.equal(p1.metadata.labels['statefulset.kubernetes.io/pod-name'], 'web-1');
  assert.equal(p1.metadata.labels['apps.kubernetes.io/pod-index'], '1');
  const sts = await client.get(R.statefulsets, 'default', 'web');
  assert.equal(p1.metadata.labels['controller-revision-hash'], sts.status.updateRevision);
  assert.deepEqual(p1.spec.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim, { claimName: 'data-web-1' });
  assert.equal(p1.spec.hostname, 'web-1');
  assert.equal(p1.spec.subdomain, 'web');
  assert.deepEqual(
    { replicas: sts.status.replicas, readyReplicas: sts.status.readyReplicas, currentReplicas: sts.status.currentReplicas, updatedReplicas: sts.status.updatedReplicas, same: sts.status.currentRevision === sts.status.updateRevision, observed: sts.status.observedGeneration === sts.metadata.generation },
    { replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, same: true, observed: true });
  const msgs = recorder.events.filter((e) => e.name === 'web').map((e) => `${e.reason}: ${e.message}`);
  assert.ok(msgs.includes('SuccessfulCreate: create Pod web-0 in StatefulSet web successful'), msgs.join('\n'));
  assert.ok(msgs.includes('SuccessfulCreate: create Claim data-web-0 Pod web-0 in StatefulSet web success'), msgs.join('\n'));
  assert.ok(msgs.indexOf('SuccessfulCreate: create Claim data-web-1 Pod web-1 in StatefulSet web success') < msgs.indexOf('SuccessfulCreate: create Pod web-1 in StatefulSet web successful'), 'the claim before its pod');

  r = await kubectl('1.33', ['scale', 'sts/web', '--replicas=1']);
  assert.equal(r.code, 0, r.stderr);
  await until('one pod left', async () => (await podsOf('web')).length === 1);
  assert.deepEqual(w.log.splice(0), ['-web-2', '-web-1'], 'highest ordinal first');
  assert.ok(recorder.events.some((e) => e.message === 'delete Pod web-2 in StatefulSet web successful' && e.reason === 'SuccessfulDelete'));
  assert.deepEqual(await claimNames('web'), ['data-web-0', 'data-web-1', 'data-web-2'], 'claims are retained on scale down by default');
  await until('status of 1', async () => (await client.get(R.statefulsets, 'default', 'web')).status.replicas === 1);
  w.stop();
});

test('a partitioned rolling update touches only ordinals >= partition; then the rest, highest first; rollout history and undo with kubectl 1.27 and 1.33', async () => {
  const w = watchLog('app=web');
  await w.synced;
  let r = await kubectl('1.33', ['apply', '-f', '-'], manifest({ name: 'web', replicas: 4, image: 'nginx:2', partition: 2 }));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'sts/web', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await until('4 ready pods, ordinals >= 2 on nginx:2', async () => {
    const pods = (await podsOf('web')).filter(ready);
    const img = (n: string) => pods.find((p) => p.metadata.name === n)?.spec.containers[0].image;
    return pods.length === 4 && img('web-0') === 'nginx:1' && img('web-1') === 'nginx:1' && img('web-2') === 'nginx:2' && img('web-3') === 'nginx:2';
  });
  assert.ok(!w.log.some((l) => l === '-web-0' || l === '-web-1'), `nothing below the partition was touched: ${w.log}`);
  const s = await client.get(R.statefulsets, 'default', 'web');
  assert.notEqual(s.status.currentRevision, s.status.updateRevision);
  assert.equal(s.status.updatedReplicas, 2);
  assert.equal(s.status.currentReplicas, 2);

  w.log.splice(0);
  r = await kubectl('1.33', ['patch', 'sts/web', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'sts/web', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await until('current = update', async () => { const x = await client.get(R.statefulsets, 'default', 'web'); return x.status.currentRevision === x.status.updateRevision && x.status.currentReplicas === 4; });
  assert.deepEqual(w.log.filter((l) => l.startsWith('-')), ['-web-1', '-web-0'], 'highest first, one at a time');

  for (const v of ['1.27', '1.33']) {
    r = await kubectl(v, ['rollout', 'history', 'sts/web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/, v);
    r = await kubectl(v, ['rollout', 'history', 'sts/web', '--revision=1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Image:\s+nginx:1/, v);
  }
  r = await kubectl('1.33', ['rollout', 'undo', 'sts/web']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /statefulset.apps\/web rolled back/);
  r = await kubectl('1.33', ['rollout', 'status', 'sts/web', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await until('all back on nginx:1', async () => {
    const pods = (await podsOf('web')).filter(ready);
    return pods.length === 4 && pods.every((p) => p.spec.containers[0].image === 'nginx:1');
  }, 60_000);
  r = await kubectl('1.27', ['rollout', 'history', 'sts/web']);
  assert.match(r.stdout, /\n2\s+<none>\n3\s+<none>\n/, 'the rollback renumbered revision 1 as 3');
  w.stop();
  assert.equal((await kubectl('1.33', ['delete', 'sts', 'web'])).code, 0);
  await until('pods gone', async () => (await podsOf('web')).length === 0);
  await until('revisions gone', async () => (await client.list(R.controllerrevisions, 'default', { labelSelector: 'app=web' })).items.length === 0);
});

test('Parallel: pods together; whenScaled=Delete removes the claims of scaled-away pods; a failed pod is recreated', async () => {
  const w = watchLog('app=par');
  await w.synced;
  let r = await kubectl('1.33', ['apply', '-f', '-'], manifest({ name: 'par', replicas: 3, policy: 'Parallel', retention: { whenScaled: 'Delete', whenDeleted: 'Retain' } }));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['rollout', 'status', 'sts/par', '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(w.log.slice(0, 3).map((l) => l.split(' ')[1]), ['[]', '[]', '[]'], `no pod waited for another: ${w.log}`);
  assert.deepEqual(await claimNames('par'), ['data-par-0', 'data-par-1', 'data-par-2']);

  // A failed pod: deleted and created again under its name.
  const old = await client.get(R.pods, 'default', 'par-1');
  await client.patch(R.pods, 'default', 'par-1', { status: { phase: 'Failed' } }, 'merge', { subresource: 'status' });
  await until('par-1 recreated and ready', async () => { const p = await client.get(R.pods, 'default', 'par-1').catch(() => undefined); return p && p.metadata.uid !== old.metadata.uid && ready(p); });
  assert.ok(recorder.events.some((e) => e.reason === 'RecreatingFailedPod' && e.message === 'StatefulSet default/par is recreating failed Pod par-1'));

  r = await kubectl('1.33', ['scale', 'sts/par', '--replicas=1']);
  assert.equal(r.code, 0, r.stderr);
  await until('claims of par-1 and par-2 gone', async () => (await claimNames('par')).join() === 'data-par-0');
  assert.equal((await podsOf('par')).length, 1);
  // Scaling up again makes fresh claims.
  r = await kubectl('1.33', ['scale', 'sts/par', '--replicas=2']);
  assert.equal(r.code, 0, r.stderr);
  await until('par-1 back with a claim', async () => (await claimNames('par')).join() === 'data-par-0,data-par-1' && (await podsOf('par')).filter(ready).length === 2);
  w.stop();
  assert.equal((await kubectl('1.33', ['delete', 'sts', 'par'])).code, 0);
});
