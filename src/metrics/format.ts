/**
 * How the resource metrics API writes its figures, as metrics-server (Go) does: CPU as a
 * DecimalSI quantity of nanocores in canonical form ("250m", "1500m", "12345n", "2"), memory
 * as a BinarySI quantity of bytes ("64Mi", "1536", "0"), windows as Go's time.Duration
 * strings ("15.002s", "1m0s", "500ms").
 */

/** Nanocores (an integer) as a canonical DecimalSI quantity. */
export function formatNanoCores(n: number): string {
  n = Math.max(0, Math.round(n));
  if (n === 0) return '0';
  // The largest suffix that keeps the number whole.
  for (const [suffix, f] of [['k', 1e12], ['', 1e9], ['m', 1e6], ['u', 1e3]] as const) if (n % f === 0) return `${n / f}${suffix}`;
  return `${n}n`;
}

/** Bytes (an integer) as a canonical BinarySI quantity: an exact power-of-1024 suffix, else the plain number. */
export function formatBytes(b: number): string {
  b = Math.max(0, Math.round(b));
  if (b < 1024) return String(b);
  for (const [suffix, f] of [['Ei', 2 ** 60], ['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (b % f === 0) return `${b / f}${suffix}`;
  }
  return String(b);
}

/** Milliseconds as Go's Duration.String(). */
export function goDurationString(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  const trim = (x: number, digits: number) => x.toFixed(digits).replace(/\.?0+$/, '');
  if (ms < 1) return `${sign}${trim(ms * 1000, 3)}µs`;
  if (ms < 1000) return `${sign}${trim(ms, 6)}ms`;
  const h = Math.floor(ms / 3_600_000), m = Math.floor((ms % 3_600_000) / 60_000);
  const s = trim((ms % 60_000) / 1000, 9);
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
