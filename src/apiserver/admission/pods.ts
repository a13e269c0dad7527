/**
 * Admission of pods, as kube-apiserver's Priority, DefaultTolerationSeconds and LimitRanger
 * plugins: a pod's priority comes from its PriorityClass (or the global default; an unknown
 * class is refused with 403), every pod tolerates not-ready/unreachable for 300 s unless it
 * says otherwise, and LimitRanges fill in default requests and limits and refuse containers
 * outside their min/max/ratio.
 */
import type { Storage } from '../storage.js';
import { BUILTIN, keyPrefix } from '../resources.js';
import { decode } from '../storage.js';
import { ApiError } from '../status.js';
import { parseQuantity } from '../../core/quantity.js';

const PCS = BUILTIN.find((r) => r.resource === 'priorityclasses')!;
const LIMITRANGES = BUILTIN.find((r) => r.resource === 'limitranges')!;

/** The built-in classes every cluster has. */
export const SYSTEM_PRIORITY_CLASSES = [
  { name: 'system-node-critical', value: 2000001000, description: 'Used for system critical pods that must not be moved from their current node.' },
  { name: 'system-cluster-critical', value: 2000000000, description: 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.' },
];

/** A 403 as admission plugins word it. */
export function forbidden(kind: string, name: string, message: string): ApiError {
  return new ApiError(403, 'Forbidden', `${kind} "${name}" is forbidden: ${message}`, { name, kind: kind.replace(/s$/, '') });
}

/** Creates the built-in PriorityClasses that do not exist yet. */
export async function bootstrapPriorityClasses(storage: Storage): Promise<void> {
  for (const pc of SYSTEM_PRIORITY_CLASSES) {
    await storage.create(PCS, undefined, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: pc.name }, value: pc.value, description: pc.description, preemptionPolicy: 'PreemptLowerPriority' })
      .catch((err) => { if (!(err instanceof ApiError && err.code === 409)) throw err; });
  }
}

async function listAll(storage: Storage, r: typeof PCS, ns?: string): Promise<any[]> {
  const { kvs } = await storage.backend.list(keyPrefix(r, ns));
  return kvs.map(decode);
}

/** Sets spec.priority (and preemptionPolicy) from the pod's class. */
export async function admitPriority(storage: Storage, pod: any): Promise<void> {
  const name = pod.spec?.priorityClassName;
  const classes = await listAll(storage, PCS);
  const pc = name ? classes.find((c) => c.metadata.name === name) : classes.find((c) => c.globalDefault);
  if (name && !pc) throw forbidden('pods', pod.metadata.name ?? '', `no PriorityClass with name ${name} was found`);
  const value = pc?.value ?? 0;
  if (pod.spec.priority !== undefined && pod.spec.priority !== null && pod.spec.priority !== value) {
    throw forbidden('pods', pod.metadata.name ?? '', `the integer value of priority (${pod.spec.priority}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`);
  }
  if (pc && !name) pod.spec.priorityClassName = pc.metadata.name;
  pod.spec.priority = value;
  pod.spec.preemptionPolicy ??= pc?.preemptionPolicy ?? 'PreemptLowerPriority';
}

/** DefaultTolerationSeconds: tolerate not-ready and unreachable for 300 s unless the pod says otherwise. */
export function admitTolerations(pod: any): void {
  const tols: any[] = (pod.spec.tolerations ??= []);
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    const has = tols.some((t) => (t.key === key || (!t.key && t.operator === 'Exists')) && (!t.effect || t.effect === 'NoExecute'));
    if (!has) tols.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
}

const fmt = (v: string | number) => String(v);

/** LimitRanger: defaults from each LimitRange of type Container, then its bounds. */
export async function admitLimitRanges(storage: Storage, pod: any): Promise<void> {
  const ranges = await listAll(storage, LIMITRANGES, pod.metadata.namespace);
  const problems: string[] = [];
  for (const lr of ranges) {
    for (const item of lr.spec?.limits ?? []) {
      if (item.type === 'Container') {
        for (const c of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])]) {
          const res = (c.resources ??= {});
          for (const [k, v] of Object.entries(item.default ?? {})) if (res.limits?.[k] === undefined) (res.limits ??= {})[k] = v;
          // A missing request takes defaultRequest, else the (possibly defaulted) limit.
          for (const [k, v] of Object.entries(item.defaultRequest ?? {})) if (res.requests?.[k] === undefined) (res.requests ??= {})[k] = v;
          for (const [k, v] of Object.entries(res.limits ?? {})) if (res.requests?.[k] === undefined && item.default?.[k] !== undefined) (res.requests ??= {})[k] = v;
          checkBounds(item, 'Container', res.requests ?? {}, res.limits ?? {}, problems);
        }
      } else if (item.type === 'Pod') {
        const sum = (which: 'requests' | 'limits') => {
          const out: Record<string, number> = {};
          for (const c of pod.spec.containers ?? []) for (const [k, v] of Object.entries(c.resources?.[which] ?? {})) out[k] = (out[k] ?? 0) + parseQuantity(v as string);
          return out;
        };
        checkBounds(item, 'Pod', sum('requests'), sum('limits'), problems);
      }
    }
  }
  if (problems.length) throw forbidden('pods', pod.metadata.name ?? pod.metadata.generateName ?? '', problems.length === 1 ? problems[0] : `[${problems.join(', ')}]`);
}

function checkBounds(item: any, scope: string, requests: Record<string, any>, limits: Record<string, any>, out: string[]): void {
  for (const [k, min] of Object.entries(item.min ?? {})) {
    if (requests[k] === undefined) out.push(`minimum ${k} usage per ${scope} is ${fmt(min as string)}.  No request is specified`);
    else if (parseQuantity(requests[k]) < parseQuantity(min as string)) out.push(`minimum ${k} usage per ${scope} is ${fmt(min as string)}, but request is ${fmt(requests[k])}`);
  }
  for (const [k, max] of Object.entries(item.max ?? {})) {
    if (limits[k] === undefined) out.push(`maximum ${k} usage per ${scope} is ${fmt(max as string)}.  No limit is specified`);
    else if (parseQuantity(limits[k]) > parseQuantity(max as string)) out.push(`maximum ${k} usage per ${scope} is ${fmt(max as string)}, but limit is ${fmt(limits[k])}`);
  }
  for (const [k, ratio] of Object.entries(item.maxLimitRequestRatio ?? {})) {
    if (limits[k] === undefined || requests[k] === undefined) continue;
    const r = parseQuantity(limits[k]) / parseQuantity(requests[k]);
    if (r > parseQuantity(ratio as string)) out.push(`${k} max limit to request ratio per ${scope} is ${fmt(ratio as string)}, but provided ratio is ${r.toFixed(6)}`);
  }
}
