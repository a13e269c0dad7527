/**
 * Wall-clock time in an IANA time zone, from the platform's Intl data, with the few
 * operations a cron schedule needs (Go's time.Date, AddDate, Hour, Weekday …). Instants are
 * epoch milliseconds; a wall time is the calendar fields a clock in that zone shows.
 */

/** The calendar fields of an instant in a zone. */
export interface Wall {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', weekday: 'short',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone name the process runs in (what Kubernetes uses when a CronJob has no timeZone). */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Throws a RangeError for a zone name the platform does not know (Go's time.LoadLocation). */
export function checkZone(zone: string): void {
  // "Local" is Go's name for the machine's zone; an empty name is UTC, as LoadLocation("").
  if (zone === '' || zone === 'UTC' || zone === 'Local') return;
  formatter(zone);
}

function resolve(zone: string): string {
  return zone === '' ? 'UTC' : zone === 'Local' ? localZone() : zone;
}

/** The wall time of `ms` in `zone`. */
export function wallOf(ms: number, zone: string): Wall {
  const z = resolve(zone);
  if (z === 'UTC' || z === 'Etc/UTC') {
    const d = new Date(ms);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() };
  }
  const w: Partial<Wall> = {};
  for (const p of formatter(z).formatToParts(ms)) {
    if (p.type === 'weekday') w.weekday = WEEKDAYS[p.value];
    else if (p.type !== 'literal' && p.type !== 'dayPeriod' && p.type !== 'era') (w as any)[p.type] = Number(p.value);
  }
  return w as Wall;
}

/** The zone's offset from UTC at instant `ms`, in ms (east positive). */
export function offsetAt(ms: number, zone: string): number {
  const s = Math.floor(ms / 1000) * 1000;
  const w = wallOf(s, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - s;
}

/**
 * The instant a clock in `zone` shows these fields, as Go's time.Date: fields out of range
 * are normalized (month 13 is January of the next year, day 0 the last of the month before).
 * A wall time that a DST change skips or repeats is resolved as Go resolves it: the offset in
 * force at the naive instant, unless that lands in another offset's period, then that one.
 */
export function fromWall(year: number, month: number, day: number, hour: number, minute: number, second: number, zone: string): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  const off = offsetAt(asUtc, zone);
  let ms = asUtc - off;
  const off2 = offsetAt(ms, zone);
  // The guess landed on the other side of a transition: take the offset found there.
  if (off2 !== off) ms = asUtc - off2;
  return ms;
}

/** RFC 3339 with the zone's numeric offset ("2026-01-01T09:00:00+09:00"; "Z" for UTC). */
export function rfc3339In(ms: number, zone: string): string {
  const off = offsetAt(ms, zone);
  if (off === 0) return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const w = wallOf(ms, zone);
  const p = (n: number, l = 2) => String(n).padStart(l, '0');
  const a = Math.abs(off) / 60_000;
  return `${p(w.year, 4)}-${p(w.month)}-${p(w.day)}T${p(w.hour)}:${p(w.minute)}:${p(w.second)}${off < 0 ? '-' : '+'}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}
