/**
 * A Deployment rolled to a new image on real containers (issue #7): 3 busybox httpd replicas
 * with an httpGet readiness probe, `kubectl set image`, `kubectl rollout status` returns once
 * every replica runs the new image and answers; the old ReplicaSet is scaled to zero and its
 * containers are gone from the node; `rollout undo` brings the first image back.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { ensureBusyboxImage, skiff } from './helpers/images.js';
import { skiffUp, skiffUpCleanup } from './helpers/up.js';

let root: string;
let proc: ChildProcess | undefined;

const kubectl = (...args: string[]) => skiff(root, ['kubectl', ...args], { env: { HOME: root } });

after(() => skiffUpCleanup(proc, root));

const deployment = {
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' } },
    strategy: { rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [{
          name: 'web', image: 'busybox:v1', imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
        }],
      },
    },
  },
};

async function podsOf(): Promise<any[]> {
  const r = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).items;
}

test('kubectl set image rolls 3 busybox httpd replicas to a new image; rollout status returns; undo goes back', async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-rollout-');
  await ensureBusyboxImage(root, 'busybox:v1');
  await ensureBusyboxImage(root, 'busybox:v2');
  proc = await skiffUp(root, 'rollout-test');
  let r = await kubectl('wait', '--for=condition=Ready', 'node/rollout-test', '--timeout=60s');
  assert.equal(r.code, 0, r.stderr);
  r = await skiff(root, ['kubectl', 'apply', '-f', '-'], { input: JSON.stringify(deployment), env: { HOME: root } });
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('rollout', 'status', 'deployment/web', '--timeout=120s');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const first = await podsOf();
  assert.equal(first.length, 3);

  r = await kubectl('set', 'image', 'deployment/web', 'web=busybox:v2');
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('rollout', 'status', 'deployment/web', '--timeout=120s');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /successfully rolled out/);
  // Replaced pods finish terminating after the rollout counts them out.
  let now: any[] = [];
  for (let i = 0; i < 100; i++) {
    now = await podsOf();
    if (now.length === 3) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(now.length, 3, 'three pods, the old ones gone');
  for (const p of now) {
    assert.equal(p.spec.containers[0].image, 'busybox:v2');
    assert.equal(p.status.phase, 'Running');
    assert.equal(p.status.containerStatuses[0].ready, true);
    assert.ok(!first.some((f) => f.metadata.uid === p.metadata.uid), 'every pod was replaced');
    // Each replica answers, from its own pod.
    r = await kubectl('exec', p.metadata.name, '--', 'wget', '-qO-', 'http://127.0.0.1:8080/');
    assert.equal(r.stdout.trim(), p.metadata.name);
  }
  r = await kubectl('get', 'rs', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.spec.template.spec.containers[0].image}={.status.replicas}{"\\n"}{end}');
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['busybox:v1=0', 'busybox:v2=3']);
  // The node runs exactly the new pods' containers.
  const ps = await skiff(root, ['ps', '--no-trunc']);
  assert.deepEqual(ps.stdout.match(/k8s_web_web-[^_]+/g)?.sort(), now.map((p) => `k8s_web_${p.metadata.name}`).sort(), ps.stdout);

  r = await kubectl('rollout', 'undo', 'deployment/web');
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('rollout', 'status', 'deployment/web', '--timeout=120s');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  r = await kubectl('get', 'deployment', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}');
  assert.equal(r.stdout, 'busybox:v1');
});
