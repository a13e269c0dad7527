/**
 * Storage admission, as kube-apiserver's DefaultStorageClass and StorageObjectInUseProtection
 * plugins: a PersistentVolumeClaim that names no class (storageClassName unset — an empty
 * string means "no class" and stays) gets the default StorageClass (annotation
 * storageclass.kubernetes.io/is-default-class "true"; the newest wins when there are several);
 * claims and volumes get the `kubernetes.io/pvc-protection` / `kubernetes.io/pv-protection`
 * finalizers, which the protection controller removes once nothing uses them, so a claim in
 * use by a pod is not deleted under it.
 */
import type { Storage } from '../storage.js';
import { BUILTIN, keyPrefix } from '../resources.js';
import { decode } from '../storage.js';

const CLASSES = BUILTIN.find((r) => r.resource === 'storageclasses')!;

/** The annotation that makes a StorageClass the default (and its beta spelling). */
export const DEFAULT_CLASS_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];
/** The finalizers StorageObjectInUseProtection adds. */
export const PVC_PROTECTION = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION = 'kubernetes.io/pv-protection';

/** Whether a StorageClass is marked as the default. */
export function isDefaultClass(sc: any): boolean {
  return DEFAULT_CLASS_ANNOTATIONS.some((a) => sc?.metadata?.annotations?.[a] === 'true');
}

/** The default StorageClass among `classes` (the newest of several), or undefined. */
export function defaultClass(classes: any[]): any {
  return classes.filter(isDefaultClass).sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')) || String(a.metadata.name).localeCompare(b.metadata.name))[0];
}

function protect(obj: any, finalizer: string): void {
  const f: string[] = obj.metadata.finalizers ?? [];
  if (!f.includes(finalizer)) obj.metadata.finalizers = [...f, finalizer];
}

/** Admits a PersistentVolumeClaim being created (mutates it). */
export async function admitClaim(storage: Storage, pvc: any): Promise<void> {
  pvc.spec ??= {};
  const legacy = pvc.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'];
  if (pvc.spec.storageClassName === undefined && legacy === undefined) {
    const { kvs } = await storage.backend.list(keyPrefix(CLASSES));
    const sc = defaultClass(kvs.map(decode));
    if (sc) pvc.spec.storageClassName = sc.metadata.name;
  }
  protect(pvc, PVC_PROTECTION);
}

/** Admits a PersistentVolume being created (mutates it). */
export function admitVolume(pv: any): void {
  protect(pv, PV_PROTECTION);
}
