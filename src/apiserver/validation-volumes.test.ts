/**
 * Table-driven tests of volume and storage validation: each bad input gives the field error
 * Kubernetes gives (field path and message), good inputs give none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from './validation.js';
import { BUILTIN } from './resources.js';

const R = (kind: string) => BUILTIN.find((r) => r.kind === kind)!;
const errors = (kind: string, obj: any) => validate(R(kind), { metadata: { name: 'x' }, ...obj }).map((c) => `${c.field}: ${c.message}`);
const pod = (volumes: any[], mounts: any[] = []) => ({ spec: { containers: [{ name: 'c', image: 'i', volumeMounts: mounts }], volumes } });

test('pod volumes and volumeMounts are validated as Kubernetes does', () => {
  const cases: [string, any, string[]][] = [
    ['every source fine', pod([
      { name: 'a', emptyDir: {} }, { name: 'b', hostPath: { path: '/data', type: 'DirectoryOrCreate' } },
      { name: 'c', configMap: { name: 'cm', items: [{ key: 'k', path: 'dir/k', mode: 0o400 }] } }, { name: 'd', secret: { secretName: 's', defaultMode: 0o600 } },
      { name: 'e', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'f', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'l', fieldRef: { fieldPath: "metadata.labels['app']" } }, { path: 'cpu', resourceFieldRef: { containerName: 'c', resource: 'limits.cpu' } }] } },
      { name: 'g', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }, { configMap: { name: 'ca' } }] } },
    ], [{ name: 'a', mountPath: '/a' }, { name: 'a', mountPath: '/b', subPath: 'sub/dir' }, { name: 'f', mountPath: '/f', subPathExpr: '$(POD)' }]), []],
    ['no source', pod([{ name: 'a' }]), ['spec.volumes[0]: Required value: must specify a volume type']],
    ['two sources', pod([{ name: 'a', emptyDir: {}, hostPath: { path: '/x' } }]), ['spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type']],
    ['hostPath', pod([{ name: 'a', hostPath: { type: 'Dir' } }, { name: 'b', hostPath: { path: '/a/../etc' } }]), [
      'spec.volumes[0].hostPath.path: Required value',
      'spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
      'spec.volumes[1].hostPath.path: Invalid value: "/a/../etc": must not contain \'..\'']],
    ['configMap and secret', pod([{ name: 'a', configMap: { defaultMode: 0o1000, items: [{ path: '../k' }] } }, { name: 'b', secret: {} }]), [
      'spec.volumes[0].configMap.name: Required value', 'spec.volumes[0].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
      'spec.volumes[0].configMap.items[0].key: Required value', 'spec.volumes[0].configMap.items[0].path: Invalid value: "../k": must not contain \'..\'',
      'spec.volumes[1].secret.secretName: Required value']],
    ['downward API', pod([{ name: 'a', downwardAPI: { items: [{ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }, { path: 'r', resourceFieldRef: { resource: 'limits.cpu' } }, { path: '/abs' }] } }]), [
      'spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"',
      'spec.volumes[0].downwardAPI.items[1].resourceFieldRef.containerName: Required value',
      'spec.volumes[0].downwardAPI.items[2].path: Invalid value: "/abs": must be a relative path',
      'spec.volumes[0].downwardAPI.items[2]: Required value: one of fieldRef and resourceFieldRef is required']],
    ['claim and token', pod([{ name: 'a', persistentVolumeClaim: {} }, { name: 'b', projected: { sources: [{ serviceAccountToken: { path: 't', expirationSeconds: 60 } }] } }]), [
      'spec.volumes[0].persistentVolumeClaim.claimName: Required value',
      'spec.volumes[1].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes']],
    ['mounts', pod([{ name: 'a', emptyDir: {} }], [
      { name: 'nope', mountPath: '/n' }, { name: 'a' }, { name: 'a', mountPath: '/x', subPath: '/abs' }, { name: 'a', mountPath: '/x' },
      { name: 'a', mountPath: '/y', subPath: 's', subPathExpr: '$(A)' },
    ]), [
      'spec.containers[0].volumeMounts[0].name: Not found: "nope"', 'spec.containers[0].volumeMounts[1].mountPath: Required value',
      'spec.containers[0].volumeMounts[2].subPath: Invalid value: "/abs": must be a relative path',
      'spec.containers[0].volumeMounts[3].mountPath: Invalid value: "/x": must be unique',
      'spec.containers[0].volumeMounts[4].subPathExpr: Invalid value: "$(A)": subPathExpr and subPath are mutually exclusive']],
  ];
  for (const [what, obj, want] of cases) assert.deepEqual(errors('Pod', obj), want, what);
});

test('claims, volumes and classes are validated as Kubernetes does', () => {
  assert.deepEqual(errors('PersistentVolumeClaim', { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }), []);
  assert.deepEqual(errors('PersistentVolumeClaim', { spec: { accessModes: ['WriteMany'] } }), [
    'spec.accessModes: Unsupported value: "WriteMany": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
    'spec.resources[storage]: Required value']);
  assert.deepEqual(errors('PersistentVolumeClaim', { spec: {} }), ['spec.accessModes: Required value: at least 1 access mode is required', 'spec.resources[storage]: Required value']);
  assert.deepEqual(errors('PersistentVolume', { spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], local: { path: '/mnt' } } }), []);
  assert.deepEqual(errors('PersistentVolume', { spec: { accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Keep' } }), [
    'spec.capacity: Required value', 'spec: Required value: must specify a volume type',
    'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"']);
  assert.deepEqual(errors('PersistentVolume', { spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], emptyDir: {} } }), ['spec: Required value: must specify a volume type'], 'emptyDir is no PV source');
  assert.deepEqual(errors('StorageClass', { provisioner: 'x', volumeBindingMode: 'WaitForFirstConsumer' }), []);
  assert.deepEqual(errors('StorageClass', { volumeBindingMode: 'Later' }), ['provisioner: Required value', 'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"']);
});
