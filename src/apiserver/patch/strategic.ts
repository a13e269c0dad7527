/**
 * Strategic merge patch for the built-in types, as the Kubernetes API server applies it.
 * No JavaScript library implements it, so it is hand-written from the specification
 * (kubernetes community docs, "strategic-merge-patch.md") and the `patchMergeKey` /
 * `patchStrategy` tags of the API types, recorded below as data.
 *
 * Lists: a field with a merge key merges item by item (matched on the key); a field with
 * the `merge` strategy and no key is a set of primitives (union); everything else is
 * replaced. Directives: `$patch: replace|merge|delete` in maps and list items,
 * `$setElementOrder/<list>`, `$retainKeys`, `$deleteFromPrimitiveList/<list>`; null deletes
 * a map key.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import type { GVK } from './fields.js';

/** How a list field merges. */
export interface ListRule {
  /** Item key for lists of objects; undefined for a primitive set. */
  mergeKey?: string;
  /**
   * Server-side apply's key (x-kubernetes-list-map-keys) when it is wider than the strategic
   * merge key: container ports are one list item per containerPort+protocol.
   */
  mapKeys?: string[];
}

/** Defaults of list-map key fields, so an applied item without them matches the live one. */
export const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

/** The server-side apply identity of a list item under `rule` (undefined: not keyed). */
export function itemKey(rule: ListRule, item: Record<string, any>): Record<string, unknown> | undefined {
  const keys = rule.mapKeys ?? (rule.mergeKey ? [rule.mergeKey] : undefined);
  if (!keys) return undefined;
  return Object.fromEntries(keys.map((k) => [k, item[k] ?? KEY_DEFAULTS[k]]));
}

/** True when two items have the same server-side apply identity under `rule`. */
export function sameItem(rule: ListRule, a: Record<string, any>, b: Record<string, any>): boolean {
  const ka = itemKey(rule, a), kb = itemKey(rule, b);
  return !!ka && !!kb && Object.keys(ka).every((k) => ka[k] === kb[k]);
}

// Field name → rule, for fields whose meaning is the same wherever they appear. Taken from
// the patchMergeKey/patchStrategy tags in k8s.io/api (core, apps, batch, meta).
const BY_FIELD: Record<string, ListRule> = {
  containers: { mergeKey: 'name' },
  initContainers: { mergeKey: 'name' },
  ephemeralContainers: { mergeKey: 'name' },
  env: { mergeKey: 'name' },
  volumeMounts: { mergeKey: 'mountPath' },
  volumeDevices: { mergeKey: 'devicePath' },
  volumes: { mergeKey: 'name' },
  imagePullSecrets: { mergeKey: 'name' },
  hostAliases: { mergeKey: 'ip' },
  topologySpreadConstraints: { mergeKey: 'topologyKey' },
  resourceClaims: { mergeKey: 'name' },
  conditions: { mergeKey: 'type' },
  ownerReferences: { mergeKey: 'uid' },
  finalizers: {},
  taints: { mergeKey: 'key' },
  podCIDRs: {},
  addresses: { mergeKey: 'type' },
  ephemeralContainerStatuses: {},
  secrets: { mergeKey: 'name' },
};

/** The rule for a list at `path` (field names from the root, `[]` for list items). */
export function listRule(path: string[], gvk: GVK): ListRule | undefined {
  const field = path[path.length - 1];
  if (field === 'ports') {
    // A container's ports merge on containerPort; a Service's on port; others are atomic.
    if (path.includes('containers') || path.includes('initContainers') || path.includes('ephemeralContainers')) return { mergeKey: 'containerPort', mapKeys: ['containerPort', 'protocol'] };
    if (gvk.kind === 'Service' && path.join('.') === 'spec.ports') return { mergeKey: 'port', mapKeys: ['port', 'protocol'] };
    return undefined;
  }
  if (field === 'addresses' && gvk.kind !== 'Node') return undefined;
  if (field === 'conditions' && path[0] !== 'status') return undefined;
  return BY_FIELD[field];
}

/** Fields whose maps carry `$retainKeys` semantics (patchStrategy retainKeys). */
const RETAIN_KEYS = new Set(['strategy', 'updateStrategy']);

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when strategic merge is defined for the kind (built-in types; never custom resources). */
export function hasStrategicSchema(gvk: GVK): boolean {
  const builtin = ['', 'apps', 'batch', 'autoscaling', 'networking.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io', 'storage.k8s.io', 'node.k8s.io', 'scheduling.k8s.io', 'policy', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'events.k8s.io'];
  return builtin.includes(gvk.group);
}

/** Applies a strategic merge patch to `doc`; the inputs are not modified. */
export function applyStrategicMergePatch(doc: object, patch: object, gvk: GVK): object {
  if (!isObj(patch)) throw new InvalidArgumentError('a strategic merge patch must be a JSON object');
  return mergeMap(structuredClone(doc ?? {}), patch, [], gvk) ?? {};
}

function mergeMap(orig: Record<string, any>, patch: Record<string, any>, path: string[], gvk: GVK): Record<string, any> | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return stripDirectives(patch);
  if (directive !== undefined && directive !== 'merge') throw new InvalidArgumentError(`unknown patch directive "$patch: ${directive}"`);
  let out: Record<string, any> = isObj(orig) ? orig : {};
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set<string>(patch.$retainKeys);
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  const orders: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      orders[k.slice('$setElementOrder/'.length)] = v as unknown[];
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field])) out[field] = out[field].filter((x: unknown) => !(v as unknown[]).some((d) => d === x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const p = [...path, k];
    if (Array.isArray(v)) {
      out[k] = mergeList(Array.isArray(out[k]) ? out[k] : [], v, p, gvk);
    } else if (isObj(v)) {
      if (RETAIN_KEYS.has(k) && !isObj(out[k])) out[k] = {};
      const merged = mergeMap(isObj(out[k]) ? out[k] : {}, v, p, gvk);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  for (const [field, order] of Object.entries(orders)) {
    if (Array.isArray(out[field])) out[field] = reorder(out[field], order, listRule([...path, field], gvk)?.mergeKey);
  }
  return out;
}

function mergeList(orig: any[], patch: any[], path: string[], gvk: GVK): any[] {
  const rule = listRule(path, gvk);
  // A `{$patch: replace}` item replaces the whole list with the other items.
  if (patch.some((x) => isObj(x) && x.$patch === 'replace')) return patch.filter((x) => !(isObj(x) && x.$patch === 'replace')).map(stripDirectives);
  if (!rule) return patch.map((x) => (isObj(x) ? stripDirectives(x) : x));
  if (!rule.mergeKey) {
    const out = [...orig];
    for (const x of patch) if (!out.some((o) => o === x)) out.push(x);
    return out;
  }
  const key = rule.mergeKey;
  const out = [...orig];
  for (const item of patch) {
    if (!isObj(item)) throw new InvalidArgumentError(`list ${path.join('.')} merges on "${key}": its items must be objects`);
    if (item[key] === undefined) throw new InvalidArgumentError(`${path.join('.')}: an item has no merge key "${key}"`);
    const i = out.findIndex((o) => isObj(o) && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (i >= 0) {
      const merged = mergeMap(out[i], item, [...path, '[]'], gvk);
      if (merged === undefined) out.splice(i, 1);
      else out[i] = merged;
    } else {
      out.push(mergeMap({}, item, [...path, '[]'], gvk));
    }
  }
  return out;
}

function reorder(list: any[], order: unknown[], key: string | undefined): any[] {
  const id = (x: any) => (key && isObj(x) ? x[key] : x);
  const wanted = order.map((o) => (key && isObj(o) ? (o as Record<string, unknown>)[key] : o));
  const ranked = list.filter((x) => wanted.includes(id(x))).sort((a, b) => wanted.indexOf(id(a)) - wanted.indexOf(id(b)));
  return [...ranked, ...list.filter((x) => !wanted.includes(id(x)))];
}

function stripDirectives<T>(v: T): T {
  if (Array.isArray(v)) return v.map(stripDirectives) as T;
  if (!isObj(v)) return v;
  const out: Record<string, any> = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(x);
  return out as T;
}
