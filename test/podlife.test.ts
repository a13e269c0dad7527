/**
 * A pod's life as the kubelet runs it, end to end through `skiff up` (real runc/conmon/CNI)
 * and the real kubectl 1.27 (SPDY streams) and 1.33 (WebSocket streams):
 * - one pod with an init container, a configMap volume, a secret in its env and an httpGet
 *   readiness probe: the init container ran first (the app serves the file it wrote into an
 *   emptyDir), the configMap's file and the secret's value are in the container, Ready and
 *   ContainersReady turn True only once the probe passes, and an edit of the ConfigMap reaches
 *   the mounted file within the agent's sync period (`--sync-frequency 2s` here; 1 min by
 *   default, as the kubelet's);
 * - `kubectl set image` on a running pod (restartPolicy Never): the container is killed
 *   ("definition changed"), started again from the new image, restartCount 1, status image
 *   updated; other spec changes are refused with the API server's 422;
 * - activeDeadlineSeconds set on a running pod: the pod fails with reason DeadlineExceeded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile, type ChildProcess } from 'node:child_process';
import { ensureBusyboxImage, ensureToolsImage } from './helpers/images.js';
import { until } from './helpers/cluster.js';
import { kubectlBin } from './helpers/apiserver.js';
import { skiffUp, skiffUpCleanup } from './helpers/up.js';

const NODE = 'podlife-test';
const SYNC_MS = 2000;
let root: string;
let proc: ChildProcess | undefined;

/** Runs kubectl of version `v` (never throws). */
function kubectl(v: '1.27' | '1.33', args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(kubectlBin(v), args, { env: { PATH: process.env.PATH, HOME: root, KUBECONFIG: path.join(root, 'kubeconfig.yaml') }, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
    c.stdin!.end(input ?? '');
  });
}

async function ok(v: '1.27' | '1.33', args: string[], input?: string): Promise<string> {
  const r = await kubectl(v, args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const apply = (v: '1.27' | '1.33', obj: object) => ok(v, ['apply', '-f', '-'], JSON.stringify(obj));
const getPod = async (name: string): Promise<any> => JSON.parse(await ok('1.33', ['get', 'pod', name, '-o', 'json']));
const cond = (p: any, type: string) => p.status?.conditions?.find((c: any) => c.type === type);
const events = async (pod: string) => JSON.parse(await ok('1.33', ['get', 'events', '--field-selector', `involvedObject.name=${pod}`, '-o', 'json'])).items as any[];

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-podlife-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  // A second image: busybox without the first one's /var/www (so the running image can be told apart).
  await ensureToolsImage(root, 'skiff-alt:v2', []);
  proc = await skiffUp(root, NODE, {}, ['--sync-frequency', `${SYNC_MS}ms`]);
  await ok('1.33', ['wait', '--for=condition=Ready', `node/${NODE}`, '--timeout=60s']);
});

after(() => skiffUpCleanup(proc, root));

test('init container, configMap volume, secret env and readiness probe: Ready only after the probe passes; a ConfigMap edit reaches the file', async () => {
  await apply('1.33', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config' }, data: { 'app.conf': 'mode=blue\n' } });
  await apply('1.33', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web-secret' }, stringData: { token: 't0ken-42' } });
  await apply('1.27', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' },
    spec: {
      terminationGracePeriodSeconds: 1,
      initContainers: [{
        name: 'seed', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', 'echo "seeded by init" > /work/index.html; echo init >> /work/order'],
        volumeMounts: [{ name: 'work', mountPath: '/work' }],
      }],
      containers: [{
        name: 'app', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent',
        // What the app found at its start proves the init container had finished before.
        command: ['sh', '-c', 'echo "app saw: $(cat /work/index.html)" >> /work/order; exec httpd -f -p 8080 -h /work'],
        env: [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'web-secret', key: 'token' } } }],
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
        volumeMounts: [{ name: 'work', mountPath: '/work' }, { name: 'cfg', mountPath: '/etc/app' }],
      }],
      volumes: [{ name: 'work', emptyDir: {} }, { name: 'cfg', configMap: { name: 'web-config' } }],
    },
  });

  // Running, the probe failing (404): not Ready.
  const running = await until('the app container running', async () => {
    const p = await getPod('web');
    return p.status?.containerStatuses?.[0]?.state?.running && p;
  }, 90_000);
  assert.equal(running.status.phase, 'Running');
  assert.equal(cond(running, 'Initialized').status, 'True');
  const init = running.status.initContainerStatuses[0];
  assert.equal(init.state.terminated.reason, 'Completed');
  assert.ok(Date.parse(init.state.terminated.finishedAt) <= Date.parse(running.status.containerStatuses[0].state.running.startedAt), 'init finished before the app started');
  assert.equal(await ok('1.27', ['exec', 'web', '-c', 'app', '--', 'cat', '/work/order']), 'init\napp saw: seeded by init\n');
  // The app serves what the init container wrote.
  assert.equal(await ok('1.33', ['exec', 'web', '--', 'wget', '-qO-', 'http://127.0.0.1:8080/index.html']), 'seeded by init\n');
  // Several probe periods with a failing probe: still not ready.
  await new Promise((r) => setTimeout(r, 3000));
  const unready = await getPod('web');
  assert.equal(unready.status.containerStatuses[0].ready, false);
  assert.equal(cond(unready, 'ContainersReady').status, 'False');
  assert.equal(cond(unready, 'ContainersReady').message, 'containers with unready status: [app]');
  assert.equal(cond(unready, 'Ready').status, 'False');
  assert.ok((await events('web')).some((e) => e.reason === 'Unhealthy' && /Readiness probe failed: HTTP probe failed with statuscode: 404/.test(e.message)));

  // The probe passes once /ready exists: Ready and ContainersReady turn True then, not before.
  const before = Math.floor(Date.now() / 1000) * 1000;
  await ok('1.27', ['exec', 'web', '--', 'touch', '/work/ready']);
  await ok('1.33', ['wait', '--for=condition=Ready', 'pod/web', '--timeout=30s']);
  const ready = await getPod('web');
  for (const type of ['Ready', 'ContainersReady']) {
    const c = cond(ready, type);
    assert.equal(c.status, 'True', type);
    assert.ok(Date.parse(c.lastTransitionTime) >= before, `${type} turned True at ${c.lastTransitionTime}, after the probe could pass (${new Date(before).toISOString()})`);
  }
  assert.equal(ready.status.containerStatuses[0].ready, true);

  // The configMap's file and the secret's value inside the container.
  assert.equal(await ok('1.33', ['exec', 'web', '--', 'cat', '/etc/app/app.conf']), 'mode=blue\n');
  assert.match(await ok('1.27', ['exec', 'web', '--', 'env']), /^API_TOKEN=t0ken-42$/m);

  // An edit of the ConfigMap reaches the mounted file within the sync period (plus a margin).
  const t0 = Date.now();
  await apply('1.27', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config' }, data: { 'app.conf': 'mode=green\n' } });
  await until('the mounted file to change', async () => (await kubectl('1.33', ['exec', 'web', '--', 'cat', '/etc/app/app.conf'])).stdout === 'mode=green\n', 60_000);
  const took = Date.now() - t0;
  assert.ok(took < SYNC_MS + 15_000, `the edit took ${took} ms with a ${SYNC_MS} ms sync period`);
  await ok('1.33', ['delete', 'pod', 'web', '--wait=true', '--timeout=60s']);
});

test('kubectl set image on a running pod restarts the container with the new image; other spec changes are refused', async () => {
  await apply('1.33', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'img' },
    spec: { terminationGracePeriodSeconds: 1, restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
  });
  await ok('1.33', ['wait', '--for=condition=Ready', 'pod/img', '--timeout=90s']);
  const first = (await getPod('img')).status.containerStatuses[0];
  assert.equal(first.image, 'docker.io/library/busybox:1.36');
  assert.equal(first.restartCount, 0);
  assert.equal((await kubectl('1.33', ['exec', 'img', '--', 'test', '-e', '/var/www/index.html'])).code, 0, 'the first image has /var/www');

  await ok('1.27', ['set', 'image', 'pod/img', 'c=skiff-alt:v2']);
  const after = await until('the container restarted with the new image', async () => {
    const s = (await getPod('img')).status?.containerStatuses?.[0];
    return s?.restartCount === 1 && s.state?.running && s.ready && s;
  }, 90_000);
  assert.equal(after.image, 'docker.io/library/skiff-alt:v2');
  assert.notEqual(after.containerID, first.containerID);
  assert.notEqual(after.imageID, first.imageID);
  assert.ok(after.lastState.terminated, JSON.stringify(after.lastState));
  const pod = await getPod('img');
  assert.equal(pod.status.phase, 'Running', 'restarted whatever the restartPolicy (Never)');
  assert.equal((await kubectl('1.33', ['exec', 'img', '--', 'test', '-e', '/var/www/index.html'])).code, 1, 'the new image runs');
  const evs = await events('img');
  const killing = evs.find((e) => e.reason === 'Killing');
  assert.equal(killing?.message, 'Container c definition changed, will be restarted');
  assert.ok(evs.some((e) => e.reason === 'Started' && e.count === 2) || evs.filter((e) => e.reason === 'Started').length === 2, JSON.stringify(evs.map((e) => [e.reason, e.message, e.count])));

  // Only the updatable fields may change.
  const cmd = await kubectl('1.33', ['patch', 'pod', 'img', '-p', '{"spec":{"containers":[{"name":"c","command":["sleep","1"]}]}}']);
  assert.notEqual(cmd.code, 0);
  assert.match(cmd.stderr, /The Pod "img" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`,`spec.initContainers\[\*\].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` \(only additions to existing tolerations\),`spec.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)/);
  assert.match(cmd.stderr, /spec\.containers\[0\]\.command\[1\]: "3600" -> "1"/);
  await ok('1.27', ['patch', 'pod', 'img', '-p', '{"spec":{"activeDeadlineSeconds":3600}}']);
  const raise = await kubectl('1.27', ['patch', 'pod', 'img', '-p', '{"spec":{"activeDeadlineSeconds":7200}}']);
  assert.notEqual(raise.code, 0);
  assert.match(raise.stderr, /spec.activeDeadlineSeconds: Invalid value: 7200: must be less than or equal to previous value/);
  await ok('1.33', ['delete', 'pod', 'img', '--wait=true', '--timeout=60s']);
});

test('activeDeadlineSeconds set on a running pod: the pod fails with reason DeadlineExceeded', async () => {
  await apply('1.33', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'deadline' },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
  });
  await ok('1.33', ['wait', '--for=condition=Ready', 'pod/deadline', '--timeout=90s']);
  const start = Date.parse((await getPod('deadline')).status.startTime);
  await ok('1.27', ['patch', 'pod', 'deadline', '-p', '{"spec":{"activeDeadlineSeconds":4}}']);
  const failed = await until('the pod to fail', async () => {
    const p = await getPod('deadline');
    return p.status?.phase === 'Failed' && p;
  }, 60_000);
  assert.ok(Date.now() >= start + 4000, 'not before the deadline');
  assert.equal(failed.status.reason, 'DeadlineExceeded');
  assert.equal(failed.status.message, 'Pod was active on the node longer than the specified deadline');
  assert.equal(cond(failed, 'Ready').status, 'False');
  await until('the container to stop', async () => (await getPod('deadline')).status.containerStatuses[0].state.terminated, 30_000);
  const evs = await events('deadline');
  assert.ok(evs.some((e) => e.reason === 'DeadlineExceeded' && e.type === 'Normal' && e.message === 'Pod was active on the node longer than the specified deadline'), JSON.stringify(evs.map((e) => e.reason)));
  assert.equal(await ok('1.27', ['get', 'pod', 'deadline', '-o', 'jsonpath={.status.phase}/{.status.reason}']), 'Failed/DeadlineExceeded');
  await ok('1.33', ['delete', 'pod', 'deadline', '--wait=true', '--timeout=60s']);
});

test('kubectl logs: --previous, --timestamps, --since-time, --since, --tail and --limit-bytes', async () => {
  await apply('1.33', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'logger' },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo early; sleep 1; echo late >&2; sleep 1; exit 1'] }] },
  });
  // The first restart comes at once; the previous instance's log stays readable.
  await until('a restart', async () => (await getPod('logger')).status?.containerStatuses?.[0]?.restartCount >= 1, 90_000);
  assert.equal(await ok('1.27', ['logs', 'logger', '--previous']), 'early\nlate\n');
  const stamped = (await ok('1.33', ['logs', 'logger', '--previous', '--timestamps'])).split('\n');
  assert.match(stamped[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z early$/);
  const lateAt = stamped[1].split(' ')[0];
  assert.ok(Date.parse(lateAt) - Date.parse(stamped[0].split(' ')[0]) >= 900, stamped.join('\n'));
  // A line logged at the since time is included, earlier ones are not.
  assert.equal(await ok('1.33', ['logs', 'logger', '--previous', `--since-time=${lateAt}`]), 'late\n');
  assert.equal(await ok('1.27', ['logs', 'logger', '--previous', '--since=1h']), 'early\nlate\n');
  assert.equal(await ok('1.27', ['logs', 'logger', '--previous', '--tail=1']), 'late\n');
  assert.equal(await ok('1.33', ['logs', 'logger', '--previous', '--limit-bytes=3']), 'ear');
  await ok('1.33', ['delete', 'pod', 'logger', '--wait=true', '--timeout=60s']);
});
