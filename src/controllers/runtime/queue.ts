/**
 * The work queue of a controller, with client-go's guarantees: a key waiting in the queue is
 * stored once however often it is added (deduplication); a key being processed is never handed
 * to a second worker — adding it meanwhile marks it dirty and it is queued again when the
 * first worker calls done(); failures requeue with per-key exponential backoff.
 */
import { realClock, type Clock, type TimerHandle } from './clock.js';

/** Backoff of a failing key: base * 2^failures, capped. */
export interface RateLimit { baseMs: number; maxMs: number }

/** client-go's default per-item limiter: 5 ms doubling up to 1000 s. */
export const DEFAULT_RATE_LIMIT: RateLimit = { baseMs: 5, maxMs: 1_000_000 };

/**
 * What a queue reports, as client-go's workqueue metrics provider sees it: a key entering the
 * queue (not already waiting), a worker taking it, its processing done, a retry after a failure.
 */
export interface QueueMetrics {
  add(key: string): void;
  get(key: string): void;
  done(key: string): void;
  retry(): void;
}

/** A deduplicating, rate-limited FIFO of string keys. */
export class WorkQueue {
  private queue: string[] = [];
  private dirty = new Set<string>();
  private processing = new Set<string>();
  private failures = new Map<string, number>();
  private delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private waiters: ((k: string | undefined) => void)[] = [];
  private shutdown = false;

  constructor(private readonly clock: Clock = realClock, private readonly limit: RateLimit = DEFAULT_RATE_LIMIT, private readonly metrics?: QueueMetrics) {}

  /** Queues `key` unless it is queued already. */
  add(key: string): void {
    if (this.shutdown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.metrics?.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Hands a dirty key to a waiting worker, else queues it. */
  private push(key: string): void {
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.metrics?.get(key);
      w(key);
    } else this.queue.push(key);
  }

  /** Queues `key` after `ms`; an earlier pending delay for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shutdown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const prev = this.delayed.get(key);
    if (prev && prev.at <= at) return;
    prev?.timer.cancel();
    const timer = this.clock.after(ms, () => { this.delayed.delete(key); this.add(key); });
    this.delayed.set(key, { at, timer });
  }

  /** Queues `key` after its backoff and counts the failure. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.metrics?.retry();
    this.addAfter(key, Math.min(this.limit.maxMs, this.limit.baseMs * 2 ** n));
  }

  /** Clears the failure count of `key` (after a successful sync). */
  forget(key: string): void { this.failures.delete(key); }

  /** How many times `key` failed in a row. */
  requeues(key: string): number { return this.failures.get(key) ?? 0; }

  /** The next key to process; undefined once shut down. The caller must call done(key). */
  get(): Promise<string | undefined> {
    if (this.shutdown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.metrics?.get(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile it goes back in the queue. */
  done(key: string): void {
    this.processing.delete(key);
    this.metrics?.done(key);
    if (this.dirty.has(key) && !this.shutdown) this.push(key);
  }

  /** Keys waiting (not counting those being processed or delayed). */
  get length(): number { return this.queue.length; }

  /** True when nothing is queued, delayed or being processed. */
  get idle(): boolean { return this.queue.length === 0 && this.processing.size === 0 && this.delayed.size === 0; }

  /** Stops the queue: waiting get() calls resolve undefined, timers are cancelled. */
  shutDown(): void {
    this.shutdown = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
