/**
 * Discovery. Legacy documents: /api (APIVersions), /apis (APIGroupList), /apis/G (APIGroup),
 * /api/v1 and /apis/G/V (APIResourceList). Aggregated discovery (APIGroupDiscoveryList v2 and
 * v2beta1) on /api and /apis when the Accept header asks for it, as kubectl 1.27+ does.
 */
import { createHash } from 'node:crypto';
import { verbsOf, groupVersion, type ResourceInfo } from './resources.js';
import type { DiscoveryCatalog } from './aggregated.js';

/** The `/api` document. */
export function apiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groups(catalog: DiscoveryCatalog): Map<string, string[]> {
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
export function apiGroupList(catalog: DiscoveryCatalog) {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups(catalog)].map(([n, vs]) => group(n, vs)) };
}

/** The `/apis/<group>` document, or undefined when the group is not served. */
export function apiGroup(catalog: DiscoveryCatalog, name: string) {
  const vs = groups(catalog).get(name);
  return vs ? { kind: 'APIGroup', apiVersion: 'v1', ...group(name, vs) } : undefined;
}

const hash = (s: string) => createHash('sha256').update(s).digest('base64').slice(0, 11);

// The streaming subresources of pods (served by nodeproxy.ts), as Kubernetes lists them.
const POD_STREAMS: [string, string, string[]][] = [
  ['log', 'Pod', ['get']], ['exec', 'PodExecOptions', ['create', 'get']],
  ['attach', 'PodAttachOptions', ['create', 'get']], ['portforward', 'PodPortForwardOptions', ['create', 'get']],
];

// nodes/proxy (nodeproxy.ts), relayed to the node's agent.
const isNodes = (r: ResourceInfo) => r.group === '' && r.resource === 'nodes';
const PROXY_VERBS = ['create', 'delete', 'get', 'patch', 'update'];

/** The APIResourceList entries of one resource (itself and its subresources). */
function entries(r: ResourceInfo) {
  const base = { namespaced: r.namespaced };
  const out: Record<string, unknown>[] = [{
    name: r.resource, singularName: r.singular, ...base, kind: r.kind, verbs: verbsOf(r),
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    storageVersionHash: hash(`${groupVersion(r)}/${r.kind}`),
  }];
  if (r.subresources?.status) out.push({ name: `${r.resource}/status`, singularName: '', ...base, kind: r.kind, verbs: ['get', 'patch', 'update'] });
  if (r.subresources?.scale) out.push({ name: `${r.resource}/scale`, singularName: '', ...base, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
  if (r.subresources?.binding) out.push({ name: `${r.resource}/binding`, singularName: '', ...base, kind: 'Binding', verbs: ['create'] });
  if (r.subresources?.binding) for (const [s, kind, verbs] of POD_STREAMS) out.push({ name: `${r.resource}/${s}`, singularName: '', ...base, kind, verbs });
  if (r.subresources?.binding) out.push({ name: `${r.resource}/eviction`, singularName: '', ...base, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
  if (isNodes(r)) out.push({ name: 'nodes/proxy', singularName: '', ...base, kind: 'NodeProxyOptions', verbs: PROXY_VERBS });
  if (r.resource === 'serviceaccounts' && !r.group) out.push({ name: 'serviceaccounts/token', singularName: '', ...base, group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] });
  return out;
}

/** The APIResourceList of a group-version, or undefined when it is not served. */
export function apiResourceList(catalog: DiscoveryCatalog, gv: string) {
  const rs = catalog.byGroupVersion().get(gv);
  if (!rs) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources: rs.flatMap(entries) };
}

/** The aggregated-discovery versions this server speaks, best first. */
const AGGREGATED = ['v2', 'v2beta1'];

/** The aggregated discovery version the Accept header asks for first, if any. */
export function wantsAggregated(accept: string | undefined): string | undefined {
  for (const part of (accept ?? '').split(',')) {
    const [type, ...ps] = part.split(';').map((x) => x.trim());
    const p = Object.fromEntries(ps.map((x) => x.split('=').map((y) => y.trim())));
    if (type === 'application/json' && p.g === 'apidiscovery.k8s.io' && p.as === 'APIGroupDiscoveryList' && AGGREGATED.includes(p.v)) return p.v;
    if (type === 'application/json' && !p.as) return undefined; // plain JSON preferred
  }
  return undefined;
}

function aggregatedResource(r: ResourceInfo) {
  const sub: Record<string, unknown>[] = [];
  if (r.subresources?.status) sub.push({ subresource: 'status', responseKind: { group: r.group, version: r.version, kind: r.kind }, verbs: ['get', 'patch', 'update'] });
  if (r.subresources?.scale) sub.push({ subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] });
  if (r.subresources?.binding) sub.push({ subresource: 'binding', responseKind: { group: '', version: 'v1', kind: 'Binding' }, verbs: ['create'] });
  if (r.subresources?.binding) for (const [s, kind, verbs] of POD_STREAMS) sub.push({ subresource: s, responseKind: { group: '', version: 'v1', kind }, verbs });
  if (r.subresources?.binding) sub.push({ subresource: 'eviction', responseKind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] });
  if (isNodes(r)) sub.push({ subresource: 'proxy', responseKind: { group: '', version: 'v1', kind: 'NodeProxyOptions' }, verbs: PROXY_VERBS });
  if (r.resource === 'serviceaccounts' && !r.group) sub.push({ subresource: 'token', responseKind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, verbs: ['create'] });
  return {
    resource: r.resource, responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster', singularResource: r.singular, verbs: verbsOf(r),
    ...(r.shortNames ? { shortNames: r.shortNames } : {}), ...(r.categories ? { categories: r.categories } : {}),
    ...(sub.length ? { subresources: sub } : {}),
  };
}

/**
 * Aggregated discovery (`APIGroupDiscoveryList`) of the core group (`/api`) or of every named
 * group (`/apis`): one response instead of one per group-version.
 */
export function aggregatedDiscovery(catalog: DiscoveryCatalog, core: boolean, version: string) {
  const groupsInOrder: string[] = [];
  const byGroup = new Map<string, Map<string, ResourceInfo[]>>();
  for (const r of catalog.all()) {
    if ((r.group === '') !== core) continue;
    if (!byGroup.has(r.group)) { byGroup.set(r.group, new Map()); groupsInOrder.push(r.group); }
    const vs = byGroup.get(r.group)!;
    if (!vs.has(r.version)) vs.set(r.version, []);
    vs.get(r.version)!.push(r);
  }
  return {
    kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {},
    items: groupsInOrder.map((g) => ({
      metadata: core ? {} : { name: g },
      versions: [...byGroup.get(g)!].map(([v, rs]) => ({ version: v, resources: rs.map(aggregatedResource), freshness: 'Current' })),
    })),
  };
}
