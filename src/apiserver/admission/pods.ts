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
import { canonical, toList } from './amounts.js';
import { podTotals } from './podresources.js';
import { qosClass } from '../defaults.js';

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

const fmt = (v: string | number) => canonical(v);

/** A LimitRange item with Kubernetes' API defaults (SetDefaults_LimitRangeItem): default ← max, defaultRequest ← default, then min. */
export function itemDefaults(item: any): { default: Record<string, string>; defaultRequest: Record<string, string> } {
  const def = { ...(item.max ?? {}), ...(item.default ?? {}) };
  return { default: def, defaultRequest: { ...(item.min ?? {}), ...def, ...(item.defaultRequest ?? {}) } };
}

/**
 * LimitRanger: defaults from each LimitRange of type Container (recorded in the
 * kubernetes.io/limit-ranger annotation, as Kubernetes does), then every bound of every item:
 * Container bounds per container, Pod bounds on the pod's totals.
 */
export async function admitLimitRanges(storage: Storage, pod: any): Promise<void> {
  const all = (): { c: any; prefix: string }[] => [
    ...(pod.spec.containers ?? []).map((c: any) => ({ c, prefix: 'container' })),
    ...(pod.spec.initContainers ?? []).map((c: any) => ({ c, prefix: 'init container' })),
  ];
  // The Pod's own API defaulting (SetDefaults_Pod): a container stating only a limit requests that much.
  for (const { c } of all()) {
    for (const [k, v] of Object.entries(c.resources?.limits ?? {})) if (c.resources.requests?.[k] === undefined) (c.resources.requests ??= {})[k] = v;
  }
  const ranges = await listAll(storage, LIMITRANGES, pod.metadata.namespace);
  if (!ranges.length) return;
  const notes: string[] = [];
  for (const lr of ranges) {
    for (const item of lr.spec?.limits ?? []) {
      if (item.type !== 'Container') continue;
      const d = itemDefaults(item);
      for (const { c, prefix } of all()) {
        const res = (c.resources ??= {});
        const setLimits: string[] = [], setRequests: string[] = [];
        for (const [k, v] of Object.entries(d.default)) if (res.limits?.[k] === undefined) { (res.limits ??= {})[k] = v; setLimits.push(k); }
        for (const [k, v] of Object.entries(d.defaultRequest)) if (res.requests?.[k] === undefined) { (res.requests ??= {})[k] = v; setRequests.push(k); }
        if (setRequests.length) notes.push(`${setRequests.sort().join(', ')} request for ${prefix} ${c.name}`);
        if (setLimits.length) notes.push(`${setLimits.sort().join(', ')} limit for ${prefix} ${c.name}`);
      }
    }
  }
  if (notes.length) {
    pod.metadata.annotations = { ...pod.metadata.annotations, 'kubernetes.io/limit-ranger': `LimitRanger plugin set: ${notes.join('; ')}` };
    // Kubernetes derives the QoS class after admission: the defaults count.
    if (pod.status) pod.status.qosClass = qosClass(pod.spec);
  }
  const problems: string[] = [];
  for (const lr of ranges) {
    for (const item of lr.spec?.limits ?? []) {
      if (item.type === 'Container') {
        for (const { c } of all()) checkBounds(item, 'Container', c.resources?.requests ?? {}, c.resources?.limits ?? {}, problems);
      } else if (item.type === 'Pod') {
        checkBounds(item, 'Pod', toList(podTotals(pod, 'requests')), toList(podTotals(pod, 'limits')), problems);
      }
    }
  }
  if (problems.length) throw forbidden('pods', pod.metadata.name ?? pod.metadata.generateName ?? '', problems.length === 1 ? problems[0] : `[${problems.join(', ')}]`);
}

function checkBounds(item: any, scope: string, requests: Record<string, any>, limits: Record<string, any>, out: string[]): void {
  for (const [k, min] of Object.entries(item.min ?? {})) {
    if (requests[k] === undefined) out.push(`minimum ${k} usage per ${scope} is ${fmt(min as string)}.  No request is specified`);
    else if (parseQuantity(requests[k]) < parseQuantity(min as string)) out.push(`minimum ${k} usage per ${scope} is ${fmt(min as string)}, but request is ${fmt(requests[k])}`);
    else if (limits[k] !== undefined && parseQuantity(limits[k]) < parseQuantity(min as string)) out.push(`minimum ${k} usage per ${scope} is ${fmt(min as string)}, but limit is ${fmt(limits[k])}`);
  }
  for (const [k, max] of Object.entries(item.max ?? {})) {
    if (limits[k] === undefined) out.push(`maximum ${k} usage per ${scope} is ${fmt(max as string)}.  No limit is specified`);
    else if (parseQuantity(limits[k]) > parseQuantity(max as string)) out.push(`maximum ${k} usage per ${scope} is ${fmt(max as string)}, but limit is ${fmt(limits[k])}`);
    else if (requests[k] !== undefined && parseQuantity(requests[k]) > parseQuantity(max as string)) out.push(`maximum ${k} usage per ${scope} is ${fmt(max as string)}, but request is ${fmt(requests[k])}`);
  }
  for (const [k, ratio] of Object.entries(item.maxLimitRequestRatio ?? {})) {
    const req = requests[k] === undefined ? 0 : parseQuantity(requests[k]);
    const lim = limits[k] === undefined ? 0 : parseQuantity(limits[k]);
    if (!req) { out.push(`${k} max limit to request ratio per ${scope} is ${fmt(ratio as string)}, but no request is specified or request is 0`); continue; }
    if (!lim) { out.push(`${k} max limit to request ratio per ${scope} is ${fmt(ratio as string)}, but no limit is specified or limit is 0`); continue; }
    const r = lim / req;
    if (r > parseQuantity(ratio as string) + 1e-9) out.push(`${k} max limit to request ratio per ${scope} is ${fmt(ratio as string)}, but provided ratio is ${r.toFixed(6)}`);
  }
}

/**
 * PriorityClass writes, as Kubernetes validates and admits them: names with the system-
 * prefix are reserved for the built-in classes (422), user classes stay at or below
 * 1000000000 (422), only one class may be the global default (403), and preemptionPolicy
 * defaults to PreemptLowerPriority.
 */
export async function admitPriorityClass(storage: Storage, pc: any): Promise<void> {
  const name = pc.metadata?.name ?? '';
  pc.preemptionPolicy ??= 'PreemptLowerPriority';
  const bad = (field: string, message: string) => new ApiError(422, 'Invalid', `PriorityClass.scheduling.k8s.io "${name}" is invalid: ${field}: Forbidden: ${message}`,
    { name, group: 'scheduling.k8s.io', kind: 'PriorityClass', causes: [{ reason: 'FieldValueForbidden', message: `Forbidden: ${message}`, field }] });
  if (name.startsWith('system-')) {
    const known = SYSTEM_PRIORITY_CLASSES.find((c) => c.name === name);
    if (!known) throw bad('metadata.name', `priority class names with 'system-' prefix are reserved for system use only. error: ${name} is not a known system priority class`);
    if (known.value !== pc.value || pc.globalDefault) throw bad('metadata.name', `priority class names with 'system-' prefix are reserved for system use only. error: value of ${name} PriorityClass must be ${known.value}`);
  } else if (typeof pc.value === 'number' && pc.value > 1_000_000_000) {
    throw bad('value', 'maximum allowed value of a user defined priority is 1000000000');
  }
  if (pc.globalDefault) {
    const other = (await listAll(storage, PCS)).find((c) => c.globalDefault && c.metadata.name !== name);
    if (other) throw new ApiError(403, 'Forbidden', `priorityclasses.scheduling.k8s.io "${name}" is forbidden: PriorityClass ${other.metadata.name} is marked as default. Only one default can exist`, { name, group: 'scheduling.k8s.io', kind: 'priorityclasses' });
  }
}

/** A new LimitRange's Container items get Kubernetes' API defaults stored (default, defaultRequest). */
export function defaultLimitRange(lr: any): void {
  for (const item of lr.spec?.limits ?? []) {
    if (item?.type !== 'Container') continue;
    const d = itemDefaults(item);
    if (Object.keys(d.default).length) item.default = d.default;
    if (Object.keys(d.defaultRequest).length) item.defaultRequest = d.defaultRequest;
  }
}
