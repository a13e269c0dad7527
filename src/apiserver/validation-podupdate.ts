/**
 * What an update may change in a pod's spec, as Kubernetes' ValidatePodUpdate: the images of
 * containers and init containers (never empty, no surrounding spaces; none added or removed),
 * activeDeadlineSeconds (set, or lowered, never removed; 0 … 2^31-1), tolerations (only
 * additions; an existing one may change its tolerationSeconds), terminationGracePeriodSeconds
 * (to 1 when it was negative). Anything else is refused with the API server's message, the
 * changed fields listed after it (Kubernetes prints a Go cmp.Diff of the specs there; Skiff
 * prints one line per changed field path).
 */
import { Errs } from './validation.js';
import type { Cause } from './status.js';

/** The fields a pod update may change, as the API server lists them. */
export const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

const MAX_INT32 = 2 ** 31 - 1;

/** Container list updates: same count, images present and trimmed; false when validation must stop. */
function containerUpdates(e: Errs, next: any[], prev: any[], field: string): boolean {
  if (next.length !== prev.length) {
    e.forbidden(field, 'pod updates may not add or remove containers');
    return false;
  }
  next.forEach((c, i) => {
    const image = typeof c?.image === 'string' ? c.image : '';
    if (!image) e.required(`${field}[${i}].image`);
    else if (image.trim() !== image) e.invalid(`${field}[${i}].image`, image, 'must not have leading or trailing whitespace');
  });
  return true;
}

/** JSON with object keys sorted (a patch may reorder keys; order is no change). */
function canonical(x: unknown): string {
  return JSON.stringify(x ?? null, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));
}

/** Deep equality of JSON values (undefined and absent alike). */
function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** Paths whose values differ between two JSON values, with both sides (at most `max`). */
function diffPaths(a: any, b: any, at: string, out: string[], max = 20): void {
  if (out.length >= max || same(a, b)) return;
  const obj = (x: any) => x !== null && typeof x === 'object';
  if (obj(a) && obj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = Array.isArray(a) ? [...Array(Math.max(a.length, b.length)).keys()].map(String) : [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) diffPaths(a[k as any], b[k as any], Array.isArray(a) ? `${at}[${k}]` : `${at}.${k}`, out, max);
    return;
  }
  out.push(`  ${at}: ${JSON.stringify(a ?? null)} -> ${JSON.stringify(b ?? null)}`);
}

/** The causes refusing an update of a pod from `prev` to `next` (empty: allowed). */
export function validatePodUpdate(prev: any, next: any): Cause[] {
  const e = new Errs();
  const o = prev?.spec ?? {}, n = next?.spec ?? {};
  if (!containerUpdates(e, n.containers ?? [], o.containers ?? [], 'spec.containers')) return e.causes;
  if (!containerUpdates(e, n.initContainers ?? [], o.initContainers ?? [], 'spec.initContainers')) return e.causes;

  // activeDeadlineSeconds: set from nil, or lowered; never unset.
  const ads = n.activeDeadlineSeconds, oldAds = o.activeDeadlineSeconds;
  if (ads !== undefined && ads !== null) {
    if (typeof ads !== 'number' || ads < 0 || ads > MAX_INT32) {
      e.invalid('spec.activeDeadlineSeconds', ads, `must be between 0 and ${MAX_INT32}, inclusive`);
      return e.causes;
    }
    if (typeof oldAds === 'number' && oldAds < ads) {
      e.invalid('spec.activeDeadlineSeconds', ads, 'must be less than or equal to previous value');
      return e.causes;
    }
  } else if (oldAds !== undefined && oldAds !== null) {
    e.invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value');
  }

  // Tolerations: every existing one must still be there (its tolerationSeconds may change).
  const tols: any[] = n.tolerations ?? [];
  for (const t of o.tolerations ?? []) {
    if (!tols.some((x) => same({ ...t, tolerationSeconds: x?.tolerationSeconds }, x))) {
      e.forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds');
      break;
    }
  }

  if (same(o, n)) return e.causes;
  // The updatable fields take their old values; whatever still differs was not allowed.
  const munged = {
    ...n,
    containers: (n.containers ?? []).map((c: any, i: number) => ({ ...c, image: o.containers[i]?.image })),
    ...(n.initContainers ? { initContainers: n.initContainers.map((c: any, i: number) => ({ ...c, image: o.initContainers[i]?.image })) } : {}),
    activeDeadlineSeconds: oldAds,
    tolerations: o.tolerations,
    terminationGracePeriodSeconds: typeof o.terminationGracePeriodSeconds === 'number' && o.terminationGracePeriodSeconds < 0 && n.terminationGracePeriodSeconds === 1
      ? o.terminationGracePeriodSeconds : n.terminationGracePeriodSeconds,
  };
  for (const k of ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds', 'initContainers'] as const) if (munged[k] === undefined) delete munged[k];
  const strip = (s: any) => JSON.parse(JSON.stringify(s));
  if (!same(strip(o), strip(munged))) {
    const lines: string[] = [];
    diffPaths(strip(o), strip(munged), 'spec', lines);
    e.forbidden('spec', `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n${lines.join('\n')}`);
  }
  return e.causes;
}
