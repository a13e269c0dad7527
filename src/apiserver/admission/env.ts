/**
 * What the admission plugins work with: the storage and catalog of the server (they run in
 * the API server's write path, before an object is stored) and Kubernetes' Forbidden error.
 */
import type { Storage } from '../storage.js';
import type { Catalog } from '../catalog.js';
import type { ResourceInfo } from '../resources.js';
import { ApiError } from '../status.js';

/** The admission plugins' view of the server. */
export interface AdmissionEnv {
  storage: Storage;
  catalog: Catalog;
  /** Wall clock (ms): quota and eviction timestamps. */
  now(): number;
}

/** A built-in resource row (always served). */
export function builtin(env: AdmissionEnv, group: string, version: string, resource: string): ResourceInfo {
  const r = env.catalog.lookup(group, version, resource);
  if (!r) throw new Error(`resource ${group}/${version}/${resource} is not served`);
  return r;
}

/** Lists the objects of a resource in a namespace (all of them). */
export async function listAll(env: AdmissionEnv, r: ResourceInfo, ns?: string): Promise<any[]> {
  return (await env.storage.list(r, ns, {})).items;
}

/** 403 `pods "x" is forbidden: <why>`, as admission.NewForbidden words it. */
export function forbidden(r: { group: string; resource: string }, name: string, why: string): ApiError {
  const q = r.group ? `${r.resource}.${r.group}` : r.resource;
  return new ApiError(403, 'Forbidden', `${q} "${name}" is forbidden: ${why}`, { name, group: r.group, kind: r.resource });
}
