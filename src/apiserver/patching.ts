/**
 * The seam to the patch engine (src/apiserver/patch/, written separately): JSON patch, merge
 * patch, strategic merge patch and server-side apply, plus managedFields bookkeeping. It is
 * loaded lazily, on the first PATCH, to keep an idle server small.
 */
import { ApiError } from './status.js';

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
