/**
 * `skiff up` end to end: one process runs the control plane and the node agent on this
 * machine; the real kubectl (through `skiff kubectl`) sees the node Ready and a pod's
 * container (real runc, CNI) running; SIGTERM stops the process and leaves the container
 * running, the next `skiff up` adopts it without a restart; `skiff down` removes everything.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { ensureBusyboxImage, skiff } from './helpers/images.js';
import { skiffUp, skiffUpCleanup } from './helpers/up.js';

let root: string;
let proc: ChildProcess | undefined;

const up = () => skiffUp(root, 'up-test');

const kubectl = (...args: string[]) => skiff(root, ['kubectl', ...args], { env: { HOME: root } });

after(() => skiffUpCleanup(proc, root));

test('skiff up runs a node that runs pods; SIGTERM keeps containers for the next up; skiff down removes them', async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-up-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  proc = await up();
  let r = await kubectl('wait', '--for=condition=Ready', 'node/up-test', '--timeout=60s');
  assert.equal(r.code, 0, r.stderr);
  const pod = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'sleeper' }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo hello from up; sleep 3600'] }] } });
  r = await skiff(root, ['kubectl', 'apply', '-f', '-'], { input: pod, env: { HOME: root } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pod\/sleeper created/);
  r = await kubectl('wait', '--for=condition=Ready', 'pod/sleeper', '--timeout=90s');
  assert.equal(r.code, 0, r.stderr + (await kubectl('describe', 'pod', 'sleeper')).stdout);
  r = await kubectl('get', 'pod', 'sleeper', '-o', 'wide');
  assert.match(r.stdout, /sleeper\s+1\/1\s+Running\s+0\s+\S+\s+10\.\d+\.\d+\.\d+\s+up-test/);
  // kubectl logs: API server -> the agent's stream server -> the container's log.
  r = await kubectl('logs', 'sleeper');
  assert.equal(r.stdout, 'hello from up\n', r.stderr);
  r = await kubectl('logs', 'sleeper', '--timestamps', '--tail=1');
  assert.match(r.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z hello from up\n$/);

  // kubectl exec (WebSocket v5 through the API server to the agent): streams and the exit code.
  r = await kubectl('exec', 'sleeper', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3');
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'out\n');
  assert.match(r.stderr, /^err\n/);
  r = await skiff(root, ['kubectl', 'exec', '-i', 'sleeper', '--', 'tr', 'a-z', 'A-Z'], { input: 'shout\n', env: { HOME: root } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'SHOUT\n');

  // Cluster DNS: the pod's resolv.conf points at kube-dns, which the proxy sends to the node's server.
  r = await kubectl('exec', 'sleeper', '--', 'cat', '/etc/resolv.conf');
  assert.match(r.stdout, /nameserver 10\.96\.0\.10/);
  assert.match(r.stdout, /search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
  r = await kubectl('exec', 'sleeper', '--', 'nslookup', 'kubernetes.default.svc.cluster.local');
  assert.match(r.stdout, /Address:\s+10\.96\.0\.1\b/, r.stdout + r.stderr);

  // SIGTERM: a clean stop; the container keeps running.
  const idBefore = (await kubectl('get', 'pod', 'sleeper', '-o', 'jsonpath={.status.containerStatuses[0].containerID}')).stdout;
  assert.match(idBefore, /^\w+:\/\/[0-9a-f]{64}$/);
  proc.kill('SIGTERM');
  assert.equal(await new Promise((res) => proc!.once('exit', res)), 0);
  const ps = await skiff(root, ['ps', '--no-trunc']);
  assert.match(ps.stdout, /echo hello from up/, 'the pod\'s container still runs');
  proc = await up();
  r = await kubectl('wait', '--for=condition=Ready', 'pod/sleeper', '--timeout=60s');
  assert.equal(r.code, 0, r.stderr);
  const restarts = await kubectl('get', 'pod', 'sleeper', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}');
  assert.equal(restarts.stdout, '0', 'adopted, not restarted');
  const idAfter = (await kubectl('get', 'pod', 'sleeper', '-o', 'jsonpath={.status.containerStatuses[0].containerID}')).stdout;
  assert.equal(idAfter, idBefore, 'the same container');

  // skiff down: the process stops and nothing of the pod is left.
  r = await skiff(root, ['down']);
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(await new Promise((res) => (proc!.exitCode !== null ? res(proc!.exitCode) : proc!.once('exit', res))), undefined);
  assert.equal((await skiff(root, ['ps', '-a', '-q'])).stdout.trim(), '', 'no containers left');
  assert.equal((await skiff(root, ['pod', 'ps', '-q'])).stdout.trim(), '', 'no sandboxes left');
});
