/**
 * Legacy discovery documents: /api (APIVersions), /apis (APIGroupList), /apis/G (APIGroup),
 * /api/v1 and /apis/G/V (APIResourceList). Every kubectl from 1.27 to 1.33 falls back to
 * these when the server answers its aggregated-discovery Accept with plain JSON.
 */
import { createHash } from 'node:crypto';
import { VERBS, groupVersion, type ResourceInfo } from './resources.js';
import type { Catalog } from './catalog.js';

/** The `/api` document. */
export function apiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groups(catalog: Catalog): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of catalog.all()) {
    if (!r.group) continue;
    const vs = out.get(r.group) ?? [];
    if (!vs.includes(r.version)) vs.push(r.version);
    out.set(r.group, vs);
  }
  return out;
}

function group(name: string, versions: string[]) {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** The `/apis` document. */
export function apiGroupList(catalog: Catalog) {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups(catalog)].map(([n, vs]) => group(n, vs)) };
}

/** The `/apis/<group>` document, or undefined when the group is not served. */
export function apiGroup(catalog: Catalog, name: string) {
  const vs = groups(catalog).get(name);
  return vs ? { kind: 'APIGroup', apiVersion: 'v1', ...group(name, vs) } : undefined;
}

const hash = (s: string) => createHash('sha256').update(s).digest('base64').slice(0, 11);

/** The APIResourceList entries of one resource (itself and its subresources). */
function entries(r: ResourceInfo) {
  const base = { namespaced: r.namespaced };
  const out: Record<string, unknown>[] = [{
    name: r.resource, singularName: r.singular, ...base, kind: r.kind, verbs: VERBS,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    storageVersionHash: hash(`${groupVersion(r)}/${r.kind}`),
  }];
  if (r.subresources?.status) out.push({ name: `${r.resource}/status`, singularName: '', ...base, kind: r.kind, verbs: ['get', 'patch', 'update'] });
  if (r.subresources?.scale) out.push({ name: `${r.resource}/scale`, singularName: '', ...base, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
  if (r.subresources?.binding) out.push({ name: `${r.resource}/binding`, singularName: '', ...base, kind: 'Binding', verbs: ['create'] });
  return out;
}

/** The APIResourceList of a group-version, or undefined when it is not served. */
export function apiResourceList(catalog: Catalog, gv: string) {
  const rs = catalog.byGroupVersion().get(gv);
  if (!rs) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources: rs.flatMap(entries) };
}
