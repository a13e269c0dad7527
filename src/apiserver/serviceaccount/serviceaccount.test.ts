/**
 * Service account tokens and storage admission over an in-memory store: the signing key
 * (made once, kid from the public key), TokenRequest (defaults, the 10-minute floor, bound
 * objects and their uids, the kubelet's 3607 s extended to a year), the authenticator
 * (identity, groups and extra; tokens of deleted pods, of a recreated service account, with
 * changed claims or another audience refused; expiry), the ServiceAccount admission (default
 * account, the kube-api-access volume and mounts, opting out, a missing account) and the
 * DefaultStorageClass admission.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openMemoryBackend } from '../memstore.js';
import { Storage } from '../storage.js';
import { Catalog } from '../catalog.js';
import { ISSUER, SigningKey } from './jwt.js';
import { requestToken } from './tokenrequest.js';
import { ServiceAccountAuthenticator } from './authenticator.js';
import { admitServiceAccount, SA_MOUNT_PATH } from '../admission/serviceaccount.js';
import { admitClaim, defaultClass } from '../admission/storage.js';
import { ApiError } from '../status.js';

const roots: string[] = [];
after(async () => { for (const d of roots) await fs.rm(d, { recursive: true, force: true }); });

async function setup() {
  const catalog = new Catalog();
  const storage = new Storage(openMemoryBackend());
  const r = (res: string) => catalog.lookup(res.includes('.') ? res.split('/')[0] : '', 'v1', res.split('/').pop()!)!;
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } };
  await storage.create(r('namespaces'), undefined, ns);
  const sa = await storage.create(r('serviceaccounts'), 'app', { metadata: { name: 'default' } });
  const pod = await storage.create(r('pods'), 'app', { metadata: { name: 'p' }, spec: { serviceAccountName: 'default', nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] } });
  const node = await storage.create(r('nodes'), undefined, { metadata: { name: 'n1' } });
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-sa-'));
  roots.push(root);
  const key = await SigningKey.load(root);
  return { catalog, storage, r, sa, pod, node, root, key };
}

const claims = (t: string) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString('utf8'));
const status = (err: unknown) => (err instanceof ApiError ? `${err.code} ${err.message}` : String(err));

test('the signing key is made once per data root, 0600, and names itself by its public key', async () => {
  const { root, key } = await setup();
  const again = await SigningKey.load(root);
  assert.equal(again.kid, key.kid);
  assert.equal((await fs.stat(path.join(root, 'server/sa.key'))).mode & 0o777, 0o600);
  assert.match(key.kid, /^[\w-]{43}$/);
  const jwk = key.jwks().keys[0] as any;
  assert.equal(jwk.kid, key.kid);
  assert.equal(jwk.kty, 'RSA');
  assert.equal(key.verify('a.b.c'), undefined);
});

test('TokenRequest: defaults, validation, bound pods and the kubelet\'s extended lifetime', async () => {
  const { catalog, storage, key, pod, sa, node } = await setup();
  const now = Date.parse('2026-01-01T00:00:00Z');
  const tr = await requestToken(storage, catalog, key, 'app', 'default', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }, now);
  assert.deepEqual(tr.spec, { expirationSeconds: 3600, audiences: [ISSUER] });
  assert.equal(tr.status.expirationTimestamp, '2026-01-01T01:00:00Z');
  const c = claims(tr.status.token);
  assert.equal(c.sub, 'system:serviceaccount:app:default');
  assert.equal(c.exp - c.iat, 3600);
  assert.deepEqual(c['kubernetes.io'], { namespace: 'app', serviceaccount: { name: 'default', uid: sa.metadata.uid } });
  assert.equal(key.verify(tr.status.token)?.sub, c.sub);

  const bound = await requestToken(storage, catalog, key, 'app', 'default', { spec: { expirationSeconds: 3607, audiences: ['vault'], boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: pod.metadata.uid } } }, now);
  const b = claims(bound.status.token);
  assert.deepEqual(b.aud, ['vault']);
  assert.deepEqual(b['kubernetes.io'].pod, { name: 'p', uid: pod.metadata.uid });
  assert.deepEqual(b['kubernetes.io'].node, { name: 'n1', uid: node.metadata.uid });
  assert.equal(b.exp - b.iat, 365 * 24 * 3600, 'extended');
  assert.equal(b['kubernetes.io'].warnafter, b.iat + 3607);
  assert.equal(bound.status.expirationTimestamp, '2026-01-01T01:00:07Z', 'the response reports what was asked');

  const refused: [any, RegExp][] = [
    [{ spec: { expirationSeconds: 599 } }, /^422 TokenRequest\.authentication\.k8s\.io "default" is invalid: spec\.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes$/],
    [{ spec: { boundObjectRef: { kind: 'Pod', name: 'p', uid: 'other' } } }, /^409 the UID in the bound object reference \(other\) does not match the UID in record/],
    [{ spec: { boundObjectRef: { kind: 'Pod', name: 'gone' } } }, /^404 pods "gone" not found$/],
    [{ spec: { boundObjectRef: { kind: 'ConfigMap', name: 'x' } } }, /^400 cannot bind token for object of kind "ConfigMap"/],
  ];
  for (const [body, want] of refused) await assert.rejects(requestToken(storage, catalog, key, 'app', 'default', body, now), (e) => want.test(status(e)), JSON.stringify(body));
  await assert.rejects(requestToken(storage, catalog, key, 'app', 'nope', {}, now), (e) => /^404 serviceaccounts "nope" not found$/.test(status(e)));
});

test('the authenticator: identity of a valid token; deleted pods, recreated accounts, changed claims, other audiences and expiry refused', async () => {
  const { catalog, storage, key, pod, r } = await setup();
  let now = Date.now();
  const auth = new ServiceAccountAuthenticator(storage, catalog, key, () => now);
  const ref = { kind: 'Pod', name: 'p', uid: pod.metadata.uid };
  const token = (await requestToken(storage, catalog, key, 'app', 'default', { spec: { boundObjectRef: ref } }, now)).status.token;
  const { user } = await auth.authenticate(token);
  assert.equal(user?.name, 'system:serviceaccount:app:default');
  assert.deepEqual(user?.groups, ['system:serviceaccounts', 'system:serviceaccounts:app']);
  assert.deepEqual(user?.extra['authentication.kubernetes.io/pod-name'], ['p']);
  assert.deepEqual(user?.extra['authentication.kubernetes.io/node-name'], ['n1']);

  const [h, , s] = token.split('.');
  const forged = [h, Buffer.from(JSON.stringify({ ...claims(token), sub: 'system:serviceaccount:kube-system:x' })).toString('base64url'), s].join('.');
  assert.deepEqual(await auth.authenticate(forged), { error: 'invalid bearer token' });
  assert.deepEqual(await auth.authenticate('not-a-jwt'), { error: 'invalid bearer token' });
  assert.equal((await auth.authenticate(token, ['vault'])).error, 'token audiences do not match');

  // Cached for ten seconds, then the pod's deletion shows.
  await storage.delete(r('pods'), 'app', 'p', { gracePeriodSeconds: 0 });
  assert.ok((await auth.authenticate(token)).user, 'cached');
  now += 11_000;
  assert.equal((await auth.authenticate(token)).error, 'pod app/p has been deleted');

  const plain = (await requestToken(storage, catalog, key, 'app', 'default', { spec: { expirationSeconds: 600 } }, now)).status.token;
  assert.ok((await auth.authenticate(plain)).user);
  await storage.delete(r('serviceaccounts'), 'app', 'default', {});
  await storage.create(r('serviceaccounts'), 'app', { metadata: { name: 'default' } });
  now += 11_000;
  assert.equal((await auth.authenticate(plain)).error, 'service account app/default has been deleted', 'a new account of the same name is another account');
  const fresh = (await requestToken(storage, catalog, key, 'app', 'default', { spec: { expirationSeconds: 600 } }, now)).status.token;
  now += 601_000;
  assert.equal((await auth.authenticate(fresh)).error, 'service account token has expired');
});

test('ServiceAccount admission: the default account, the kube-api-access volume and mounts, opting out, a missing account', async () => {
  const { storage } = await setup();
  const pod: any = { metadata: { name: 'p', namespace: 'app' }, spec: {
    initContainers: [{ name: 'i', image: 'x' }],
    containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'x', volumeMounts: [{ name: 'own', mountPath: SA_MOUNT_PATH }] }],
  } };
  await admitServiceAccount(storage, pod);
  assert.equal(pod.spec.serviceAccountName, 'default');
  assert.equal(pod.spec.serviceAccount, 'default');
  const [vol] = pod.spec.volumes;
  assert.match(vol.name, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.deepEqual(vol.projected.sources.map((s: any) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
  assert.deepEqual(pod.spec.initContainers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: SA_MOUNT_PATH }]);
  assert.deepEqual(pod.spec.containers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: SA_MOUNT_PATH }]);
  assert.deepEqual(pod.spec.containers[1].volumeMounts, [{ name: 'own', mountPath: SA_MOUNT_PATH }], 'a container with its own mount there is left alone');
  await admitServiceAccount(storage, pod);
  assert.equal(pod.spec.volumes.length, 1, 'admitting again adds nothing');

  const optOut: any = { metadata: { name: 'q', namespace: 'app' }, spec: { automountServiceAccountToken: false, containers: [{ name: 'a', image: 'x' }] } };
  await admitServiceAccount(storage, optOut);
  assert.equal(optOut.spec.volumes, undefined);
  const missing: any = { metadata: { name: 'r', namespace: 'app' }, spec: { serviceAccountName: 'robot', containers: [{ name: 'a', image: 'x' }] } };
  await assert.rejects(admitServiceAccount(storage, missing), (e) => status(e) === '403 pods "r" is forbidden: error looking up service account app/robot: serviceaccount "robot" not found');
});

test('DefaultStorageClass: an unset class gets the newest default; an explicit or empty one stays; claims get pvc-protection', async () => {
  const { storage, catalog } = await setup();
  const sc = catalog.lookup('storage.k8s.io', 'v1', 'storageclasses')!;
  const claim = () => ({ metadata: { name: 'c' }, spec: {} as any });
  let pvc: any = claim();
  await admitClaim(storage, pvc);
  assert.equal(pvc.spec.storageClassName, undefined, 'no default class yet');
  assert.deepEqual(pvc.metadata.finalizers, ['kubernetes.io/pvc-protection']);
  await storage.create(sc, undefined, { metadata: { name: 'slow', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'x' });
  pvc = claim();
  await admitClaim(storage, pvc);
  assert.equal(pvc.spec.storageClassName, 'slow');
  pvc = { metadata: { name: 'c' }, spec: { storageClassName: '' } };
  await admitClaim(storage, pvc);
  assert.equal(pvc.spec.storageClassName, '', 'an empty class means none');
  assert.equal(defaultClass([
    { metadata: { name: 'old', creationTimestamp: '2026-01-01T00:00:00Z', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } },
    { metadata: { name: 'new', creationTimestamp: '2026-02-01T00:00:00Z', annotations: { 'storageclass.beta.kubernetes.io/is-default-class': 'true' } } },
    { metadata: { name: 'newest', creationTimestamp: '2026-03-01T00:00:00Z', annotations: { 'storageclass.kubernetes.io/is-default-class': 'false' } } },
  ])?.metadata.name, 'new');
});
