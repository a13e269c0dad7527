/**
 * Owner references, the links the controllers and the garbage collector follow: a controller
 * marks what it creates with a `controller: true` reference to itself and adopts or releases
 * objects by editing those references.
 */
import type { KObject } from '../../client/client.js';

/** One metadata.ownerReferences entry. */
export interface OwnerRef { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }

/** The controller reference of `obj`, if any. */
export function controllerRef(obj: KObject): OwnerRef | undefined {
  return (obj.metadata.ownerReferences as OwnerRef[] | undefined)?.find((r) => r.controller);
}

/** A controller reference to `owner` (for objects it creates). */
export function ownerRefTo(owner: KObject, apiVersion: string, kind: string): OwnerRef {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/** True when `obj` is controlled by the object with this uid. */
export function isControlledBy(obj: KObject, uid: string): boolean {
  return controllerRef(obj)?.uid === uid;
}
