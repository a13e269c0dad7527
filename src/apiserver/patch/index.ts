/**
 * The patch engine of the API server: every PATCH media type Kubernetes accepts, and the
 * managedFields bookkeeping behind server-side apply. Loaded lazily by ../patching.ts.
 *
 *   application/json-patch+json            RFC 6902           ../patch-basic.ts
 *   application/merge-patch+json           RFC 7386           ../patch-basic.ts
 *   application/strategic-merge-patch+json built-in types     strategic.ts
 *   application/apply-patch+yaml           server-side apply  ssa.ts, fields.ts
 */
import { jsonPatch, mergePatch } from '../patch-basic.js';

export { applyStrategicMergePatch, hasStrategicSchema } from './strategic.js';
export { serverSideApply, updateManagedFields, ApplyConflictError } from './ssa.js';
export type { GVK } from './fields.js';

/** Applies an RFC 6902 JSON patch. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  return jsonPatch(doc, ops);
}

/** Applies an RFC 7386 merge patch. */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  return mergePatch(doc, patch);
}
