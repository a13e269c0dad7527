/**
 * Pod volumes end to end through `skiff up` (one process: control plane, node agent, real
 * runc/conmon/CNI) and the real kubectl 1.33: a configMap volume and a secret in the
 * environment read by the container; an update of the ConfigMap reaching the mounted file
 * within the kubelet's sync period while a subPath mount keeps the old content; an emptyDir
 * shared by an init container and the app; a Memory emptyDir that is a tmpfs of its
 * sizeLimit; a missing ConfigMap giving FailedMount (pod ContainerCreating) until it is
 * created; hostPath types; downwardAPI files; fsGroup; a PersistentVolumeClaim of the default
 * local-path StorageClass whose data survives the deletion and recreation of its pod and whose
 * directory goes with the claim; the service account token mounted and accepted by the API
 * server. At the end `skiff down` leaves no volume mount behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import https from 'node:https';
import { createPublicKey, verify } from 'node:crypto';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { SKIFF, ensureBusyboxImage, skiff } from './helpers/images.js';
import { until } from './helpers/cluster.js';
import { kubectlBin } from './helpers/apiserver.js';
import { skiffUp, skiffUpCleanup } from './helpers/up.js';

const NODE = 'vol-test';
let root: string;
let proc: ChildProcess | undefined;

const up = () => skiffUp(root, NODE);

const kubectl = (args: string[], input?: string) => skiff(root, ['kubectl', ...args], { input, env: { HOME: root } });

async function apply(obj: object): Promise<void> {
  const r = await kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  assert.equal(r.code, 0, r.stderr);
}

async function waitReady(pod: string, timeout = '90s'): Promise<void> {
  const r = await kubectl(['wait', '--for=condition=Ready', `pod/${pod}`, `--timeout=${timeout}`]);
  assert.equal(r.code, 0, r.stderr + (await kubectl(['describe', 'pod', pod])).stdout);
}

async function exec(pod: string, ...cmd: string[]): Promise<string> {
  const r = await kubectl(['exec', pod, '--', ...cmd]);
  assert.equal(r.code, 0, `${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function events(pod: string): Promise<string> {
  return (await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${pod}`, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}'])).stdout;
}

/** A pod of one busybox container (`container` adds to it) running `cmd`. */
const sleeper = (name: string, { container, ...spec }: any, cmd = 'sleep 3600') => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name },
  spec: { terminationGracePeriodSeconds: 1, ...spec, containers: spec.containers ?? [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', cmd], ...container }] },
});

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-vol-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  proc = await up();
  const r = await kubectl(['wait', '--for=condition=Ready', `node/${NODE}`, '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
});

after(() => skiffUpCleanup(proc, root));

test('a configMap volume and a secret in the environment; a ConfigMap update reaches the file, not the subPath mount', async () => {
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { 'app.conf': 'color=blue\n', other: 'x' } });
  await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret' }, stringData: { password: 's3cret' } });
  await apply(sleeper('cfg', {
    container: {
      env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } }],
      volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }, { name: 'cfg', mountPath: '/etc/pinned.conf', subPath: 'app.conf' }],
    },
    volumes: [{ name: 'cfg', configMap: { name: 'app-config', items: [{ key: 'app.conf', path: 'app.conf' }] } }],
  }));
  await waitReady('cfg');
  assert.equal(await exec('cfg', 'cat', '/etc/app/app.conf'), 'color=blue\n');
  assert.equal(await exec('cfg', 'sh', '-c', 'echo $PASSWORD'), 's3cret\n');
  assert.equal(await exec('cfg', 'ls', '/etc/app'), 'app.conf\n', 'only the listed item');
  assert.match(await exec('cfg', 'ls', '-la', '/etc/app/'), /\.\.data -> \.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+/);
  // Read-only, as every configMap volume.
  const w = await kubectl(['exec', 'cfg', '--', 'sh', '-c', 'echo x > /etc/app/new']);
  assert.notEqual(w.code, 0);
  assert.match(w.stderr, /Read-only file system/);

  const t0 = Date.now();
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { 'app.conf': 'color=green\n', other: 'x' } });
  await until('the mounted file to change', async () => (await exec('cfg', 'cat', '/etc/app/app.conf')) === 'color=green\n', 90_000);
  assert.ok(Date.now() - t0 <= 75_000, `the update took ${Date.now() - t0} ms (the kubelet's sync period is 1 min)`);
  assert.equal(await exec('cfg', 'cat', '/etc/pinned.conf'), 'color=blue\n', 'a subPath mount does not receive updates');
});

test('an emptyDir shared by an init container and the app; a Memory emptyDir is a tmpfs of its sizeLimit, unmounted with the pod', async () => {
  await apply({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'shared' },
    spec: {
      terminationGracePeriodSeconds: 1,
      initContainers: [{ name: 'init', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo from-init > /work/seed'], volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
      containers: [{ name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], volumeMounts: [{ name: 'work', mountPath: '/work' }, { name: 'cache', mountPath: '/cache' }] }],
      volumes: [{ name: 'work', emptyDir: {} }, { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }],
    },
  });
  await waitReady('shared');
  assert.equal(await exec('shared', 'cat', '/work/seed'), 'from-init\n');
  assert.match(await exec('shared', 'stat', '-c', '%a', '/work'), /^777\n$/);
  const mounts = await exec('shared', 'cat', '/proc/mounts');
  assert.match(mounts, /^tmpfs \/cache tmpfs \S*size=16384k/m, mounts);
  assert.doesNotMatch(mounts, /^tmpfs \/work /m, 'a disk emptyDir is no tmpfs');
  // Beyond the size: ENOSPC.
  const big = await kubectl(['exec', 'shared', '--', 'sh', '-c', 'dd if=/dev/zero of=/cache/big bs=1M count=20']);
  assert.notEqual(big.code, 0);
  assert.match(big.stderr, /No space left on device/);
  // On the host: the tmpfs under the pod's directory, gone with the pod.
  const uid = (await kubectl(['get', 'pod', 'shared', '-o', 'jsonpath={.metadata.uid}'])).stdout;
  const hostDir = path.join(root, 'pods', uid, 'volumes/kubernetes.io~empty-dir/cache');
  assert.match(await fs.readFile('/proc/self/mounts', 'utf8'), new RegExp(`^tmpfs ${hostDir} tmpfs`, 'm'));
  assert.equal((await kubectl(['delete', 'pod', 'shared', '--wait=true', '--timeout=60s'])).code, 0);
  await until('the pod directory to go', async () => !(await fs.stat(path.join(root, 'pods', uid)).catch(() => undefined)), 30_000);
  assert.doesNotMatch(await fs.readFile('/proc/self/mounts', 'utf8'), new RegExp(uid));
});

test('a missing ConfigMap is a FailedMount and the pod waits in ContainerCreating until the ConfigMap exists', async () => {
  await apply(sleeper('waits', { container: { volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }, volumes: [{ name: 'cfg', configMap: { name: 'late-config' } }] }));
  await until('a FailedMount event', async () => /FailedMount: MountVolume\.SetUp failed for volume "cfg" : configmap "late-config" not found/.test(await events('waits')), 30_000);
  const get = await kubectl(['get', 'pod', 'waits', '--no-headers']);
  assert.match(get.stdout, /^waits\s+0\/1\s+ContainerCreating\s+0/, get.stdout);
  const describe = (await kubectl(['describe', 'pod', 'waits'])).stdout;
  assert.match(describe, /Warning\s+FailedMount\s+.*kubelet\s+MountVolume\.SetUp failed for volume "cfg" : configmap "late-config" not found/, describe);
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-config' }, data: { greeting: 'hello' } });
  await waitReady('waits', '150s');
  assert.equal(await exec('waits', 'cat', '/cfg/greeting'), 'hello');
});

test('hostPath types, downwardAPI files, a secret volume with modes on a tmpfs, fsGroup ownership and subPathExpr', async () => {
  const hostDir = path.join(root, 'host-data');
  await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { user: 'admin', key: 'k3y' } });
  await apply({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'mixed', labels: { app: 'mixed', tier: 'db' }, annotations: { note: 'hi' } },
    spec: {
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsUser: 1000, fsGroup: 3000 },
      containers: [{
        name: 'c', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'],
        env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        resources: { limits: { memory: '32Mi' } },
        volumeMounts: [
          { name: 'host', mountPath: '/host' }, { name: 'info', mountPath: '/etc/podinfo' },
          { name: 'creds', mountPath: '/creds' }, { name: 'scratch', mountPath: '/scratch' },
          { name: 'scratch', mountPath: '/logs', subPathExpr: 'logs/$(POD)' },
        ],
      }],
      volumes: [
        { name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } },
        { name: 'info', downwardAPI: { items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'mem', resourceFieldRef: { containerName: 'c', resource: 'limits.memory', divisor: '1Mi' } },
        ] } },
        { name: 'creds', secret: { secretName: 'creds', defaultMode: 0o400, items: [{ key: 'key', path: 'api/key' }] } },
        { name: 'scratch', emptyDir: {} },
      ],
    },
  });
  await waitReady('mixed');
  assert.equal((await fs.stat(hostDir)).isDirectory(), true, 'DirectoryOrCreate made the host directory');
  assert.equal(await exec('mixed', 'cat', '/etc/podinfo/labels'), 'app="mixed"\ntier="db"');
  assert.equal(await exec('mixed', 'cat', '/etc/podinfo/name'), 'mixed');
  assert.equal(await exec('mixed', 'cat', '/etc/podinfo/mem'), '32');
  // A secret volume: only the item, mode 0400 with fsGroup's group read, readable through the group.
  assert.equal(await exec('mixed', 'cat', '/creds/api/key'), 'k3y');
  assert.equal(await exec('mixed', 'stat', '-L', '-c', '%a %u %g', '/creds/api/key'), '440 0 3000\n');
  assert.match(await exec('mixed', 'grep', ' /creds ', '/proc/mounts'), /^tmpfs \/creds tmpfs ro,/, 'never on disk');
  // fsGroup: the process has the group, the emptyDir belongs to it (setgid), new files inherit it.
  assert.match(await exec('mixed', 'id'), /uid=1000 gid=0\(root\) groups=3000/);
  assert.equal(await exec('mixed', 'stat', '-c', '%a %g', '/scratch'), '2777 3000\n');
  await exec('mixed', 'sh', '-c', 'echo x > /scratch/f && echo log > /logs/app.log');
  assert.equal(await exec('mixed', 'stat', '-c', '%u %g', '/scratch/f'), '1000 3000\n');
  assert.equal(await exec('mixed', 'cat', '/scratch/logs/mixed/app.log'), 'log\n', 'subPathExpr expanded $(POD)');
  // A label change reaches the downward API file.
  assert.equal((await kubectl(['label', 'pod', 'mixed', 'tier=cache', '--overwrite'])).code, 0);
  await until('the labels file to change', async () => (await exec('mixed', 'cat', '/etc/podinfo/labels')) === 'app="mixed"\ntier="cache"', 90_000);

  // A hostPath of the wrong type: FailedMount with the kubelet's words.
  await apply(sleeper('wrongtype', { container: { volumeMounts: [{ name: 'h', mountPath: '/h' }] }, volumes: [{ name: 'h', hostPath: { path: hostDir, type: 'File' } }] }));
  await until('a hostPath type FailedMount', async () => (await events('wrongtype')).includes(`FailedMount: MountVolume.SetUp failed for volume "h" : hostPath type check failed: ${hostDir} is not a file, it's a Directory`), 30_000);
  await kubectl(['delete', 'pod', 'wrongtype', 'mixed', '--wait=false']);
});

/** The API server's URL from the admin kubeconfig. */
async function serverURL(): Promise<string> {
  return /server: (https:\/\/\S+)/.exec(await fs.readFile(path.join(root, 'kubeconfig.yaml'), 'utf8'))![1];
}

/** kubectl 1.33 with only a bearer token (no admin certificate). */
async function withToken(token: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const flags = ['--kubeconfig=/dev/null', `--server=${await serverURL()}`, `--certificate-authority=${path.join(root, 'server/ca.crt')}`, `--token=${token}`];
  return new Promise((resolve) => {
    execFile(kubectlBin('1.33'), [...flags, ...args], { env: { PATH: process.env.PATH, HOME: root } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr }));
  });
}

const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));

test('the service account token is mounted as Kubernetes mounts it and the API server accepts it', async () => {
  const url = await serverURL();
  await apply(sleeper('sa-pod', {}));
  await waitReady('sa-pod');
  const spec = JSON.parse((await kubectl(['get', 'pod', 'sa-pod', '-o', 'json'])).stdout).spec;
  assert.equal(spec.serviceAccountName, 'default');
  const vol = spec.volumes.find((v: any) => /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/.test(v.name));
  assert.ok(vol, JSON.stringify(spec.volumes));
  assert.deepEqual(vol.projected.sources[0], { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } });
  assert.deepEqual(spec.containers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
  const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
  assert.equal(await exec('sa-pod', 'ls', dir), 'ca.crt\nnamespace\ntoken\n');
  assert.equal(await exec('sa-pod', 'cat', `${dir}/namespace`), 'default');
  assert.equal(await exec('sa-pod', 'cat', `${dir}/ca.crt`), await fs.readFile(path.join(root, 'server/ca.crt'), 'utf8'));
  const token = await exec('sa-pod', 'cat', `${dir}/token`);
  const c = claims(token);
  const uid = JSON.parse((await kubectl(['get', 'pod', 'sa-pod', '-o', 'json'])).stdout).metadata.uid;
  assert.equal(c.sub, 'system:serviceaccount:default:default');
  assert.deepEqual(c.aud, ['https://kubernetes.default.svc.cluster.local']);
  assert.deepEqual(c['kubernetes.io'].pod, { name: 'sa-pod', uid });
  assert.equal(c['kubernetes.io'].node.name, NODE);
  assert.equal(c['kubernetes.io'].warnafter, c.iat + 3607, 'the kubelet\'s 3607 s, extended to a year');
  assert.equal(c.exp - c.iat, 365 * 24 * 3600);

  // The API server accepts it: kubectl with only the token, and a plain HTTPS request.
  let r = await withToken(token, ['auth', 'whoami']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Username\s+system:serviceaccount:default:default/);
  assert.match(r.stdout, /Groups\s+\[system:serviceaccounts system:serviceaccounts:default system:authenticated\]/);
  assert.match(r.stdout, /authentication\.kubernetes\.io\/pod-name\s+\[sa-pod\]/);
  // RBAC: the token may review itself but read nothing until bound (here to view in its namespace).
  r = await withToken(token, ['get', 'pods', '-o', 'name']);
  assert.match(r.stderr, /pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"/);
  assert.equal((await kubectl(['create', 'rolebinding', 'sa-view', '--clusterrole=view', '--serviceaccount=default:default'])).code, 0);
  r = await withToken(token, ['get', 'pods', '-o', 'name']);
  assert.match(r.stdout, /pod\/sa-pod/, r.stderr);
  const res = await fetchWithCA(`${url}/api/v1/namespaces/default/pods/sa-pod`, token);
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).metadata.uid, uid);
  const [head, payload, sig] = token.split('.');
  // Issuer discovery: the published key verifies the token.
  assert.equal(JSON.parse((await fetchWithCA(`${url}/.well-known/openid-configuration`, token)).body).issuer, 'https://kubernetes.default.svc.cluster.local');
  const jwk = JSON.parse((await fetchWithCA(`${url}/openid/v1/jwks`, token)).body).keys[0];
  assert.equal(jwk.kid, JSON.parse(Buffer.from(head, 'base64url').toString()).kid);
  assert.ok(verify('sha256', Buffer.from(`${head}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(sig, 'base64url')));
  const forged = [head, Buffer.from(JSON.stringify({ ...c, sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url'), sig].join('.');
  assert.equal((await fetchWithCA(`${url}/api/v1/namespaces`, forged)).status, 401, 'claims changed under the signature');

  // kubectl create token (protobuf from kubectl 1.33): the TokenRequest API.
  r = await kubectl(['create', 'token', 'default', '--duration=15m']);
  assert.equal(r.code, 0, r.stderr);
  const made = claims(r.stdout.trim());
  assert.equal(made.exp - made.iat, 900);
  assert.equal((await withToken(r.stdout.trim(), ['auth', 'whoami'])).code, 0);
  r = await kubectl(['create', 'token', 'default', '--duration=1m']);
  assert.match(r.stderr, /spec\.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes/);

  // A pod that opts out gets nothing; a pod of a missing service account is refused.
  await apply(sleeper('no-sa', { automountServiceAccountToken: false }));
  assert.equal((await kubectl(['get', 'pod', 'no-sa', '-o', 'jsonpath={.spec.volumes}'])).stdout, '');
  r = await kubectl(['apply', '-f', '-'], JSON.stringify(sleeper('bad-sa', { serviceAccountName: 'nope' })));
  assert.match(r.stderr, /pods "bad-sa" is forbidden: error looking up service account default\/nope: serviceaccount "nope" not found/);

  // The token dies with its pod.
  assert.equal((await kubectl(['delete', 'pod', 'sa-pod', 'no-sa', '--wait=true', '--timeout=60s'])).code, 0);
  await until('the token to be refused', async () => (await fetchWithCA(`${url}/api/v1/namespaces`, token)).status === 401, 30_000);
});

/** An HTTPS GET with the cluster CA and a bearer token. */
async function fetchWithCA(url: string, token: string): Promise<{ status: number; body: string }> {
  const ca = await fs.readFile(path.join(root, 'server/ca.crt'));
  return new Promise((resolve, reject) => {
    https.get(url, { ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('a PersistentVolumeClaim of the default local-path class: provisioned on the node, data survives its pod, deleted with the claim', async () => {
  let r = await kubectl(['get', 'storageclass', '--no-headers']);
  assert.match(r.stdout, /^local-path \(default\)\s+rancher\.io\/local-path\s+Delete\s+WaitForFirstConsumer\s+false/, r.stdout);
  await apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } });
  r = await kubectl(['get', 'pvc', 'data', '-o', 'jsonpath={.spec.storageClassName} {.status.phase}']);
  assert.equal(r.stdout, 'local-path Pending', 'the DefaultStorageClass admission named the class');
  await until('WaitForFirstConsumer', async () => (await events('data')).includes('WaitForFirstConsumer: waiting for first consumer to be created before binding'), 30_000);

  const withClaim = (name: string, cmd: string) => sleeper(name, { container: { volumeMounts: [{ name: 'data', mountPath: '/data' }] }, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] }, cmd);
  await apply(withClaim('writer', 'echo persisted > /data/file; sleep 3600'));
  await waitReady('writer');
  const pvc = JSON.parse((await kubectl(['get', 'pvc', 'data', '-o', 'json'])).stdout);
  assert.equal(pvc.status.phase, 'Bound');
  assert.equal(pvc.metadata.annotations['volume.kubernetes.io/selected-node'], NODE);
  const pvName = `pvc-${pvc.metadata.uid}`;
  assert.equal(pvc.spec.volumeName, pvName);
  const pv = JSON.parse((await kubectl(['get', 'pv', pvName, '-o', 'json'])).stdout);
  const hostDir = path.join(root, 'storage', `${pvName}_default_data`);
  assert.deepEqual(pv.spec.hostPath, { path: hostDir, type: 'DirectoryOrCreate' });
  assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0], { key: 'kubernetes.io/hostname', operator: 'In', values: [NODE] });
  assert.equal(pv.metadata.annotations['pv.kubernetes.io/provisioned-by'], 'rancher.io/local-path');
  assert.equal(pv.status.phase, 'Bound');
  assert.match((await kubectl(['get', 'pv', pvName, '--no-headers'])).stdout, new RegExp(`^${pvName}\\s+64Mi\\s+RWO\\s+Delete\\s+Bound\\s+default/data\\s+local-path`));
  assert.match(await events('data'), /ProvisioningSucceeded: Successfully provisioned volume pvc-/);
  assert.equal(await fs.readFile(path.join(hostDir, 'file'), 'utf8'), 'persisted\n');

  // The pod goes and a new one finds the data.
  assert.equal((await kubectl(['delete', 'pod', 'writer', '--wait=true', '--timeout=60s'])).code, 0);
  await apply(withClaim('reader', 'sleep 3600'));
  await waitReady('reader');
  assert.equal(await exec('reader', 'cat', '/data/file'), 'persisted\n');

  // A claim in use is protected: deleting it waits for its pod; then the volume and directory go.
  assert.equal((await kubectl(['delete', 'pvc', 'data', '--wait=false'])).code, 0);
  await new Promise((res) => setTimeout(res, 2000));
  assert.match((await kubectl(['get', 'pvc', 'data', '--no-headers'])).stdout, /^data\s+Terminating/);
  assert.equal(await exec('reader', 'cat', '/data/file'), 'persisted\n');
  assert.equal((await kubectl(['delete', 'pod', 'reader', '--wait=true', '--timeout=60s'])).code, 0);
  await until('the claim, the volume and its directory to go', async () =>
    (await kubectl(['get', 'pvc', 'data'])).code !== 0 && (await kubectl(['get', 'pv', pvName])).code !== 0 && !(await fs.stat(hostDir).catch(() => undefined)), 60_000);

  // A pod naming a claim that does not exist is unschedulable, in kube-scheduler's words.
  await apply(sleeper('orphan-claim', { container: { volumeMounts: [{ name: 'd', mountPath: '/d' }] }, volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'missing' } }] }));
  await until('FailedScheduling', async () => /FailedScheduling: 0\/1 nodes are available: persistentvolumeclaim "missing" not found/.test(await events('orphan-claim')), 30_000);
  await kubectl(['delete', 'pod', 'orphan-claim', '--wait=false']);
});

test('volumes of a pod deleted while the node was down are removed at the next start; skiff down leaves no mount', async () => {
  await apply(sleeper('crashy', { container: { volumeMounts: [{ name: 'm', mountPath: '/m' }] }, volumes: [{ name: 'm', emptyDir: { medium: 'Memory' } }] }));
  await waitReady('crashy');
  const uid = (await kubectl(['get', 'pod', 'crashy', '-o', 'jsonpath={.metadata.uid}'])).stdout;
  assert.match(await fs.readFile('/proc/self/mounts', 'utf8'), new RegExp(uid));
  // The node goes away (its containers and mounts stay), the pod is force-deleted meanwhile.
  proc!.kill('SIGTERM');
  assert.equal(await new Promise((res) => proc!.once('exit', res)), 0);
  const server = spawn(process.execPath, [SKIFF, '--root', root, 'server', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((ok) => { let out = ''; server.stdout!.on('data', (d) => { out += d; if (out.includes('kubeconfig')) ok(); }); });
  const r = await kubectl(['delete', 'pod', 'crashy', '--grace-period=0', '--force']);
  assert.equal(r.code, 0, r.stderr);
  server.kill('SIGTERM');
  await new Promise((res) => server.once('exit', res));
  assert.match(await fs.readFile('/proc/self/mounts', 'utf8'), new RegExp(uid), 'still mounted while no agent runs');
  proc = await up();
  await until('the orphaned volumes to be unmounted and removed', async () =>
    !(await fs.readFile('/proc/self/mounts', 'utf8')).includes(uid) && !(await fs.stat(path.join(root, 'pods', uid)).catch(() => undefined))
    && !(await fs.stat(path.join(root, 'run/volumes', uid)).catch(() => undefined)), 30_000);

  // skiff down: every pod volume mount under the root is gone.
  await apply(sleeper('last', { container: { volumeMounts: [{ name: 'm', mountPath: '/m' }] }, volumes: [{ name: 'm', emptyDir: { medium: 'Memory' } }] }));
  await waitReady('last');
  assert.equal((await skiff(root, ['down'])).code, 0);
  await new Promise((res) => (proc!.exitCode !== null ? res(proc!.exitCode) : proc!.once('exit', res)));
  assert.doesNotMatch(await fs.readFile('/proc/self/mounts', 'utf8'), new RegExp(` ${root}/(pods|run/volumes)`));
  assert.equal(await fs.stat(path.join(root, 'pods')).catch(() => undefined), undefined);
  assert.equal(await fs.stat(path.join(root, 'run/volumes')).catch(() => undefined), undefined);
});
