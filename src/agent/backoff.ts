/**
 * Restart back-off, as the kubelet's (client-go flowcontrol.Backoff keyed by pod and
 * container): the first restart is immediate; each later one waits 10 s, then 20 s, 40 s …
 * capped at 5 min. A container that ran for 10 min before it exited starts over, and so does
 * one that has not failed for twice the cap (the kubelet's garbage collection of entries).
 * Also used for image pulls (ImagePullBackOff), with the same figures.
 */

/** Back-off figures. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** A run at least this long resets the back-off (10 min). */
  resetAfterRunMs?: number;
}

interface Entry { delay: number; at: number }

/** Per-key exponential back-off. */
export class Backoff {
  private entries = new Map<string, Entry>();
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterRunMs: number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 10_000;
    this.maxMs = o.maxMs ?? 300_000;
    this.resetAfterRunMs = o.resetAfterRunMs ?? 600_000;
  }

  /**
   * Whether `key` may be retried at `now`. When it may not, `waitMs` is how long until it may.
   * `ranMs` is how long the last attempt ran (a long run forgets the past failures).
   */
  check(key: string, now: number, ranMs = 0): { ok: true } | { ok: false; waitMs: number; delayMs: number } {
    const e = this.entries.get(key);
    if (!e) return { ok: true };
    if (ranMs >= this.resetAfterRunMs || now - e.at > 2 * this.maxMs) {
      this.entries.delete(key);
      return { ok: true };
    }
    const wait = e.at + e.delay - now;
    return wait > 0 ? { ok: false, waitMs: wait, delayMs: e.delay } : { ok: true };
  }

  /** Records an attempt at `now`: the next one waits the next delay. */
  next(key: string, now: number): number {
    const e = this.entries.get(key);
    const delay = e ? Math.min(this.maxMs, e.delay * 2) : this.initialMs;
    this.entries.set(key, { delay, at: now });
    return delay;
  }

  /** The current delay of `key` (0: none). */
  delay(key: string): number {
    return this.entries.get(key)?.delay ?? 0;
  }

  /** Forgets `key` (e.g. a pod that is gone). */
  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every key starting with `prefix`. */
  resetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
