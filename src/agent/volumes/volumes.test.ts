/**
 * Unit tests of pod volumes without real mounts: the AtomicWriter (layout, atomic swap,
 * pruning, no-op writes, a pinned file keeping its content as a subPath bind does, crash
 * leftovers, invalid paths), the projections (configMap/secret items, modes, optional,
 * binaryData, downward API fields and resources, projected sources and tokens, the kubelet's
 * messages), hostPath types, subPath resolution (expansion, creation, escapes), fsGroup
 * ownership, the mount back-off and emptyDir memory sizes, and the VolumeManager over disk
 * volumes (FailedMount messages, refresh of a changed ConfigMap, teardown and orphans).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AtomicWriter, invalidPath, timestampPrefix, type Payload } from './atomic-writer.js';
import { configMapPayload, downwardPayload, formatMap, projectedPayload, secretPayload, type ProjectionSources } from './payload.js';
import { checkHostPath } from './hostpath.js';
import { badSubPath, resolveSubPath, subPathOf } from './subpath.js';
import { setVolumeOwnership } from './ownership.js';
import { VolumeManager, mountBackoffMs, usedVolumes } from './manager.js';
import { memoryVolumeSize, podOwnership } from './plugins.js';
import { ServiceAccountTokens } from './tokens.js';
import { FakeClock } from '../../controllers/runtime/clock.js';
import type { KObject } from '../../client/client.js';

const made: string[] = [];
after(async () => { for (const d of made) await fs.rm(d, { recursive: true, force: true }); });

async function tmp(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-vol-'));
  made.push(d);
  return d;
}

const file = (s: string, mode = 0o644) => ({ data: Buffer.from(s), mode });

test('AtomicWriter lays files out as the kubelet: links through ..data to a timestamped directory', async () => {
  const dir = await tmp();
  const w = new AtomicWriter(dir, () => new Date('2024-05-01T10:20:30Z'));
  assert.equal(await w.write(new Map([['a', file('A')], ['sub/b', file('B', 0o400)]])), true);
  const ts = await fs.readlink(path.join(dir, '..data'));
  assert.match(ts, /^\.\.2024_05_01_10_20_30\.\d+$/);
  assert.equal(await fs.readlink(path.join(dir, 'a')), '..data/a');
  assert.equal(await fs.readlink(path.join(dir, 'sub')), '..data/sub');
  assert.equal(await fs.readFile(path.join(dir, 'sub/b'), 'utf8'), 'B');
  assert.equal((await fs.stat(path.join(dir, ts, 'sub/b'))).mode & 0o777, 0o400);
  assert.equal((await fs.stat(path.join(dir, ts))).mode & 0o777, 0o755);
  assert.deepEqual((await fs.readdir(dir)).sort(), ['..data', ts, 'a', 'sub'].sort());
});

test('AtomicWriter swaps the whole set at once, prunes removed names and old directories, skips identical writes', async () => {
  const dir = await tmp();
  const w = new AtomicWriter(dir);
  await w.write(new Map([['a', file('1')], ['gone', file('x')]]));
  const first = await w.current();
  assert.equal(await w.write(new Map([['a', file('1')], ['gone', file('x')]])), false, 'nothing changed: no new directory');
  assert.equal(await w.current(), first);
  // A reader that resolved the old file (as a subPath bind mount does) keeps the old content.
  const pinned = await fs.open(await fs.realpath(path.join(dir, 'a')), 'r');
  assert.equal(await w.write(new Map([['a', file('2')], ['new', file('n')]])), true);
  const second = await w.current();
  assert.notEqual(second, first);
  assert.equal(await fs.readFile(path.join(dir, 'a'), 'utf8'), '2');
  assert.equal((await pinned.readFile()).toString(), '1');
  await pinned.close();
  await assert.rejects(fs.lstat(path.join(dir, 'gone')), /ENOENT/);
  await assert.rejects(fs.stat(path.join(dir, first!)), /ENOENT/, 'the old timestamped directory is removed');
  assert.deepEqual((await fs.readdir(dir)).sort(), ['..data', second, 'a', 'new'].sort());
  // Removing a key only also writes.
  assert.equal(await w.write(new Map([['a', file('2')]])), true);
  assert.deepEqual((await fs.readdir(dir)).filter((n) => !n.startsWith('..')), ['a']);
});

test('AtomicWriter recovers from a crash mid-write and refuses invalid paths', async () => {
  const dir = await tmp();
  const w = new AtomicWriter(dir);
  await w.write(new Map([['a', file('1')]]));
  // A crash left a half-written directory and a dangling ..data_tmp.
  await fs.mkdir(path.join(dir, `${timestampPrefix(new Date())}stale`));
  await fs.symlink('..nowhere', path.join(dir, '..data_tmp'));
  await w.write(new Map([['a', file('2')]]));
  assert.equal(await fs.readFile(path.join(dir, 'a'), 'utf8'), '2');
  assert.deepEqual((await fs.readdir(dir)).filter((n) => n.startsWith('..') && n !== '..data'), [await w.current()]);
  for (const [p, why] of [['', /must not be empty/], ['/abs', /must be relative/], ['a/../b', /must not contain '\.\.'/], ['..hidden', /must not start with '\.\.'/], ['x'.repeat(256), /255 characters/]] as const) {
    assert.match(invalidPath(p) ?? '', why, p);
    await assert.rejects(w.write(new Map([[p, file('x')]])), why);
  }
  assert.equal(invalidPath('a/b..c'), undefined);
});

const pod = (extra: any = {}): KObject => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', uid: 'uid-1', labels: { b: '2', a: 'x"y' }, annotations: { note: 'hi' } },
  spec: { serviceAccountName: 'sa', containers: [{ name: 'c', image: 'i', resources: { limits: { memory: '64Mi', cpu: '250m' } } }] },
  ...extra,
});

function fakeSources(objs: { cm?: Record<string, KObject>; secret?: Record<string, KObject> }, tokens: string[] = []): ProjectionSources & { requests: any[] } {
  const requests: any[] = [];
  return {
    requests,
    configMap: async (_ns, n) => objs.cm?.[n],
    secret: async (_ns, n) => objs.secret?.[n],
    token: async (p, aud, exp) => { requests.push({ pod: p.metadata.name, aud, exp }); return tokens.shift() ?? 'tok'; },
  };
}

const text = (p: Payload) => Object.fromEntries([...p].map(([k, v]) => [k, [v.data.toString(), v.mode.toString(8)]]));

test('configMap and secret payloads: all keys or items, modes, binaryData, optional, the kubelet\'s errors', async () => {
  const cm = { metadata: { name: 'cfg' }, data: { k1: 'v1', k2: 'v2' }, binaryData: { bin: Buffer.from([0, 1]).toString('base64') } };
  const sec = { metadata: { name: 's' }, data: { user: Buffer.from('admin').toString('base64') } };
  const src = fakeSources({ cm: { cfg: cm }, secret: { s: sec } });
  assert.deepEqual(text(await configMapPayload(pod(), { name: 'cfg' }, 0o644, src)), { k1: ['v1', '644'], k2: ['v2', '644'], bin: ['\u0000\u0001', '644'] });
  assert.deepEqual(text(await configMapPayload(pod(), { name: 'cfg', items: [{ key: 'k2', path: 'dir/two', mode: 0o400 }] }, 0o644, src)), { 'dir/two': ['v2', '400'] });
  await assert.rejects(configMapPayload(pod(), { name: 'nope' }, 0o644, src), /^Error: configmap "nope" not found$/);
  assert.equal((await configMapPayload(pod(), { name: 'nope', optional: true }, 0o644, src)).size, 0);
  await assert.rejects(configMapPayload(pod(), { name: 'cfg', items: [{ key: 'missing', path: 'm' }] }, 0o644, src), /^Error: configmap references non-existent config key: missing$/);
  assert.equal((await configMapPayload(pod(), { name: 'cfg', optional: true, items: [{ key: 'missing', path: 'm' }] }, 0o644, src)).size, 0);
  assert.deepEqual(text(await secretPayload(pod(), 's', {}, 0o600, src)), { user: ['admin', '600'] });
  await assert.rejects(secretPayload(pod(), 'nope', {}, 0o644, src), /^Error: secret "nope" not found$/);
  await assert.rejects(secretPayload(pod(), 's', { items: [{ key: 'pw', path: 'pw' }] }, 0o644, src), /^Error: references non-existent secret key: pw$/);
});

test('downward API payload: metadata fields, labels and annotations as sorted key="value" lines, resources with divisors', () => {
  assert.equal(formatMap({ b: '2', a: 'x"y' }), 'a="x\\"y"\nb="2"');
  const items = [
    { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
    { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
    { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
    { path: 'note', fieldRef: { fieldPath: "metadata.annotations['note']" }, mode: 0o400 },
    { path: 'mem', resourceFieldRef: { containerName: 'c', resource: 'limits.memory', divisor: '1Mi' } },
    { path: 'cpu', resourceFieldRef: { containerName: 'c', resource: 'limits.cpu', divisor: '1m' } },
    { path: 'reqcpu', resourceFieldRef: { containerName: 'c', resource: 'requests.cpu' } },
  ];
  assert.deepEqual(text(downwardPayload(pod(), items, 0o644, {})), {
    name: ['p', '644'], ns: ['ns', '644'], labels: ['a="x\\"y"\nb="2"', '644'], note: ['hi', '400'], mem: ['64', '644'], cpu: ['250', '644'], reqcpu: ['0', '644'],
  });
  assert.throws(() => downwardPayload(pod(), [{ path: 'x', fieldRef: { fieldPath: 'status.podIP' } }], 0o644, {}), /unsupported fieldPath: status\.podIP/);
});

test('projected payload: sources merged in order, a token per source (0600 and owned under fsGroup), failures aggregated', async () => {
  const src = fakeSources({ cm: { 'kube-root-ca.crt': { metadata: {}, data: { 'ca.crt': 'CA' } } } }, ['T1']);
  const kubeApiAccess = {
    defaultMode: 420,
    sources: [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
    ],
  };
  assert.deepEqual(text(await projectedPayload(pod(), kubeApiAccess, src, {})), { token: ['T1', '644'], 'ca.crt': ['CA', '644'], namespace: ['ns', '644'] });
  assert.deepEqual(src.requests, [{ pod: 'p', aud: undefined, exp: 3607 }]);
  const owned = await projectedPayload(pod(), { sources: [{ serviceAccountToken: { audience: 'vault', path: 't' } }] }, src, { fsGroup: 2000, fsUser: 1000 });
  assert.deepEqual({ ...owned.get('t'), data: undefined }, { data: undefined, mode: 0o600, uid: 1000, gid: 2000 });
  assert.deepEqual(src.requests[1], { pod: 'p', aud: 'vault', exp: 3600 });
  await assert.rejects(projectedPayload(pod(), { sources: [{ configMap: { name: 'a' } }, { secret: { name: 'b' } }] }, src, {}), /^Error: \[configmap "a" not found, secret "b" not found\]$/);
});

test('service account tokens are reused until 80 % of their lifetime or a day has passed', async () => {
  const clock = new FakeClock();
  const calls: any[] = [];
  const client = { request: async (_m: string, p: string, body: any) => { calls.push({ p, body }); return { status: { token: `t${calls.length}`, expirationTimestamp: new Date(clock.now() + body.spec.expirationSeconds * 1000).toISOString() } }; } } as any;
  const t = new ServiceAccountTokens(client, () => clock.now());
  const p = pod();
  assert.equal(await t.token(p, undefined, 3600), 't1');
  assert.equal(calls[0].p, '/api/v1/namespaces/ns/serviceaccounts/sa/token');
  assert.deepEqual(calls[0].body.spec, { expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'uid-1' } });
  clock.advance(2879_000);
  assert.equal(await t.token(p, undefined, 3600), 't1', 'before 80 %');
  clock.advance(2_000);
  assert.equal(await t.token(p, undefined, 3600), 't2', 'after 80 %');
  t.forget('uid-1');
  assert.equal(await t.token(p, undefined, 3600), 't3', 'forgotten with the pod');
  const failing = new ServiceAccountTokens({ request: async () => { throw new Error('serviceaccounts "sa" not found'); } } as any);
  await assert.rejects(failing.token(p, undefined, 3600), /^Error: failed to fetch token: serviceaccounts "sa" not found$/);
});

test('hostPath types: *OrCreate make what is missing; the others require the right kind of file', async () => {
  const dir = await tmp();
  const d = path.join(dir, 'made/deep');
  await checkHostPath(d, 'DirectoryOrCreate');
  assert.equal((await fs.stat(d)).isDirectory(), true);
  const f = path.join(dir, 'file');
  await checkHostPath(f, 'FileOrCreate');
  assert.equal((await fs.stat(f)).size, 0);
  await checkHostPath(d, 'Directory');
  await checkHostPath(f, 'File');
  await checkHostPath(path.join(dir, 'anything'), undefined);
  await checkHostPath(path.join(dir, 'anything'), '');
  await assert.rejects(checkHostPath(f, 'Directory'), new RegExp(`^Error: hostPath type check failed: ${f} is not a directory, it's a File$`));
  await assert.rejects(checkHostPath(d, 'Socket'), /is not a socket file, it's a Directory/);
  await assert.rejects(checkHostPath(path.join(dir, 'none'), 'File'), /^Error: hostPath .*none doesn't exist$/);
  await assert.rejects(checkHostPath(f, 'DirectoryOrCreate'), /is not a directory, it's a File/);
  await assert.rejects(checkHostPath('/dev/null', 'BlockDevice'), /is not a block device, it's a CharDevice/);
  await assert.rejects(checkHostPath(d, 'Weird'), /^Error: Weird is an invalid volume type$/);
  await assert.rejects(checkHostPath(`${dir}/../etc`, undefined), /must not contain '\.\.'/);
});

test('subPath: expansion from the environment, creation with the volume mode, links out of the volume refused', async () => {
  const vol = await tmp();
  await fs.chmod(vol, 0o777);
  assert.equal(subPathOf({ subPathExpr: 'logs/$(POD)' }, ['POD=web-0']), 'logs/web-0');
  assert.equal(subPathOf({ subPath: 'a', subPathExpr: '$(X)' }, []), 'a');
  assert.equal(subPathOf({}, []), '');
  assert.match(badSubPath('/etc') ?? '', /relative/);
  assert.match(badSubPath('a/../../x') ?? '', /'\.\.'/);
  const made = await resolveSubPath(vol, 'logs/web-0');
  assert.equal(made, path.join(await fs.realpath(vol), 'logs/web-0'));
  assert.equal((await fs.stat(made)).mode & 0o777, 0o777);
  await fs.writeFile(path.join(vol, 'f'), 'x');
  await fs.symlink('f', path.join(vol, 'link'));
  assert.equal(await resolveSubPath(vol, 'link'), path.join(await fs.realpath(vol), 'f'), 'links inside the volume are followed');
  await fs.symlink('/etc', path.join(vol, 'out'));
  await assert.rejects(resolveSubPath(vol, 'out/passwd'), /not within volume path/);
  await fs.symlink('/nonexistent-skiff', path.join(vol, 'dangling'));
  await assert.rejects(resolveSubPath(vol, 'dangling/x'), /not within volume path/);
  await assert.rejects(fs.stat('/nonexistent-skiff'), /ENOENT/, 'nothing made outside');
});

test('fsGroup: group ownership, group bits and setgid on directories; OnRootMismatch skips a matching root', async () => {
  const vol = await tmp();
  await fs.mkdir(path.join(vol, 'd'));
  await fs.writeFile(path.join(vol, 'd/f'), 'x', { mode: 0o600 });
  await fs.symlink('d/f', path.join(vol, 'l'));
  await setVolumeOwnership(vol, 4321, false);
  for (const p of [vol, path.join(vol, 'd')]) {
    const st = await fs.stat(p);
    assert.equal(st.gid, 4321);
    assert.equal(st.mode & 0o2070, 0o2070, p);
  }
  const f = await fs.stat(path.join(vol, 'd/f'));
  assert.equal(f.gid, 4321);
  assert.equal(f.mode & 0o777, 0o660);
  await fs.writeFile(path.join(vol, 'later'), 'x', { mode: 0o600 });
  await setVolumeOwnership(vol, 4321, false, 'OnRootMismatch');
  assert.equal((await fs.stat(path.join(vol, 'later'))).mode & 0o777, 0o600, 'the root matched: nothing walked');
  await setVolumeOwnership(vol, 4321, true);
  assert.equal((await fs.stat(path.join(vol, 'later'))).mode & 0o777, 0o640, 'read-only volumes get group read');
});

test('mount back-off, volumes in use, emptyDir memory sizes and ownership of a pod', () => {
  assert.deepEqual([1, 2, 3, 8, 9, 20].map(mountBackoffMs), [500, 1000, 2000, 64000, 122000, 122000]);
  const p = pod({ spec: { initContainers: [{ name: 'i', volumeMounts: [{ name: 'a', mountPath: '/a' }] }], containers: [{ name: 'c', volumeMounts: [{ name: 'b', mountPath: '/b' }] }], volumes: [{ name: 'a' }, { name: 'b' }, { name: 'unused' }] } });
  assert.deepEqual([...usedVolumes(p)].sort(), ['a', 'b']);
  const mi = 2 ** 20;
  assert.equal(memoryVolumeSize(pod(), '16Mi', { memory: '1Gi' }), 16 * mi);
  assert.equal(memoryVolumeSize(pod(), undefined, { memory: '1Gi' }), 64 * mi, 'the pod\'s memory limit');
  assert.equal(memoryVolumeSize(pod(), '1Gi', { memory: '2Gi' }), 64 * mi, 'never above the pod\'s limit');
  assert.equal(memoryVolumeSize(pod({ spec: { containers: [{ name: 'c' }] } }), undefined, { memory: '1Gi' }), 1024 * mi, 'the node\'s allocatable');
  assert.equal(memoryVolumeSize(pod({ spec: { containers: [{ name: 'c' }] } }), undefined, undefined), undefined);
  assert.deepEqual(podOwnership(pod({ spec: { securityContext: { fsGroup: 5, runAsUser: 7 }, containers: [{ name: 'a' }, { name: 'b', securityContext: { runAsUser: 7 } }] } })), { fsGroup: 5, fsUser: 7, policy: undefined });
  assert.equal(podOwnership(pod({ spec: { securityContext: { runAsUser: 7 }, containers: [{ name: 'a' }, { name: 'b', securityContext: { runAsUser: 8 } }] } })).fsUser, undefined);
});

test('VolumeManager: disk volumes set up, FailedMount messages, refresh of a changed ConfigMap, mounts, teardown and orphans', async () => {
  const root = await tmp();
  const clock = new FakeClock();
  const cms: Record<string, KObject> = {};
  const events: string[] = [];
  const m = new VolumeManager({
    root, clock, log: () => {}, allocatable: () => undefined, syncMs: 60_000,
    sources: fakeSources({ cm: cms }),
    claims: { claim: async () => { throw new Error('persistentvolumeclaims "data" not found'); }, volume: async () => ({ metadata: {} }) },
    event: (_p, _t, reason, msg) => events.push(`${reason}: ${msg}`),
  });
  const p = pod({
    spec: {
      containers: [{ name: 'c', env: [], volumeMounts: [
        { name: 'cfg', mountPath: '/etc/cfg' }, { name: 'cfg', mountPath: '/etc/one', subPath: 'k' },
        { name: 'scratch', mountPath: '/scratch', readOnly: true }, { name: 'info', mountPath: '/etc/info' },
      ] }],
      volumes: [
        { name: 'cfg', configMap: { name: 'app' } }, { name: 'scratch', emptyDir: {} },
        { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
        { name: 'nfs', nfs: { server: 'x', path: '/' } },
      ],
    },
  });
  let res = await m.setUp(p);
  assert.deepEqual(res, { errors: ['MountVolume.SetUp failed for volume "cfg" : configmap "app" not found'], retryMs: 500 });
  res = await m.setUp(p);
  assert.equal(res.retryMs, 1000, 'the back-off grows');
  cms.app = { metadata: { name: 'app' }, data: { k: 'v1' } };
  assert.deepEqual(await m.setUp(p), { errors: [] });
  const vols = path.join(root, 'pods/uid-1/volumes');
  assert.equal(await fs.readFile(path.join(vols, 'kubernetes.io~configmap/cfg/k'), 'utf8'), 'v1');
  assert.equal((await fs.stat(path.join(vols, 'kubernetes.io~empty-dir/scratch'))).mode & 0o777, 0o777);
  assert.equal(await fs.readFile(path.join(vols, 'kubernetes.io~downward-api/info/labels'), 'utf8'), 'a="x\\"y"\nb="2"');
  const mounts = await m.mounts(p, p.spec.containers[0], []);
  const real = await fs.realpath(path.join(vols, 'kubernetes.io~configmap/cfg/k'));
  assert.deepEqual(mounts.map((x) => [x.destination, x.readonly, x.source === real ? 'pinned' : path.relative(vols, x.source)]), [
    ['/scratch', true, 'kubernetes.io~empty-dir/scratch'],
    ['/etc/cfg', true, 'kubernetes.io~configmap/cfg'],
    ['/etc/one', true, 'pinned'],
    ['/etc/info', true, 'kubernetes.io~downward-api/info'],
  ]);
  // An update shows after the sync period, not before; the pinned subPath file keeps v1.
  cms.app = { metadata: { name: 'app' }, data: { k: 'v2' } };
  await m.setUp(p);
  assert.equal(await fs.readFile(path.join(vols, 'kubernetes.io~configmap/cfg/k'), 'utf8'), 'v1');
  clock.advance(60_000);
  await m.setUp(p);
  assert.equal(await fs.readFile(path.join(vols, 'kubernetes.io~configmap/cfg/k'), 'utf8'), 'v2');
  // A label change reaches the downward API at the next sync.
  await m.setUp({ ...p, metadata: { ...p.metadata, labels: { a: 'new' } } });
  assert.equal(await fs.readFile(path.join(vols, 'kubernetes.io~downward-api/info/labels'), 'utf8'), 'a="new"');
  // A refresh that fails keeps the files and reports FailedMount.
  delete cms.app;
  await m.refreshAll();
  assert.deepEqual(events, ['FailedMount: MountVolume.SetUp failed for volume "cfg" : configmap "app" not found']);
  assert.equal(await fs.readFile(path.join(vols, 'kubernetes.io~configmap/cfg/k'), 'utf8'), 'v2');
  // Unsupported sources and unbound claims, as the kubelet words them.
  const q = pod({ metadata: { name: 'q', namespace: 'ns', uid: 'uid-2' }, spec: { containers: [{ name: 'c', volumeMounts: [{ name: 'nfs', mountPath: '/n' }, { name: 'data', mountPath: '/d' }, { name: 'tmp', mountPath: '/tmp' }] }], volumes: [{ name: 'nfs', nfs: {} }, { name: 'data', persistentVolumeClaim: { claimName: 'data' } }, { name: 'tmp', emptyDir: {} }] } });
  assert.deepEqual((await m.setUp(q)).errors, [
    'MountVolume.SetUp failed for volume "nfs" : no volume plugin matched',
    'Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data nfs tmp]: error processing PVC ns/data: failed to fetch PVC from API server: persistentvolumeclaims "data" not found',
  ]);
  await assert.rejects(m.mounts(q, q.spec.containers[0], []), /cannot find volume "nfs" to mount into container "c"/);
  const bad = { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/x', subPath: '../etc' }] };
  await assert.rejects(m.mounts(p, bad, []), /^Error: failed to prepare subPath for volumeMount "scratch" of container "c"$/);
  // Teardown removes everything of the pod; orphans (a crash) go too, known pods stay.
  await m.tearDown('uid-1');
  await assert.rejects(fs.stat(path.join(root, 'pods/uid-1')), /ENOENT/);
  await fs.mkdir(path.join(root, 'pods/orphan/volumes/kubernetes.io~empty-dir/x'), { recursive: true });
  await fs.mkdir(path.join(root, 'pods/alive'), { recursive: true });
  assert.deepEqual(await m.removeOrphans(new Set(['alive'])), ['orphan']);
  assert.deepEqual((await fs.readdir(path.join(root, 'pods'))).sort(), ['alive', 'uid-2'], 'a pod the manager holds stays');
  await fs.rm(root, { recursive: true, force: true });
});
