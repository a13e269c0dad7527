/**
 * Probes and lifecycle hooks end to end through `skiff up` (real runc, CNI, kubectl): an exec
 * readiness probe makes a pod Ready only once a file exists (and unready when it goes); an
 * httpGet readiness probe against busybox httpd (port by name) with a tcpSocket liveness probe,
 * beside a container whose httpGet gets 404 and stays unready; a failing httpGet liveness probe
 * restarts its container with the probe's own grace period (restartCount grows; Unhealthy and
 * Killing events through kubectl get events); a startup probe holds liveness back; postStart
 * writes a file the container waits for; preStop runs before the stop signal on kubectl
 * delete (seen in order in kubectl logs -f); a failing postStart kills and restarts; probes
 * go on after the agent restarts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, skiff } from './helpers/images.js';
import { skiffUp } from './helpers/up.js';
import { until } from './helpers/cluster.js';
import { confDir, defaultConfList } from '../src/engine/network/config.js';
import { dropBridge } from './network-helpers.js';

/** A pod network of its own: pods of other data roots on the default bridge may hold the same IPs. */
const NETWORK = { name: 'skiff-probes-test', bridge: 'skiffpr0', subnet: '10.93.0.0/16' };

let root: string;
let proc: ChildProcess | undefined;

const up = () => skiffUp(root, 'probes-test');

const kubectl = (...args: string[]) => skiff(root, ['kubectl', ...args], { env: { HOME: root } });
const apply = (obj: object) => skiff(root, ['kubectl', 'apply', '-f', '-'], { input: JSON.stringify(obj), env: { HOME: root } });

async function getPod(name: string): Promise<any> {
  const r = await kubectl('get', 'pod', name, '-o', 'json');
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

async function events(name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const r = await kubectl('get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).items.map((e: any) => ({ reason: e.reason, message: e.message, type: e.type }));
}


const condition = (p: any, type: string) => p?.status?.conditions?.find((c: any) => c.type === type);
const cs = (p: any, name = 'c') => p?.status?.containerStatuses?.find((c: any) => c.name === name);
const IMG = { image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent' };
const pod = (name: string, spec: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 5, ...spec } });

after(async () => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  if (root) {
    await skiff(root, ['down']).catch(() => {});
    await fs.rm(root, { recursive: true, force: true });
  }
  await dropBridge(NETWORK.bridge, NETWORK.subnet);
});

test('probes and lifecycle hooks through skiff up and kubectl', async (t) => {
  root = await fs.mkdtemp('/var/tmp/skiff-probes-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  await fs.mkdir(confDir(root), { recursive: true });
  await fs.writeFile(`${confDir(root)}/87-${NETWORK.name}.conflist`, JSON.stringify(defaultConfList(root, NETWORK)));
  proc = await up();
  let r = await kubectl('wait', '--for=condition=Ready', 'node/probes-test', '--timeout=60s');
  assert.equal(r.code, 0, r.stderr);

  // Everything is created at once; each part then checks its own pod.
  const pods = [
    pod('ready-file', { containers: [{ name: 'c', ...IMG, command: ['sleep', '3600'], readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1, failureThreshold: 1 } }] }),
    pod('web', {
      containers: [
        {
          name: 'web', ...IMG, command: ['sh', '-c', 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 1 },
          livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 2 },
        },
        { name: 'bad', ...IMG, command: ['sleep', '3600'], readinessProbe: { httpGet: { path: '/nope', port: 8080 }, periodSeconds: 1 } },
      ],
    }),
    pod('live', {
      terminationGracePeriodSeconds: 60,
      containers: [{
        name: 'c', ...IMG,
        command: ['sh', '-c', 'while true; do printf "HTTP/1.1 500 Internal Server Error\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n" | nc -l -p 8080; done'],
        // SIGTERM is ignored by the shell (PID 1): only the probe's own grace period (2 s floor) makes the restart quick.
        livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 1, terminationGracePeriodSeconds: 1 },
      }],
    }),
    pod('hooks', {
      containers: [{
        name: 'c', ...IMG,
        command: ['sh', '-c', 'while [ ! -f /tmp/poststart ]; do sleep 0.1; done; echo "saw $(cat /tmp/poststart)"; trap "echo got TERM; exit 0" TERM; while true; do sleep 0.2; done'],
        lifecycle: {
          postStart: { exec: { command: ['sh', '-c', 'echo poststart > /tmp/poststart'] } },
          preStop: { exec: { command: ['sh', '-c', 'echo prestop ran > /proc/1/fd/1; sleep 1'] } },
        },
      }],
    }),
    pod('badhook', { containers: [{ name: 'c', ...IMG, command: ['sleep', '3600'], lifecycle: { postStart: { exec: { command: ['sh', '-c', 'exit 3'] } } } }] }),
  ];
  for (const p of pods) {
    r = await apply(p);
    assert.equal(r.code, 0, r.stderr);
  }

  await t.test('an exec readiness probe: Ready only once the file exists, unready when it goes', async () => {
    const p = await until('ready-file running', async () => { const p = await getPod('ready-file'); return cs(p)?.state?.running && p; });
    await until('a failed readiness probe event', async () => (await events('ready-file')).find((e) => e.reason === 'Unhealthy'));
    const now = await getPod('ready-file');
    assert.equal(cs(now).ready, false);
    assert.equal(cs(now).started, true);
    assert.equal(condition(now, 'Ready').status, 'False');
    assert.equal(condition(now, 'ContainersReady').message, 'containers with unready status: [c]');
    const ev = (await events('ready-file')).find((e) => e.reason === 'Unhealthy')!;
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message, "Readiness probe failed: cat: can't open '/tmp/ready': No such file or directory\n");
    assert.equal(p.status.phase, 'Running');
    r = await kubectl('exec', 'ready-file', '--', 'touch', '/tmp/ready');
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl('wait', '--for=condition=Ready', 'pod/ready-file', '--timeout=30s');
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl('get', 'pod', 'ready-file');
    assert.match(r.stdout, /ready-file\s+1\/1\s+Running\s+0/);
    r = await kubectl('exec', 'ready-file', '--', 'rm', '/tmp/ready');
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl('wait', '--for=condition=Ready=false', 'pod/ready-file', '--timeout=30s');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(cs(await getPod('ready-file')).restartCount, 0, 'readiness never restarts');
  });

  await t.test('httpGet readiness against busybox httpd (port by name), tcpSocket liveness; a 404 keeps the other container unready', async () => {
    const p = await until('web container ready', async () => { const p = await getPod('web'); return cs(p, 'web')?.ready && p; });
    assert.equal(cs(p, 'bad').ready, false);
    assert.equal(condition(p, 'ContainersReady').status, 'False');
    assert.equal(condition(p, 'ContainersReady').message, 'containers with unready status: [bad]');
    await until('the 404 event', async () => (await events('web')).find((e) => e.reason === 'Unhealthy' && e.message === 'Readiness probe failed: HTTP probe failed with statuscode: 404'));
    r = await kubectl('get', 'pod', 'web');
    assert.match(r.stdout, /web\s+1\/2\s+Running\s+0/);
    assert.equal(cs(p, 'web').restartCount, 0, 'the tcpSocket liveness probe passes');
    // kubectl describe shows the probes with their defaults, as the API server wrote them.
    r = await kubectl('describe', 'pod', 'web');
    assert.match(r.stdout, /Readiness:\s+http-get http:\/\/:http\/index.html delay=0s timeout=1s period=1s #success=1 #failure=3/);
    assert.match(r.stdout, /Liveness:\s+tcp-socket :8080 delay=0s timeout=1s period=1s #success=1 #failure=2/);
  });

  await t.test('a failing liveness probe restarts the container with the probe\'s grace period; events through kubectl', async () => {
    const p = await until('two restarts', async () => { const p = await getPod('live'); return cs(p)?.restartCount >= 2 && p; }, 50_000);
    assert.equal(cs(p).lastState.terminated.exitCode, 137, 'SIGKILL after the probe\'s grace period');
    const evs = await events('live');
    assert.ok(evs.some((e) => e.type === 'Warning' && e.reason === 'Unhealthy' && e.message === 'Liveness probe failed: HTTP probe failed with statuscode: 500'), JSON.stringify(evs));
    assert.ok(evs.some((e) => e.type === 'Normal' && e.reason === 'Killing' && e.message === 'Container c failed liveness probe, will be restarted'), JSON.stringify(evs));
    r = await kubectl('get', 'events', '--field-selector', 'involvedObject.name=live');
    assert.match(r.stdout, /Unhealthy\s+pod\/live\s+Liveness probe failed: HTTP probe failed with statuscode: 500/);
  });

  await t.test('a startup probe holds liveness back until it succeeds', async () => {
    // Made now: the earlier parts take longer than its 6 s start.
    r = await apply(pod('slow', {
      containers: [{
        name: 'c', ...IMG, command: ['sh', '-c', 'sleep 6; touch /tmp/started; exec sleep 3600'],
        startupProbe: { exec: { command: ['cat', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 30 },
        livenessProbe: { exec: { command: ['cat', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 1 },
      }],
    }));
    assert.equal(r.code, 0, r.stderr);
    await until('slow running', async () => cs(await getPod('slow'))?.state?.running);
    // Look while the startup probe is failing (the file comes after 6 s).
    await until('a startup probe failure', async () => (await events('slow')).some((e) => e.message.startsWith('Startup probe failed')));
    const mid = await getPod('slow');
    if (!(await kubectl('exec', 'slow', '--', 'test', '-f', '/tmp/started')).code) assert.fail('the container started too soon for this check');
    assert.equal(cs(mid).started, false);
    assert.equal(cs(mid).ready, false);
    const done = await until('started and ready', async () => { const p = await getPod('slow'); return cs(p)?.ready && p; }, 40_000);
    assert.equal(cs(done).started, true);
    assert.equal(cs(done).restartCount, 0, 'liveness never ran before the start');
    const evs = await events('slow');
    assert.ok(evs.some((e) => e.message === "Startup probe failed: cat: can't open '/tmp/started': No such file or directory\n"), JSON.stringify(evs));
    assert.ok(!evs.some((e) => e.message.startsWith('Liveness probe')), JSON.stringify(evs));
  });

  await t.test('a failing postStart hook kills the container (FailedPostStartHook) and it restarts', async () => {
    const p = await until('a restart', async () => { const p = await getPod('badhook'); return cs(p)?.restartCount >= 1 && p; }, 40_000);
    const evs = await events('badhook');
    const uid = p.metadata.uid;
    assert.ok(evs.some((e) => e.type === 'Warning' && e.reason === 'FailedPostStartHook'
      && e.message === `Exec lifecycle hook ([sh -c exit 3]) for Container "c" in Pod "badhook_default(${uid})" failed - error: command 'sh -c exit 3' exited with 3: , message: ""`), JSON.stringify(evs));
    assert.ok(evs.some((e) => e.reason === 'Killing' && e.message === 'FailedPostStartHook'), JSON.stringify(evs));
  });

  await t.test('postStart writes a file the container sees; preStop runs before SIGTERM on kubectl delete', async () => {
    await until('hooks running', async () => cs(await getPod('hooks'))?.state?.running);
    r = await kubectl('exec', 'hooks', '--', 'cat', '/tmp/poststart');
    assert.equal(r.stdout, 'poststart\n');
    const follow = skiff(root, ['kubectl', 'logs', '-f', 'hooks'], { env: { HOME: root } });
    await until('the first log line', async () => (await kubectl('logs', 'hooks')).stdout.includes('saw poststart'));
    r = await kubectl('delete', 'pod', 'hooks', '--timeout=60s');
    assert.equal(r.code, 0, r.stderr);
    const logs = await follow;
    assert.equal(logs.stdout, 'saw poststart\nprestop ran\ngot TERM\n', logs.stderr);
    const evs = await events('hooks');
    assert.ok(evs.some((e) => e.reason === 'Killing' && e.message === 'Stopping container c'), JSON.stringify(evs));
    assert.ok(!evs.some((e) => e.reason === 'FailedPreStopHook'), JSON.stringify(evs));
  });

  await t.test('after the agent restarts, its probes run again', async () => {
    proc!.kill('SIGTERM');
    assert.equal(await new Promise((res) => proc!.once('exit', res)), 0);
    proc = await up();
    r = await kubectl('exec', 'ready-file', '--', 'touch', '/tmp/ready');
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl('wait', '--for=condition=Ready', 'pod/ready-file', '--timeout=30s');
    assert.equal(r.code, 0, r.stderr);
    const restarts = cs(await getPod('live')).restartCount;
    await until('liveness restarts go on', async () => cs(await getPod('live'))?.restartCount > restarts, 60_000);
  });

  r = await skiff(root, ['down']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await skiff(root, ['ps', '-a', '-q'])).stdout.trim(), '', 'no containers left');
});
