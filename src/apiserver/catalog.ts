/**
 * The set of served resources: the built-in table plus one row per served version of every
 * CustomResourceDefinition. CRD writes update it synchronously (so discovery, OpenAPI and
 * the REST paths of a new CRD are live as soon as its create returns).
 */
import { BUILTIN, groupVersion, type ResourceInfo } from './resources.js';
import { kindSchema, type Schema } from './schemas.js';

const META_REF = { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }] };

/** Resources by group/version/plural, with a version number that changes on every CRD change. */
export class Catalog {
  private custom = new Map<string, { rows: ResourceInfo[]; schemas: Map<string, Schema> }>();
  /** Bumped whenever the set of resources changes (caches compare it). */
  version = 0;
  private cache?: { all: ResourceInfo[]; byGv: Map<string, ResourceInfo[]>; index: Map<string, ResourceInfo> };

  private build() {
    if (this.cache) return this.cache;
    const all = [...BUILTIN, ...[...this.custom.values()].flatMap((c) => c.rows)];
    const byGv = new Map<string, ResourceInfo[]>();
    const index = new Map<string, ResourceInfo>();
    for (const r of all) {
      const gv = groupVersion(r);
      if (!byGv.has(gv)) byGv.set(gv, []);
      byGv.get(gv)!.push(r);
      index.set(`${r.group}/${r.version}/${r.resource}`, r);
    }
    return (this.cache = { all, byGv, index });
  }

  /** Every served resource. */
  all(): ResourceInfo[] { return this.build().all; }
  /** Resources grouped by "group/version" in discovery order. */
  byGroupVersion(): Map<string, ResourceInfo[]> { return this.build().byGv; }
  /** The resource served at group/version/plural, if any. */
  lookup(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.build().index.get(`${group}/${version}/${resource}`);
  }
  /** True when some version of `group` is served. */
  hasGroup(group: string): boolean { return this.all().some((r) => r.group === group); }

  /** The schema of a resource's kind: a CRD's openAPIV3Schema or the built-in one. */
  private schemas = new WeakMap<ResourceInfo, Schema>();
  schemaOf = (r: ResourceInfo): Schema => {
    let s = this.schemas.get(r); // rows are replaced, never mutated, when a CRD changes
    if (!s) this.schemas.set(r, (s = this.buildSchema(r)));
    return s;
  };

  private buildSchema(r: ResourceInfo): Schema {
    if (!r.custom) return kindSchema(r);
    const s = this.custom.get(`${r.resource}.${r.group}`)?.schemas.get(r.version);
    const gvk = [{ group: r.group, version: r.version, kind: r.kind }];
    if (!s) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { metadata: META_REF }, 'x-kubernetes-group-version-kind': gvk };
    return { ...s, properties: { ...s.properties, apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: META_REF }, 'x-kubernetes-group-version-kind': gvk };
  }

  /** Adds or replaces the rows of a CRD (or removes them when `deleted`). */
  applyCrd(crd: any, deleted = false): void {
    const name = crd?.metadata?.name;
    if (!name) return;
    this.cache = undefined;
    this.version++;
    if (deleted) { this.custom.delete(name); return; }
    const spec = crd.spec ?? {};
    const names = spec.names ?? {};
    const rows: ResourceInfo[] = [];
    const schemas = new Map<string, Schema>();
    for (const v of spec.versions ?? []) {
      if (v.served === false) continue;
      const sub = v.subresources ?? spec.subresources ?? {};
      rows.push({
        group: spec.group, version: v.name, resource: names.plural, kind: names.kind,
        singular: names.singular || String(names.kind ?? '').toLowerCase(),
        namespaced: spec.scope !== 'Cluster', custom: true,
        ...(names.shortNames?.length ? { shortNames: names.shortNames } : {}),
        ...(names.categories?.length ? { categories: names.categories } : {}),
        subresources: {
          ...(sub.status ? { status: true } : {}),
          ...(sub.scale ? { scale: sub.scale } : {}),
        },
        printerColumns: v.additionalPrinterColumns ?? spec.additionalPrinterColumns,
      });
      const schema = v.schema?.openAPIV3Schema ?? spec.validation?.openAPIV3Schema;
      if (schema) schemas.set(v.name, schema);
    }
    this.custom.set(name, { rows, schemas });
  }
}

/** A CRD's status once accepted: names accepted, established, stored versions. */
export function crdStatus(crd: any): any {
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const cond = (type: string, reason: string, message: string) => ({ type, status: 'True', lastTransitionTime: t, reason, message });
  return {
    conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found'), cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted')],
    acceptedNames: crd.spec?.names ?? {},
    storedVersions: (crd.spec?.versions ?? []).filter((v: any) => v.storage).map((v: any) => v.name),
  };
}

/** Validates a CRD object's spec (the parts whose absence would break serving). */
export function validateCrd(crd: any): { field: string; message: string; reason: string }[] {
  const out: { field: string; message: string; reason: string }[] = [];
  const req = (field: string) => out.push({ field, message: 'Required value', reason: 'FieldValueRequired' });
  const s = crd.spec ?? {};
  if (!s.group) req('spec.group');
  if (!s.names?.plural) req('spec.names.plural');
  if (!s.names?.kind) req('spec.names.kind');
  if (!['Namespaced', 'Cluster'].includes(s.scope)) out.push({ field: 'spec.scope', message: `Unsupported value: "${s.scope ?? ''}": supported values: "Cluster", "Namespaced"`, reason: 'FieldValueNotSupported' });
  if (!(s.versions ?? []).length) req('spec.versions');
  else if ((s.versions ?? []).filter((v: any) => v.storage).length !== 1) out.push({ field: 'spec.versions', message: 'Invalid value: must have exactly one version marked as storage version', reason: 'FieldValueInvalid' });
  if (s.group && s.names?.plural && crd.metadata?.name !== `${s.names.plural}.${s.group}`) {
    out.push({ field: 'metadata.name', message: `Invalid value: "${crd.metadata?.name}": must be spec.names.plural+"."+spec.group`, reason: 'FieldValueInvalid' });
  }
  return out;
}

/** Checks a value against an OpenAPI v3 (structural) schema: types, required, enum, bounds, patterns. */
export function schemaErrors(value: any, s: Schema | undefined, path: string, out: { field: string; message: string; reason: string }[] = []) {
  if (!s || value === undefined) return out;
  const f = path || '<root>';
  const bad = (message: string, reason = 'FieldValueInvalid') => out.push({ field: f, message, reason });
  const show = JSON.stringify(value);
  if (value === null) { if (!s.nullable && s.type) bad(`Invalid value: "null": ${path.split('.').pop()} in body must be of type ${s.type}: "null"`, 'FieldValueTypeInvalid'); return out; }
  const t = Array.isArray(value) ? 'array' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
  if (s['x-kubernetes-int-or-string']) { if (t !== 'integer' && t !== 'string') bad(`Invalid value: ${show}: must be an integer or a string`); return out; }
  if (s.type && !(s.type === t || (s.type === 'number' && t === 'integer'))) {
    bad(`Invalid value: "${t}": ${path.split('.').pop()} in body must be of type ${s.type}: "${t}"`, 'FieldValueTypeInvalid');
    return out;
  }
  if (s.enum && !s.enum.some((e: unknown) => JSON.stringify(e) === show)) bad(`Unsupported value: ${show}: supported values: ${s.enum.map((e: unknown) => JSON.stringify(e)).join(', ')}`, 'FieldValueNotSupported');
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) bad(`Invalid value: ${value}: ${path.split('.').pop()} in body should be greater than or equal to ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) bad(`Invalid value: ${value}: ${path.split('.').pop()} in body should be less than or equal to ${s.maximum}`);
  }
  if (typeof value === 'string') {
    if (s.minLength !== undefined && value.length < s.minLength) bad(`Invalid value: ${show}: ${path.split('.').pop()} in body should be at least ${s.minLength} chars long`);
    if (s.maxLength !== undefined && value.length > s.maxLength) bad(`Too long: may not be more than ${s.maxLength} bytes`, 'FieldValueTooLong');
    if (s.pattern && !new RegExp(s.pattern, 'u').test(value)) bad(`Invalid value: ${show}: ${path.split('.').pop()} in body should match '${s.pattern}'`);
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) bad(`Invalid value: ${value.length}: ${path.split('.').pop()} in body should have at least ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems) bad(`Too many: ${value.length}: must have at most ${s.maxItems} items`, 'FieldValueTooMany');
    value.forEach((v, i) => schemaErrors(v, s.items, `${path}[${i}]`, out));
  } else if (t === 'object') {
    for (const r of s.required ?? []) if (value[r] === undefined) out.push({ field: path ? `${path}.${r}` : r, message: 'Required value', reason: 'FieldValueRequired' });
    for (const [k, v] of Object.entries(value)) {
      const sub = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      if (path === '' && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue;
      schemaErrors(v, sub, path ? `${path}.${k}` : k, out);
    }
  }
  return out;
}
