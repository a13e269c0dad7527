/**
 * Server-side apply and managedFields bookkeeping, after Kubernetes' structured-merge-diff:
 * each manager owns a set of fields; an Apply by one manager that sets a field another
 * manager owns to a different value is a conflict (409) unless forced, which moves the
 * ownership; fields a manager applied before and no longer applies are removed when nobody
 * else owns them. Non-apply writes (create, update, patch) give their manager the fields
 * they changed and take them from the others.
 */
import { ConflictError } from '../../core/errors.js';
import { type GVK, deletePath, describePath, fieldSet, fromFieldsV1, toFieldsV1, valueAt } from './fields.js';
import { listRule, sameItem } from './strategic.js';

/** One entry of metadata.managedFields. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** An apply conflict: a 409 with one cause per field. */
export class ApplyConflictError extends ConflictError {
  /** The fields and the managers that own them. */
  readonly causes: Array<{ field: string; message: string }>;
  constructor(message: string, causes: Array<{ field: string; message: string }>) {
    super(message);
    this.causes = causes;
  }
}

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const apiVersionOf = (g: GVK) => (g.group ? `${g.group}/${g.version}` : g.version);

/** Applies `applied` as `manager`; `live` is undefined when the apply creates the object. */
export function serverSideApply(live: Record<string, any> | undefined, applied: Record<string, any>, o: { manager: string; force: boolean; gvk: GVK; now: string }): Record<string, any> {
  const appliedSet = fieldSet(applied, o.gvk);
  const entries: ManagedFieldsEntry[] = structuredClone(live?.metadata?.managedFields ?? []);
  const sets = entries.map((e) => fromFieldsV1(e.fieldsV1));
  const conflicts: Array<{ field: string; message: string; path: string; entry: number }> = [];
  entries.forEach((e, i) => {
    if (e.manager === o.manager && e.operation === 'Apply') return;
    for (const p of appliedSet) {
      if (sets[i].has(p) && !same(valueAt(live, p), valueAt(applied, p))) {
        conflicts.push({ field: describePath(p), message: `conflict with "${e.manager}"${e.operation === 'Update' ? ' using ' + e.apiVersion : ''}`, path: p, entry: i });
      }
    }
  });
  if (conflicts.length && !o.force) {
    const lines = conflicts.map((c) => `- ${c.message}: ${c.field}`);
    throw new ApplyConflictError(`Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${conflicts.length === 1 ? `${conflicts[0].message}: ${conflicts[0].field}` : '\n' + lines.join('\n')}`,
      conflicts.map(({ field, message }) => ({ field, message })));
  }
  for (const c of conflicts) sets[c.entry].delete(c.path);

  const result: Record<string, any> = live ? mergeApplied(structuredClone(live), applied, [], o.gvk) : structuredClone(applied);
  const own = entries.findIndex((e) => e.manager === o.manager && e.operation === 'Apply');
  if (own >= 0) {
    for (const p of sets[own]) {
      if (appliedSet.has(p)) continue;
      const ownedElsewhere = sets.some((s, i) => i !== own && s.has(p));
      if (!ownedElsewhere) deletePath(result, p);
    }
  }
  const next: ManagedFieldsEntry[] = [];
  entries.forEach((e, i) => {
    if (i === own || !sets[i].size) return;
    next.push({ ...e, fieldsV1: toFieldsV1(sets[i]) });
  });
  next.push({ manager: o.manager, operation: 'Apply', apiVersion: apiVersionOf(o.gvk), time: o.now, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(appliedSet) });
  result.metadata = { ...(result.metadata ?? {}), managedFields: next };
  return result;
}

/** Merges an applied configuration into the live object: maps deep, keyed lists by key. */
function mergeApplied(live: any, applied: any, path: string[], gvk: GVK): any {
  if (isObj(applied)) {
    const out = isObj(live) ? live : {};
    for (const [k, v] of Object.entries(applied)) {
      if (path.length === 1 && path[0] === 'metadata' && k === 'managedFields') continue;
      out[k] = mergeApplied(out[k], v, [...path, k], gvk);
    }
    return out;
  }
  if (Array.isArray(applied)) {
    const rule = listRule(path, gvk);
    if (!rule || !Array.isArray(live)) return structuredClone(applied);
    if (!rule.mergeKey) return [...new Set([...live, ...applied])];
    const out = [...live];
    for (const item of applied) {
      const i = out.findIndex((x) => isObj(x) && isObj(item) && sameItem(rule, x, item));
      if (i >= 0) out[i] = mergeApplied(out[i], item, [...path, '[]'], gvk);
      else out.push(structuredClone(item));
    }
    return out;
  }
  return applied;
}

/**
 * Records a non-apply write: `manager` (operation Update) owns what it changed (everything,
 * for a create), and other managers lose those fields.
 */
export function updateManagedFields(prev: Record<string, any> | undefined, next: Record<string, any>, o: { manager: string; operation: string; now: string; gvk: GVK; subresource?: string }): Record<string, any> {
  const nextSet = fieldSet(next, o.gvk);
  const changed = new Set([...nextSet].filter((p) => !prev || !same(valueAt(prev, p), valueAt(next, p))));
  const entries: ManagedFieldsEntry[] = structuredClone(prev?.metadata?.managedFields ?? []);
  if (!changed.size && prev) {
    next.metadata = { ...(next.metadata ?? {}), managedFields: entries };
    return next;
  }
  const out: ManagedFieldsEntry[] = [];
  let mine: Set<string> | undefined;
  for (const e of entries) {
    const s = fromFieldsV1(e.fieldsV1);
    if (e.manager === o.manager && e.operation === 'Update' && (e.subresource ?? '') === (o.subresource ?? '')) {
      mine = s;
      continue;
    }
    for (const p of changed) s.delete(p);
    // Fields that no longer exist are owned by nobody.
    for (const p of [...s]) if (!nextSet.has(p)) s.delete(p);
    if (s.size) out.push({ ...e, fieldsV1: toFieldsV1(s) });
  }
  const own = new Set([...(mine ?? [])].filter((p) => nextSet.has(p)));
  for (const p of changed) own.add(p);
  if (own.size) {
    out.push({ manager: o.manager, operation: 'Update', apiVersion: apiVersionOf(o.gvk), time: o.now, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(own), ...(o.subresource ? { subresource: o.subresource } : {}) });
  }
  next.metadata = { ...(next.metadata ?? {}), managedFields: out };
  return next;
}
