/**
 * ResourceQuota arithmetic, shared by the API server's quota admission and the quota
 * controller: how much of each quota resource (`pods`, `requests.cpu`, `limits.memory`,
 * `services.nodeports`, `count/deployments.apps`, ...) one object uses, and how quantities
 * are written back into status.
 */
import { milli, parseQuantity, formatMilli } from './quantity.js';

/** Which kind of object: its plural resource and API group. */
export interface QuotaKind { resource: string; group: string }

const COUNTED_CORE = new Set(['pods', 'services', 'configmaps', 'secrets', 'persistentvolumeclaims', 'replicationcontrollers', 'resourcequotas']);

function podResources(pod: any, which: 'requests' | 'limits'): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (into: Record<string, number>, c: any) => { for (const [k, v] of Object.entries(c.resources?.[which] ?? {})) into[k] = (into[k] ?? 0) + parseQuantity(v as string); };
  for (const c of pod.spec?.containers ?? []) add(out, c);
  // The largest init container counts when it is larger than the app containers together.
  for (const c of pod.spec?.initContainers ?? []) {
    const one: Record<string, number> = {};
    add(one, c);
    for (const [k, v] of Object.entries(one)) out[k] = Math.max(out[k] ?? 0, v);
  }
  return out;
}

/** True when a pod no longer uses quota (finished, or being deleted). */
export function podTerminal(pod: any): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' || !!pod.metadata?.deletionTimestamp;
}

/** How much of quota resource `name` the object uses; undefined when the resource does not concern it. */
export function usage(name: string, kind: QuotaKind, obj: any): number | undefined {
  const core = kind.group === '';
  const count = name.startsWith('count/') ? name.slice(6) : undefined;
  if (count !== undefined) {
    const want = core ? kind.resource : `${kind.resource}.${kind.group}`;
    if (count !== want) return undefined;
    return kind.resource === 'pods' && podTerminal(obj) ? 0 : 1;
  }
  if (core && COUNTED_CORE.has(name) && name === kind.resource) return kind.resource === 'pods' && podTerminal(obj) ? 0 : 1;
  if (core && kind.resource === 'services') {
    if (name === 'services.nodeports') return obj.spec?.type === 'NodePort' || obj.spec?.type === 'LoadBalancer' ? (obj.spec?.ports ?? []).length : 0;
    if (name === 'services.loadbalancers') return obj.spec?.type === 'LoadBalancer' ? 1 : 0;
  }
  if (core && kind.resource === 'persistentvolumeclaims' && name === 'requests.storage') return parseQuantity(obj.spec?.resources?.requests?.storage ?? 0);
  if (core && kind.resource === 'pods') {
    const m = /^(requests\.|limits\.)?(cpu|memory|ephemeral-storage)$/.exec(name);
    if (!m) return undefined;
    if (podTerminal(obj)) return 0;
    const which = m[1] === 'limits.' ? 'limits' : 'requests';
    const v = podResources(obj, which)[m[2]] ?? 0;
    return m[2] === 'cpu' ? milli(v) / 1000 : v;
  }
  return undefined;
}

/** Formats a used amount as Kubernetes would print it ("2", "500m", "1Gi"). */
export function formatUsage(name: string, v: number): string {
  if (/cpu$/.test(name)) return formatMilli(Math.round(v * 1000));
  if (/(memory|storage)$/.test(name)) {
    for (const [suffix, n] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) if (v > 0 && v % n === 0) return `${v / n}${suffix}`;
  }
  return String(Math.round(v * 1000) / 1000);
}
