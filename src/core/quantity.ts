/**
 * Kubernetes resource quantities ("100m", "0.5", "1Gi", "129e6", "1k"): parsed to numbers in
 * base units, for requests, limits, capacity and quotas. CPU is usually wanted in millicores
 * (`milli`), memory and storage in bytes (`parseQuantity`).
 */
import { InvalidArgumentError } from './errors.js';

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The value of a quantity in base units (a number as-is); throws on bad syntax. */
export function parseQuantity(q: string | number | undefined | null): number {
  if (q === undefined || q === null || q === '') return 0;
  if (typeof q === 'number') return q;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$/.exec(q.trim());
  if (!m) throw new InvalidArgumentError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(q)}`);
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return base * SUFFIX[m[3] ?? ''];
}

/** A quantity in thousandths, rounded up (millicores for CPU), as Kubernetes' MilliValue. */
export function milli(q: string | number | undefined | null): number {
  return Math.ceil(parseQuantity(q) * 1000 - 1e-9);
}

/** A quantity rounded up to a whole number of base units (bytes), as Kubernetes' Value. */
export function whole(q: string | number | undefined | null): number {
  return Math.ceil(parseQuantity(q) - 1e-9);
}

/** Formats millicores as Kubernetes prints CPU ("250m", "2"). */
export function formatMilli(m: number): string {
  return m % 1000 === 0 ? String(m / 1000) : `${m}m`;
}
