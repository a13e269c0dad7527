/**
 * The scheduling queue, after kube-scheduler's: an active queue ordered by priority, then by
 * arrival; a backoff stage for pods that just failed (1 s doubling to 10 s); and a parking lot
 * of unschedulable pods that go back when the cluster changes (a node added or updated, a pod
 * removed) or, at the latest, after a minute. A key is in at most one place at a time.
 */
import type { Clock, TimerHandle } from '../controllers/runtime/clock.js';

interface Item { key: string; prio: number; seq: number }

/** Tunables (ms). */
export interface QueueOptions { initialBackoffMs?: number; maxBackoffMs?: number; unschedulableMaxMs?: number }

/** Pods waiting to be scheduled, by key. */
export class SchedulingQueue {
  private heap: Item[] = [];
  private active = new Map<string, number>();
  private backoff = new Map<string, TimerHandle>();
  private parked = new Map<string, { prio: number; since: number }>();
  private attempts = new Map<string, number>();
  private waiters: ((k: string | undefined) => void)[] = [];
  private seq = 0;
  private closed = false;
  private flusher?: TimerHandle;

  constructor(private readonly clock: Clock, private readonly o: QueueOptions = {}) {
    this.scheduleFlush();
  }

  /** Queues a pod to be tried now (replacing wherever it was). */
  add(key: string, prio: number): void {
    if (this.closed) return;
    this.backoff.get(key)?.cancel();
    this.backoff.delete(key);
    this.parked.delete(key);
    const seq = this.seq++;
    this.active.set(key, seq);
    const w = this.waiters.shift();
    if (w) { this.active.delete(key); w(key); return; }
    this.push({ key, prio, seq });
  }

  /** Updates a queued pod (its spec changed): parked pods get another try. */
  update(key: string, prio: number): void {
    if (this.parked.has(key)) this.add(key, prio);
  }

  /** Drops a pod (deleted, or bound by someone else). */
  delete(key: string): void {
    this.active.delete(key);
    this.backoff.get(key)?.cancel();
    this.backoff.delete(key);
    this.parked.delete(key);
    this.attempts.delete(key);
  }

  /** A pod failed for a transient reason (bind error): retry after its backoff. */
  retryLater(key: string, prio: number): void {
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    this.active.delete(key);
    this.parked.delete(key);
    this.backoff.get(key)?.cancel();
    this.backoff.set(key, this.clock.after(this.backoffMs(n), () => { this.backoff.delete(key); this.add(key, prio); }));
  }

  /** A pod fits nowhere: park it until the cluster changes. */
  park(key: string, prio: number): void {
    this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
    this.active.delete(key);
    this.parked.set(key, { prio, since: this.clock.now() });
  }

  /**
   * The cluster changed: parked pods go back, to the active queue when their backoff (counted
   * from their last failure) is over, else to the backoff stage for what is left of it.
   */
  moveAllToActive(): void {
    const now = this.clock.now();
    for (const [key, { prio, since }] of [...this.parked]) {
      this.parked.delete(key);
      const wait = since + this.backoffMs(this.attempts.get(key) ?? 1) - now;
      if (wait <= 0) { this.add(key, prio); continue; }
      this.backoff.get(key)?.cancel();
      this.backoff.set(key, this.clock.after(wait, () => { this.backoff.delete(key); this.add(key, prio); }));
    }
  }

  /** Forgets a pod's failures (it was bound). */
  forget(key: string): void { this.attempts.delete(key); }

  /** The next pod to schedule; undefined once closed. */
  pop(): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    while (this.heap.length) {
      const it = this.shift();
      if (this.active.get(it.key) === it.seq) { this.active.delete(it.key); return Promise.resolve(it.key); }
    }
    return new Promise((r) => this.waiters.push(r));
  }

  /** Counts, for tests and metrics. */
  get sizes(): { active: number; backoff: number; unschedulable: number } {
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.parked.size };
  }

  /** Stops: waiting pops get undefined, timers stop. */
  close(): void {
    this.closed = true;
    this.flusher?.cancel();
    for (const t of this.backoff.values()) t.cancel();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private backoffMs(attempts: number): number {
    return Math.min(this.o.maxBackoffMs ?? 10_000, (this.o.initialBackoffMs ?? 1000) * 2 ** Math.max(0, attempts - 1));
  }

  // Every max/2, pods parked for max/2 or more go back: none waits longer than max.
  private scheduleFlush(): void {
    const half = (this.o.unschedulableMaxMs ?? 60_000) / 2;
    this.flusher = this.clock.after(half, () => {
      const now = this.clock.now();
      for (const [key, { prio, since }] of [...this.parked]) if (now - since >= half) this.add(key, prio);
      if (!this.closed) this.scheduleFlush();
    });
  }

  // A binary heap: higher priority first, then earlier arrival.
  private before(a: Item, b: Item): boolean { return a.prio !== b.prio ? a.prio > b.prio : a.seq < b.seq; }

  private push(it: Item): void {
    const h = this.heap;
    h.push(it);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private shift(): Item {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
