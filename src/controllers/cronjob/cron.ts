/**
 * Standard cron schedules, as Kubernetes reads them (robfig/cron v3's ParseStandard): five
 * fields (minute hour day-of-month month day-of-week) with lists, ranges, steps, `*` and `?`,
 * month and weekday names, and the @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly
 * descriptors. The next activation is found the way robfig's SpecSchedule.Next finds it, in
 * the schedule's time zone, so daylight-saving changes behave as in Kubernetes: a time the
 * clock skips (02:30 on a spring-forward night) does not fire that day, and a time the clock
 * repeats (01:30 on a fall-back night) fires twice.
 */
import { checkZone, fromWall, wallOf, type Wall } from './zone.js';

/** A field's bounds and names. */
interface Bounds { min: number; max: number; names?: Record<string, number> }

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } };
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};

/** One parsed field: which values match, and whether it was written as `*` or `?` (no step). */
interface Field { bits: boolean[]; star: boolean }

/** A parse error, with robfig's wording. */
export class CronSyntaxError extends Error {}

function parseInt10(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new CronSyntaxError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n < 0) throw new CronSyntaxError(`negative number (${n}) not allowed: ${s}`);
  return n;
}

function intOrName(s: string, b: Bounds): number {
  const named = b.names?.[s.toLowerCase()];
  return named ?? parseInt10(s);
}

/** One comma-separated part: `*`, `?`, `N`, `N-M`, with an optional `/step` (`N/step` means N-max). */
function parseRange(expr: string, b: Bounds, into: Field): void {
  const rangeAndStep = expr.split('/');
  const lowHigh = rangeAndStep[0].split('-');
  let start: number, end: number, star = false;
  if (lowHigh[0] === '*' || lowHigh[0] === '?') {
    start = b.min; end = b.max; star = true;
  } else {
    start = intOrName(lowHigh[0], b);
    if (lowHigh.length === 1) end = start;
    else if (lowHigh.length === 2) end = intOrName(lowHigh[1], b);
    else throw new CronSyntaxError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = parseInt10(rangeAndStep[1]);
    if (lowHigh.length === 1) end = b.max;
    // A stepped star is not "every value": for day matching it counts as a restriction.
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new CronSyntaxError(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new CronSyntaxError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronSyntaxError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new CronSyntaxError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronSyntaxError(`step of range should be a positive number: ${expr}`);
  for (let v = start; v <= end; v += step) into.bits[v] = true;
  if (star) into.star = true;
}

function parseField(expr: string, b: Bounds): Field {
  const f: Field = { bits: new Array(b.max + 1).fill(false), star: false };
  for (const part of expr.split(',')) parseRange(part, b, f);
  return f;
}

/** A parsed schedule, bound to a time zone. */
export class CronSchedule {
  private constructor(
    private readonly minute: Field, private readonly hour: Field, private readonly dom: Field,
    private readonly month: Field, private readonly dow: Field, readonly zone: string,
  ) {}

  /**
   * Parses a standard 5-field spec or a descriptor. `zone` is an IANA name ('' = UTC).
   * Throws CronSyntaxError (or RangeError for an unknown zone).
   */
  static parse(spec: string, zone = ''): CronSchedule {
    checkZone(zone);
    let s = spec.trim();
    if (!s) throw new CronSyntaxError('empty spec string');
    if (s.startsWith('@')) {
      if (s.startsWith('@every')) throw new CronSyntaxError(`the @every descriptor is not supported: ${s}`);
      const d = DESCRIPTORS[s.toLowerCase()];
      if (!d) throw new CronSyntaxError(`unrecognized descriptor: ${s}`);
      s = d;
    }
    const f = s.split(/\s+/);
    if (f.length !== 5) throw new CronSyntaxError(`expected exactly 5 fields, found ${f.length}: [${f.join(' ')}]`);
    return new CronSchedule(parseField(f[0], MINUTES), parseField(f[1], HOURS), parseField(f[2], DOM), parseField(f[3], MONTHS), parseField(f[4], DOW), zone);
  }

  /** Day-of-month and day-of-week are ORed, unless either is `*`/`?`, then both must match. */
  private dayMatches(w: Wall): boolean {
    const d = this.dom.bits[w.day], wd = this.dow.bits[w.weekday];
    return this.dom.star || this.dow.star ? d && wd : d || wd;
  }

  /** The first activation strictly after `from` (ms), or undefined if none within five years. */
  next(from: number): number | undefined {
    const z = this.zone;
    // The earliest candidate is the next whole second.
    let t = Math.floor(from / 1000) * 1000 + 1000;
    let added = false;
    let w = wallOf(t, z);
    const yearLimit = w.year + 5;
    // Each step that moves a field resets the smaller ones and starts over ("goto WRAP").
    wrap: for (;;) {
      w = wallOf(t, z);
      if (w.year > yearLimit) return undefined;
      while (!this.month.bits[w.month]) {
        if (!added) { added = true; t = fromWall(w.year, w.month, 1, 0, 0, 0, z); w = wallOf(t, z); }
        t = fromWall(w.year, w.month + 1, w.day, w.hour, w.minute, w.second, z);
        w = wallOf(t, z);
        if (w.month === 1) continue wrap;
      }
      while (!this.dayMatches(w)) {
        if (!added) { added = true; t = fromWall(w.year, w.month, w.day, 0, 0, 0, z); w = wallOf(t, z); }
        t = fromWall(w.year, w.month, w.day + 1, w.hour, w.minute, w.second, z);
        w = wallOf(t, z);
        // Where midnight does not exist (DST at 00:00) the day starts at 01:00 or 23:00: snap back.
        if (w.hour !== 0) {
          t += (w.hour > 12 ? 24 - w.hour : -w.hour) * 3_600_000;
          w = wallOf(t, z);
        }
        if (w.day === 1) continue wrap;
      }
      while (!this.hour.bits[w.hour]) {
        if (!added) { added = true; t = fromWall(w.year, w.month, w.day, w.hour, 0, 0, z); }
        t += 3_600_000;
        w = wallOf(t, z);
        if (w.hour === 0) continue wrap;
      }
      while (!this.minute.bits[w.minute]) {
        if (!added) { added = true; t = Math.floor(t / 60_000) * 60_000; }
        t += 60_000;
        w = wallOf(t, z);
        if (w.minute === 0) continue wrap;
      }
      if (w.second !== 0) {
        // Only second 0 matches: robfig steps second by second to the next minute, then starts over.
        added = true;
        t = Math.floor(t / 60_000) * 60_000 + 60_000;
        continue wrap;
      }
      return t;
    }
  }
}
