/**
 * Resource amounts as quota and limit-range admission add, compare and print them: a value in
 * base units plus whether it was written with a binary suffix (Ki, Mi, …), because Kubernetes
 * prints a quantity in the format of the first operand of a sum ("1Gi", "1500m", "2").
 * Pure functions, shared by the admission plugins and the resource-quota controller.
 */
import { parseQuantity } from '../../core/quantity.js';

/** One amount: base units and its print format. */
export interface Amount { v: number; bin: boolean }

/** A named set of amounts ("requests.cpu" → 1.5). */
export type Amounts = Record<string, Amount>;

/** Parses a quantity string (or number) into an amount. */
export function amount(q: string | number | undefined | null): Amount {
  const bin = typeof q === 'string' && /[KMGTPE]i$/.test(q.trim());
  return { v: parseQuantity(q), bin };
}

/** Parses a ResourceList ({cpu: "1", memory: "1Gi"}). */
export function amounts(list: Record<string, string | number> | undefined | null): Amounts {
  const out: Amounts = {};
  for (const [k, q] of Object.entries(list ?? {})) out[k] = amount(q);
  return out;
}

/** a + b, keeping a's format (b's when a is absent). */
export function plus(a: Amount | undefined, b: Amount | undefined): Amount {
  if (!a) return b ? { ...b } : { v: 0, bin: false };
  if (!b) return { ...a };
  return { v: a.v + b.v, bin: a.bin };
}

/** Sums two sets key by key. */
export function addAll(a: Amounts, b: Amounts): Amounts {
  const out: Amounts = { ...a };
  for (const [k, x] of Object.entries(b)) out[k] = plus(a[k], x);
  return out;
}

/** The keys of `a` also named in `keys`. */
export function mask(a: Amounts, keys: Iterable<string>): Amounts {
  const out: Amounts = {};
  for (const k of keys) if (a[k]) out[k] = a[k];
  return out;
}

// Comparisons tolerate float noise far below a nano-unit (quantities are decimal in Go).
const EPS = 1e-10;
/** a < b. */
export const less = (a: number, b: number) => a < b - EPS * Math.max(1, Math.abs(b));
/** a > b. */
export const greater = (a: number, b: number) => less(b, a);

const DEC: [string, number][] = [['E', 1e18], ['P', 1e15], ['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3], ['', 1]];
const BIN: [string, number][] = [['Ei', 2 ** 60], ['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]];
const isInt = (x: number) => Math.abs(x - Math.round(x)) < 1e-9 * Math.max(1, Math.abs(x));

/** Prints an amount in Kubernetes' canonical form: "2", "500m", "1Gi", "1k", "1500Mi". */
export function format(a: Amount): string {
  const v = a.v;
  if (v === 0) return '0';
  const sign = v < 0 ? '-' : '';
  const x = Math.abs(v);
  if (a.bin && isInt(x)) {
    for (const [s, f] of BIN) if (x >= f && isInt(x / f)) return `${sign}${Math.round(x / f)}${s}`;
    return `${sign}${Math.round(x)}`;
  }
  if (isInt(x)) {
    for (const [s, f] of DEC) if (x >= f && isInt(x / f)) return `${sign}${Math.round(x / f)}${s}`;
  }
  for (const [s, f] of [['m', 1e3], ['u', 1e6], ['n', 1e9]] as [string, number][]) {
    if (isInt(x * f)) return `${sign}${Math.round(x * f)}${s}`;
  }
  return `${sign}${Math.ceil(x * 1e9)}n`;
}

/** A quantity string in canonical form ("2000m" → "2", "1024Mi" → "1Gi"). */
export function canonical(q: string | number): string {
  return format(amount(q));
}

/** "a=1,b=2" with keys sorted, as quota messages print ResourceLists. */
export function prettyPrint(a: Amounts): string {
  return Object.keys(a).sort().map((k) => `${k}=${format(a[k])}`).join(',');
}

/** Back to a ResourceList of canonical strings. */
export function toList(a: Amounts): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(a).sort()) out[k] = format(a[k]);
  return out;
}
