/**
 * Quota evaluators, as Kubernetes' pkg/quota: what one object charges against a
 * ResourceQuota (pods: count and compute requests/limits while not terminal; services: count,
 * node ports, load balancers; PVCs: count and storage, also per storage class; every stored
 * kind: `count/<resource>.<group>`), which quota resource names an object kind can charge,
 * whether a quota's scopes select an object, and the "must specify" constraint on pods.
 * Pure functions: the admission plugin and the resource-quota controller share them.
 */
import { amounts, plus, type Amounts } from './amounts.js';
import { isBestEffort, podTotals, containersOf } from './podresources.js';

/** An object kind by group and plural resource. */
export interface Kind { group: string; resource: string }

/** Kinds whose plain name is also a quota resource ("configmaps", not only "count/configmaps"). */
const LEGACY_COUNTED = new Set(['pods', 'services', 'persistentvolumeclaims', 'configmaps', 'secrets', 'replicationcontrollers', 'resourcequotas']);
const COMPUTE = ['cpu', 'memory', 'ephemeral-storage'];
const STORAGE_CLASS = '.storageclass.storage.k8s.io/';

/** The `count/...` name of a kind ("count/pods", "count/deployments.apps"). */
export const countName = (k: Kind) => `count/${k.group ? `${k.resource}.${k.group}` : k.resource}`;

const one = () => ({ v: 1, bin: false });

/**
 * A pod counts towards compute quota until it is terminal or past its deletion grace period
 * (QuotaV1Pod); `count/pods` counts every stored pod.
 */
export function podCountsForCompute(pod: any, nowMs: number): boolean {
  const phase = pod?.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const dt = pod?.metadata?.deletionTimestamp, grace = pod?.metadata?.deletionGracePeriodSeconds;
  if (dt && grace !== undefined && grace !== null && nowMs > Date.parse(dt) + Number(grace) * 1000) return false;
  return true;
}

/** What one object charges, by quota resource name. */
export function usageOf(k: Kind, obj: any, nowMs: number): Amounts {
  const out: Amounts = { [countName(k)]: one() };
  if (k.group !== '') return out;
  if (k.resource === 'pods') {
    if (!podCountsForCompute(obj, nowMs)) return out;
    out.pods = one();
    const req = podTotals(obj, 'requests'), lim = podTotals(obj, 'limits');
    for (const [name, a] of Object.entries(req)) {
      if (COMPUTE.includes(name)) { out[name] = a; out[`requests.${name}`] = a; } else if (name !== 'pods') out[`requests.${name}`] = a;
    }
    for (const [name, a] of Object.entries(lim)) {
      if (COMPUTE.includes(name) || name.startsWith('hugepages-')) out[`limits.${name}`] = a;
    }
    return out;
  }
  if (LEGACY_COUNTED.has(k.resource)) out[k.resource] = one();
  if (k.resource === 'services') {
    const type = obj?.spec?.type;
    if (type === 'LoadBalancer') out['services.loadbalancers'] = one();
    if (type === 'NodePort' || type === 'LoadBalancer') {
      const n = (obj?.spec?.ports ?? []).length;
      out['services.nodeports'] = { v: n, bin: false };
    }
  }
  if (k.resource === 'persistentvolumeclaims') {
    const storage = amounts(obj?.spec?.resources?.requests).storage;
    const sc = obj?.spec?.storageClassName;
    if (storage) out['requests.storage'] = storage;
    if (sc) {
      out[`${sc}${STORAGE_CLASS}persistentvolumeclaims`] = one();
      if (storage) out[`${sc}${STORAGE_CLASS}requests.storage`] = storage;
    }
  }
  return out;
}

/** Can objects of kind `k` charge the quota resource `name`? */
export function charges(k: Kind, name: string): boolean {
  if (name === countName(k)) return true;
  if (k.group !== '') return false;
  if (name === k.resource && LEGACY_COUNTED.has(k.resource)) return true;
  switch (k.resource) {
    case 'pods':
      return COMPUTE.includes(name) || name.startsWith('requests.') && name !== 'requests.storage' || name.startsWith('limits.');
    case 'services':
      return name === 'services.loadbalancers' || name === 'services.nodeports';
    case 'persistentvolumeclaims':
      return name === 'requests.storage' || name.includes(STORAGE_CLASS);
    default:
      return false;
  }
}

/** The kinds that can charge a quota resource name (for counting usage from scratch). */
export function kindsCharging(name: string): Kind[] {
  if (name.startsWith('count/')) {
    const rest = name.slice('count/'.length);
    const dot = rest.indexOf('.');
    return [dot < 0 ? { group: '', resource: rest } : { group: rest.slice(dot + 1), resource: rest.slice(0, dot) }];
  }
  const core = ['pods', 'services', 'persistentvolumeclaims', 'configmaps', 'secrets', 'replicationcontrollers', 'resourcequotas'];
  return core.map((resource) => ({ group: '', resource })).filter((k) => charges(k, name));
}

/** Does the quota's scope (spec.scopes and spec.scopeSelector) select this object? */
export function scopesMatch(quota: any, k: Kind, obj: any): boolean {
  const sels: { scopeName: string; operator: string; values?: string[] }[] = [
    ...(quota?.spec?.scopes ?? []).map((s: string) => ({ scopeName: s, operator: 'Exists' })),
    ...(quota?.spec?.scopeSelector?.matchExpressions ?? []),
  ];
  if (!sels.length) return true;
  // Scopes describe pods; no other kind is charged against a scoped quota (MatchesNoScopeFunc).
  if (!(k.group === '' && k.resource === 'pods')) return false;
  return sels.every((s) => scopeMatches(s, obj));
}

function scopeMatches(s: { scopeName: string; operator: string; values?: string[] }, pod: any): boolean {
  const terminating = pod?.spec?.activeDeadlineSeconds !== undefined && pod?.spec?.activeDeadlineSeconds !== null && pod.spec.activeDeadlineSeconds >= 0;
  switch (s.scopeName) {
    case 'Terminating': return terminating;
    case 'NotTerminating': return !terminating;
    case 'BestEffort': return isBestEffort(pod);
    case 'NotBestEffort': return !isBestEffort(pod);
    case 'PriorityClass': {
      const pc = pod?.spec?.priorityClassName ?? '';
      switch (s.operator) {
        case 'Exists': return pc !== '';
        case 'DoesNotExist': return pc === '';
        case 'In': return (s.values ?? []).includes(pc);
        case 'NotIn': return !(s.values ?? []).includes(pc);
        default: return false;
      }
    }
    case 'CrossNamespacePodAffinity': {
      const terms = [...(pod?.spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        ...(pod?.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [])];
      return terms.some((t: any) => (t.namespaces ?? []).length > 0 || t.namespaceSelector);
    }
    default: return false;
  }
}

/**
 * Kubernetes' backward-compatible pod constraint: when a quota limits cpu or memory (requests
 * or limits), every container must state that request or limit. Returns the message
 * ("must specify limits.cpu for: app; requests.cpu for: app") or undefined.
 */
export function podConstraintError(pod: any, required: string[]): string | undefined {
  const watched = new Set(required.filter((n) => ['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'].includes(n)));
  if (!watched.size) return undefined;
  const missing = new Map<string, string[]>();
  for (const { c } of containersOf(pod)) {
    const has = new Set<string>();
    for (const r of Object.keys(c?.resources?.requests ?? {})) if (r === 'cpu' || r === 'memory') { has.add(r); has.add(`requests.${r}`); }
    for (const r of Object.keys(c?.resources?.limits ?? {})) if (r === 'cpu' || r === 'memory') has.add(`limits.${r}`);
    for (const n of watched) if (!has.has(n)) missing.set(n, [...(missing.get(n) ?? []), c?.name]);
  }
  if (!missing.size) return undefined;
  return `must specify ${[...missing.keys()].sort().map((n) => `${n} for: ${missing.get(n)!.join(',')}`).join('; ')}`;
}

/** Sums the usage of `objs` of kind `k` selected by the quota, restricted to `names`. */
export function sumUsage(quota: any, k: Kind, objs: any[], names: Set<string>, nowMs: number): Amounts {
  const out: Amounts = {};
  for (const o of objs) {
    if (!scopesMatch(quota, k, o)) continue;
    for (const [n, a] of Object.entries(usageOf(k, o, nowMs))) if (names.has(n)) out[n] = plus(out[n], a);
  }
  return out;
}
