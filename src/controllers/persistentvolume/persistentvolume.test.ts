/**
 * Table-driven tests of volume matching (class, modes, size, selector, node affinity,
 * pre-bound volumes, delayed binding), the local-path provisioner's volumes and refusals,
 * and the scheduler's VolumeBinding plugin over stub caches (missing, deleting and unbound
 * immediate claims; node affinity conflicts; static matches and provisioning per node; the
 * selected-node annotation and the wait for the binding in preBind).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../client/client.js';
import { FakeClock } from '../runtime/clock.js';
import { findBestMatch, isBoundTo, volumeFitsNode, volumeSatisfies } from './match.js';
import { provisionedVolume, unsupported, volumeDir } from '../localpath/localpath.js';
import { claimsOfPod } from './protection.js';
import { volumeBinding } from '../../scheduler/plugins/volumebinding.js';
import { mkNode, mkSnapshot } from '../../scheduler/testing.js';

const pvc = (name: string, spec: any = {}, extra: any = {}): KObject => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: '1', ...extra },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'fast', ...spec },
});
const pv = (name: string, size: string, spec: any = {}, labels: any = {}): KObject => ({
  metadata: { name, labels }, spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], storageClassName: 'fast', ...spec }, status: { phase: 'Available' },
});
const onNode = (n: string) => ({ nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [n] }] }] } } });
const node = (n: string) => mkNode(n);

test('a claim matches the smallest fitting volume of its class; pre-bound volumes first', () => {
  const vols = [pv('big', '10Gi'), pv('small', '2Gi'), pv('tiny', '500Mi'), pv('other-class', '1Gi', { storageClassName: 'slow' }), pv('rwx', '1Gi', { accessModes: ['ReadWriteMany'] })];
  assert.equal(findBestMatch(pvc('c'), vols)?.metadata.name, 'small');
  assert.equal(findBestMatch(pvc('c', { accessModes: ['ReadWriteMany'] }), vols)?.metadata.name, 'rwx');
  assert.equal(findBestMatch(pvc('c', { storageClassName: 'slow' }), vols)?.metadata.name, 'other-class');
  assert.equal(findBestMatch(pvc('c', { resources: { requests: { storage: '20Gi' } } }), vols), undefined);
  assert.equal(findBestMatch(pvc('c', { volumeMode: 'Block' }), vols), undefined);
  const labelled = [pv('a', '1Gi', {}, { tier: 'gold' }), pv('b', '1Gi', {}, { tier: 'silver' })];
  assert.equal(findBestMatch(pvc('c', { selector: { matchLabels: { tier: 'silver' } } }), labelled)?.metadata.name, 'b');
  // Pre-bound: to this claim (by name, or with its uid) wins even when bigger; to another claim never.
  const pre = pv('pre', '50Gi', { claimRef: { namespace: 'ns', name: 'c' } });
  assert.equal(findBestMatch(pvc('c'), [...vols, pre])?.metadata.name, 'pre');
  assert.equal(findBestMatch(pvc('d'), [pre]), undefined);
  assert.equal(isBoundTo(pv('x', '1Gi', { claimRef: { namespace: 'ns', name: 'c', uid: 'other' } }), pvc('c')), false, 'a claim of the same name that was recreated');
  // Bound, released or deleted volumes are not free.
  assert.equal(findBestMatch(pvc('c'), [{ ...pv('r', '1Gi'), status: { phase: 'Released' } }]), undefined);
  assert.equal(findBestMatch(pvc('c'), [{ ...pv('g', '1Gi'), metadata: { name: 'g', deletionTimestamp: 'x' } }]), undefined);
});

test('delayed binding and node affinity', () => {
  const vols = [pv('n1-vol', '1Gi', onNode('n1')), pv('n2-vol', '1Gi', onNode('n2'))];
  assert.equal(findBestMatch(pvc('c'), vols, { delayBinding: true }), undefined, 'WaitForFirstConsumer: the scheduler chooses');
  assert.equal(findBestMatch(pvc('c'), vols, { delayBinding: true, node: node('n2') })?.metadata.name, 'n2-vol');
  assert.equal(findBestMatch(pvc('c'), vols, { node: node('n3') }), undefined);
  assert.equal(volumeFitsNode(pv('any', '1Gi'), undefined), true);
  assert.equal(volumeFitsNode(vols[0], node('n1')), true);
  assert.equal(volumeFitsNode(vols[0], node('n2')), false);
  assert.equal(volumeSatisfies(vols[0], pvc('c'), node('n2')), false);
});

test('local-path: the directory, the volume it makes, the claims it refuses', () => {
  const claim = pvc('data', { storageClassName: 'local-path' });
  assert.equal(volumeDir('/var/lib/skiff/storage', 'pvc-uid-data', claim), '/var/lib/skiff/storage/pvc-uid-data_ns_data');
  const sc = { metadata: { name: 'local-path' }, reclaimPolicy: 'Delete' };
  const v = provisionedVolume(claim, sc, 'n1', '/s/pvc-uid-data_ns_data');
  assert.equal(v.metadata.name, 'pvc-uid-data');
  assert.deepEqual(v.spec.hostPath, { path: '/s/pvc-uid-data_ns_data', type: 'DirectoryOrCreate' });
  assert.deepEqual(v.spec.claimRef, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'ns', name: 'data', uid: 'uid-data', resourceVersion: '1' });
  assert.equal(v.spec.persistentVolumeReclaimPolicy, 'Delete');
  assert.equal(v.metadata.annotations['pv.kubernetes.io/provisioned-by'], 'rancher.io/local-path');
  assert.ok(volumeFitsNode(v, node('n1')) && !volumeFitsNode(v, node('n2')));
  assert.ok(volumeSatisfies(v, claim), 'the binder accepts what was made');
  assert.equal(unsupported(claim), undefined);
  assert.equal(unsupported(pvc('x', { accessModes: ['ReadWriteMany'] })), 'NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes');
  assert.equal(unsupported(pvc('x', { selector: { matchLabels: { a: 'b' } } })), 'claim.Spec.Selector is not supported');
  assert.equal(unsupported(pvc('x', { resources: {} })), 'claim.Spec.Resources.Requests[storage] is required');
  assert.deepEqual(claimsOfPod({ metadata: {}, spec: { volumes: [{ name: 'a', persistentVolumeClaim: { claimName: 'c1' } }, { name: 'b', emptyDir: {} }] } }), ['c1']);
});

/** An InformerFactory stand-in holding fixed objects. */
function stubInformers(objs: Record<string, KObject[]>) {
  const handlers: Record<string, any[]> = {};
  const informers = {
    for(r: { resource: string }) {
      const key = (o: KObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name!);
      return {
        synced: Promise.resolve(),
        get: (k: string) => (objs[r.resource] ?? []).find((o) => key(o) === k),
        list: () => objs[r.resource] ?? [],
        on: (h: any) => { (handlers[r.resource] ??= []).push(h); },
      };
    },
  };
  return { informers: informers as any, fire: (res: string, o: KObject) => { for (const h of handlers[res] ?? []) h.update?.(o, o); } };
}

test('VolumeBinding: claims decide the nodes; preBind writes the choice and waits for the binding', async () => {
  const wffc = { metadata: { name: 'local' }, provisioner: 'rancher.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' };
  const staticOnly = { metadata: { name: 'static' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' };
  const immediate = { metadata: { name: 'fast' }, provisioner: 'x' };
  const claims = [
    pvc('bound', { volumeName: 'pv-n1' }), pvc('unbound-imm', { storageClassName: 'fast' }), pvc('delayed', { storageClassName: 'local' }),
    pvc('static', { storageClassName: 'static' }), pvc('going', {}, { deletionTimestamp: 'x' }),
  ];
  const volumes = [pv('pv-n1', '1Gi', onNode('n1')), pv('free-n2', '1Gi', { ...onNode('n2'), storageClassName: 'static' })];
  const { informers, fire } = stubInformers({ persistentvolumeclaims: claims, persistentvolumes: volumes, storageclasses: [wffc, staticOnly, immediate] });
  let woken = 0;
  const plugin = volumeBinding(informers, new FakeClock(), () => { woken++; });
  const snap = mkSnapshot([node('n1'), node('n2')]);
  const run = (...names: string[]) => {
    const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { volumes: names.map((n) => ({ name: n, persistentVolumeClaim: { claimName: n } })) } };
    const state = new Map();
    const pre = plugin.preFilter!(state, pod, snap);
    if (pre.code !== 'Success') return { pre: pre.reasons.join(), state, pod };
    return { nodes: Object.fromEntries(snap.nodes.map((n) => [n.name, plugin.filter!(state, pod, n, snap).reasons.join() || 'ok'])), state, pod };
  };
  assert.deepEqual(run().nodes, { n1: 'ok', n2: 'ok' });
  assert.equal(run('missing').pre, 'persistentvolumeclaim "missing" not found');
  assert.equal(run('going').pre, 'persistentvolumeclaim "going" is being deleted');
  assert.equal(run('unbound-imm').pre, 'pod has unbound immediate PersistentVolumeClaims');
  assert.deepEqual(run('bound').nodes, { n1: 'ok', n2: 'node(s) had volume node affinity conflict' });
  assert.deepEqual(run('delayed').nodes, { n1: 'ok', n2: 'ok' }, 'a provisioner can make a volume anywhere');
  assert.deepEqual(run('static').nodes, { n1: "node(s) didn't find available persistent volumes to bind", n2: 'ok' });

  // preBind of a claim to provision: the selected-node annotation, then a wait for Bound.
  const writes: any[] = [];
  const client = {
    patch: async (_r: any, _ns: string, name: string, body: any) => { writes.push([name, body]); return { metadata: { name, resourceVersion: '5' } }; },
    update: async (_r: any, _ns: any, obj: any) => { writes.push([obj.metadata.name, obj.spec.claimRef]); return obj; },
  } as any;
  const d = run('delayed');
  plugin.reserve!(d.state, d.pod, 'n2');
  let done = false;
  const bound = plugin.preBind!(d.state, d.pod, 'n2', client).then((s) => { done = true; return s; });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(writes, [['delayed', { metadata: { annotations: { 'volume.kubernetes.io/selected-node': 'n2' } } }]]);
  assert.equal(done, false, 'waits for the binding');
  const claim = claims[2];
  Object.assign(claim, { metadata: { ...claim.metadata, resourceVersion: '6', annotations: { 'volume.kubernetes.io/selected-node': 'n2' } }, status: { phase: 'Bound' } });
  fire('persistentvolumeclaims', claim);
  assert.equal((await bound).code, 'Success');
  assert.ok(woken > 0, 'claim changes wake parked pods');

  // A static match: the volume gets the claimRef, the binder finishes the binding.
  writes.length = 0;
  const s = run('static');
  plugin.reserve!(s.state, s.pod, 'n2');
  const staticClaim = claims[3];
  const waiting = plugin.preBind!(s.state, s.pod, 'n2', client);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(writes, [['free-n2', { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'ns', name: 'static', uid: 'uid-static', resourceVersion: '1' }]]);
  staticClaim.status = { phase: 'Bound' };
  fire('persistentvolumeclaims', staticClaim);
  assert.equal((await waiting).code, 'Success');
});
