/**
 * The official JavaScript client (@kubernetes/client-node) against the API server: CRUD on
 * typed APIs, a merge patch, and an informer that sees ADDED, MODIFIED and DELETED.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { startTestServer, type TestServer } from './helpers/apiserver.js';

let s: TestServer;
let kc: k8s.KubeConfig;

before(async () => {
  s = await startTestServer();
  kc = new k8s.KubeConfig();
  kc.loadFromFile(s.kubeconfig);
});
after(async () => { await s?.stop(); });

test('client-node CRUD on configmaps and deployments', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cn' }, data: { a: '1' } } });
  assert.equal(created.metadata?.name, 'cn');
  assert.ok(created.metadata?.uid);
  const got = await core.readNamespacedConfigMap({ name: 'cn', namespace: 'default' });
  assert.deepEqual(got.data, { a: '1' });
  got.data = { a: '2' };
  const replaced = await core.replaceNamespacedConfigMap({ name: 'cn', namespace: 'default', body: got });
  assert.equal(replaced.data?.a, '2');
  const list = await core.listNamespacedConfigMap({ namespace: 'default' });
  assert.ok(list.metadata?.resourceVersion);
  assert.deepEqual(list.items.map((i) => i.metadata?.name), ['cn', 'kube-root-ca.crt']);
  const patched = await core.patchNamespacedConfigMap({ name: 'cn', namespace: 'default', body: { data: { b: '3' } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  assert.deepEqual(patched.data, { a: '2', b: '3' });
  await core.deleteNamespacedConfigMap({ name: 'cn', namespace: 'default' });
  await assert.rejects(core.readNamespacedConfigMap({ name: 'cn', namespace: 'default' }), (err: any) => err.code === 404);

  const d = await apps.createNamespacedDeployment({ namespace: 'default', body: {
    metadata: { name: 'web' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'busybox:1.36' }] } } },
  } });
  assert.equal(d.spec?.replicas, 1);
  const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'default' });
  assert.equal(scale.spec?.replicas, 1);
  scale.spec = { replicas: 4 };
  await apps.replaceNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: scale });
  assert.equal((await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' })).spec?.replicas, 4);
  await assert.rejects(apps.createNamespacedDeployment({ namespace: 'default', body: { metadata: { name: 'bad' }, spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } }),
    (err: any) => err.code === 422 && /selector` does not match template `labels`/.test(err.body));
});

test('an informer sees ADDED, MODIFIED and DELETED', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
  const seen: string[] = [];
  let wake: () => void = () => {};
  const record = (type: string) => (o: k8s.V1ConfigMap) => { if (o.metadata?.name === 'inf') { seen.push(`${type} ${o.data?.v ?? ''}`.trim()); wake(); } };
  informer.on('add', record('ADDED'));
  informer.on('update', record('MODIFIED'));
  informer.on('delete', record('DELETED'));
  const until = (n: number) => new Promise<void>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`informer saw only ${seen.join(', ')}`)), 15_000);
    wake = () => { if (seen.length >= n) { clearTimeout(t); ok(); } };
    wake();
  });
  await informer.start();
  try {
    const cm = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf' }, data: { v: '1' } } });
    await until(1);
    cm.data = { v: '2' };
    await core.replaceNamespacedConfigMap({ name: 'inf', namespace: 'default', body: cm });
    await until(2);
    await core.deleteNamespacedConfigMap({ name: 'inf', namespace: 'default' });
    await until(3);
  } finally {
    await informer.stop();
  }
  assert.deepEqual(seen, ['ADDED 1', 'MODIFIED 2', 'DELETED 2']);
});
