/**
 * The seam to the patch engine (src/apiserver/patch/, written separately): JSON patch, merge
 * patch, strategic merge patch and server-side apply, plus managedFields bookkeeping. It is
 * loaded lazily, on the first PATCH, to keep an idle server small.
 */
import { ApiError, badRequest } from './status.js';
import type { ResourceInfo } from './resources.js';
import { jsonPatch, mergePatch } from './patch-basic.js';
import { now } from './storage.js';

/** Group, version and kind, as the patch engine takes them. */
export interface GVK { group: string; version: string; kind: string }

/** What src/apiserver/patch/index.ts exports. */
export interface PatchEngine {
  applyJsonPatch(doc: any, patch: any): any;
  applyMergePatch(doc: any, patch: any): any;
  applyStrategicMergePatch(doc: any, patch: any, gvk: GVK): any;
  hasStrategicSchema(gvk: GVK): boolean;
  serverSideApply(live: any, applied: any, o: { manager: string; force: boolean; gvk: GVK; now: string }): any;
  updateManagedFields(prev: any, next: any, o: { manager: string; operation: string; now: string; gvk: GVK }): any;
}

let engine: Promise<PatchEngine | undefined> | undefined;

/** The patch engine, or undefined when this build has none. */
export function patchEngine(): Promise<PatchEngine | undefined> {
  const spec = './patch/index.js';
  engine ??= (import(spec) as Promise<PatchEngine>).catch(() => undefined);
  return engine;
}

/** The patch engine, or a 500 naming what is missing. */
export async function requirePatchEngine(): Promise<PatchEngine> {
  const e = await patchEngine();
  if (!e) throw new ApiError(500, 'InternalError', 'Internal error occurred: the patch engine is not available in this build');
  return e;
}

/** Unwraps engine results that come as `{object}` or as the object itself. */
export function unwrap(result: any): any {
  return result && typeof result === 'object' && 'object' in result && !('metadata' in result) ? result.object : result;
}

/** Maps an engine error to a Status: conflicts 409, bad patches 422/400, as the real server does. */
export function patchError(err: unknown, kind: string, name: string, resource: string, group: string): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as any;
  const msg = String(e?.message ?? err);
  if (e?.code === 'CONFLICT' || e?.conflicts || e?.causes) {
    const causes: any[] = e?.causes ?? e?.conflicts ?? [];
    const n = causes.length || 1;
    return new ApiError(409, 'Conflict', msg.startsWith('Apply failed') ? msg : `Apply failed with ${n} conflict${n > 1 ? 's' : ''}: ${msg}`,
      { name, group, kind: resource, causes: causes.map((c: any) => ({ reason: 'FieldManagerConflict', message: c.message ?? `conflict with "${c.manager}"`, field: c.field ?? c.path })) });
  }
  if (e?.code === 'INVALID_ARGUMENT' || e?.code === 'FAILED_PRECONDITION' || err instanceof SyntaxError) return new ApiError(422, 'Invalid', msg, { name, group, kind });
  return new ApiError(500, 'InternalError', `Internal error occurred: ${msg}`);
}

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const unsupported = (r: ResourceInfo) => new ApiError(415, 'UnsupportedMediaType',
  `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml${r.custom ? '' : ', application/strategic-merge-patch+json'}`);

/** The patch's media type; 415 for unknown types and strategic merge on custom resources, 400 for apply without fieldManager. */
export function patchMediaType(contentType: string | undefined, r: ResourceInfo, fieldManager: string | null): string {
  const ctype = (contentType ?? '').split(';')[0].trim();
  if (!PATCH_TYPES.includes(ctype) || (ctype === 'application/strategic-merge-patch+json' && r.custom)) throw unsupported(r);
  if (ctype === 'application/apply-patch+yaml' && !fieldManager) throw badRequest('PATCH, application/apply-patch+yaml requests require fieldManager to be set');
  return ctype;
}

/** Applies a patch of media type `ctype` to `cur` (undefined when apply creates). */
export async function applyPatchDocument(r: ResourceInfo, name: string, cur: any, patch: any, ctype: string, gvk: GVK,
  o: { fieldManager: string; force: boolean }): Promise<any> {
  const engine = await patchEngine();
  try {
    if (!engine && ctype === 'application/merge-patch+json') return mergePatch(cur, patch);
    if (!engine && ctype === 'application/json-patch+json') return jsonPatch(cur, patch);
    const e = await requirePatchEngine();
    switch (ctype) {
      case 'application/json-patch+json': return unwrap(e.applyJsonPatch(cur, patch));
      case 'application/merge-patch+json': return unwrap(e.applyMergePatch(cur, patch));
      case 'application/strategic-merge-patch+json': return unwrap(e.applyStrategicMergePatch(cur, patch, gvk));
      case 'application/apply-patch+yaml': return unwrap(e.serverSideApply(cur, patch, { manager: o.fieldManager, force: o.force, gvk, now: now() }));
    }
  } catch (err) {
    throw patchError(err, r.kind, name, r.resource, r.group);
  }
  throw unsupported(r);
}
