/**
 * Time as the controllers see it. Production uses the real clock; tests use FakeClock and
 * move time forward by hand, so a CronJob's schedule or a backoff is tested without waiting.
 */

/** A cancellable timer handle. */
export interface TimerHandle { cancel(): void }

/** The clock every controller takes. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `ms` (of this clock's time). */
  after(ms: number, fn: () => void): TimerHandle;
}

/** The machine's clock. */
export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to (tests). */
export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; seq: number; dead: boolean }[] = [];
  private seq = 0;

  constructor(private t = Date.parse('2026-01-01T00:00:00Z')) {}

  now(): number { return this.t; }

  after(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + Math.max(0, ms), fn, seq: this.seq++, dead: false };
    this.timers.push(timer);
    return { cancel: () => { timer.dead = true; } };
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => !x.dead && x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.dead = true;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((x) => !x.dead);
    this.t = end;
  }

  /** Sets the time (forward only), firing due timers. */
  set(ms: number): void { this.advance(Math.max(0, ms - this.t)); }
}

/** RFC 3339 with second precision, as Kubernetes writes timestamps. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
