/**
 * Pod facts the workload controllers share: whether a pod is active, ready or available, how
 * a pod is made from a template, and the hash that names a template's revision.
 */
import type { KObject } from '../client/client.js';
import type { OwnerRef } from './runtime/owners.js';

/** A pod that counts towards replicas: not finished and not being deleted. */
export function isPodActive(pod: KObject): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

/** True when the pod's Ready condition is True. */
export function isPodReady(pod: KObject): boolean {
  return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

/** True when ready for at least `minReadySeconds` at `now` (ms). */
export function isPodAvailable(pod: KObject, minReadySeconds: number, now: number): boolean {
  const c = (pod.status?.conditions ?? []).find((x: any) => x.type === 'Ready' && x.status === 'True');
  if (!c) return false;
  if (!minReadySeconds) return true;
  const since = Date.parse(c.lastTransitionTime ?? '');
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

/** A pod object made from a pod template, owned by `owner`. */
export function podFromTemplate(template: any, namespace: string, owner: OwnerRef, name: { name?: string; generateName?: string }, extraLabels: Record<string, string> = {}): KObject {
  const meta = template?.metadata ?? {};
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      ...name, namespace,
      labels: { ...(meta.labels ?? {}), ...extraLabels },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.finalizers ? { finalizers: [...meta.finalizers] } : {}),
      ownerReferences: [owner],
    },
    spec: structuredClone(template?.spec ?? {}),
  };
}

/** FNV-1a, 32 bits, as Kubernetes hashes pod templates. */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

// Kubernetes' rand.SafeEncodeString alphabet: no vowels, no 0/1/3 (no words, no look-alikes).
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** Kubernetes' SafeEncodeString: maps each character onto a safe alphabet. */
export function safeEncode(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE[ch.charCodeAt(0) % SAFE.length];
  return out;
}

/** Keys sorted recursively, so equal templates serialize (and hash) the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as any)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson((v as any)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** The pod-template-hash of a template (and collision count), as a label-safe string. */
export function templateHash(template: unknown, collisionCount = 0): string {
  return safeEncode(String(fnv32a(canonicalJson(template) + (collisionCount ? `#${collisionCount}` : ''))));
}

/** Sets (or replaces) a condition of `type` in a conditions list; keeps lastTransitionTime when the status did not change. */
export function setCondition(conds: any[] | undefined, c: { type: string; status: string; reason?: string; message?: string }, now: string): any[] {
  const list = [...(conds ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next = { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now, lastUpdateTime: now };
  if (i >= 0) list[i] = { ...prev, ...next }; else list.push(next);
  return list;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function readySince(p: KObject): number {
  const c = (p.status?.conditions ?? []).find((x: any) => x.type === 'Ready' && x.status === 'True');
  return c ? Date.parse(c.lastTransitionTime ?? '') || 0 : 0;
}

function restarts(p: KObject): number {
  return (p.status?.containerStatuses ?? []).reduce((s: number, c: any) => Math.max(s, c.restartCount ?? 0), 0);
}

/**
 * Negative when `a` should be deleted before `b`: Kubernetes' ActivePods order
 * (unassigned before assigned, Pending before Unknown before Running, not ready before ready,
 * ready for less time first, more restarts first, newer first).
 */
export function deletionOrder(a: KObject, b: KObject): number {
  const assigned = (p: KObject) => (p.spec?.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const ph = (p: KObject) => PHASE_RANK[p.status?.phase ?? 'Pending'] ?? 0;
  if (ph(a) !== ph(b)) return ph(a) - ph(b);
  const rd = (p: KObject) => (isPodReady(p) ? 1 : 0);
  if (rd(a) !== rd(b)) return rd(a) - rd(b);
  if (isPodReady(a) && isPodReady(b) && readySince(a) !== readySince(b)) return readySince(b) - readySince(a);
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const created = (p: KObject) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;
  return created(b) - created(a);
}
