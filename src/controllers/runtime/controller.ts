/**
 * The one reconcile loop every controller and the scheduler's helpers share: informer event
 * handlers enqueue keys, `workers` async workers pop them and run a level-based `sync(key)`
 * that reads the caches and converges the world towards the spec. A failed sync is retried
 * with per-key backoff; the queue guarantees one key is never synced twice at once.
 */
import type { ApiClient, KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { keyOf, type InformerFactory } from './informer.js';
import { WorkQueue } from './queue.js';
import { realClock, type Clock } from './clock.js';
import type { EventRecorder } from './events.js';
import type { Registry } from 'prom-client';
import { workqueueMetrics } from './metrics.js';

/** What a controller logs through (pino's shape; `silentLog` drops everything). */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLog: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** What every controller is built from. */
export interface ControllerContext {
  client: ApiClient;
  informers: InformerFactory;
  clock: Clock;
  recorder: EventRecorder;
  log: Logger;
  /** Where work queues and the scheduler register their Prometheus metrics (none when absent). */
  metrics?: Registry;
}

/** A sync may ask to be run again later even when it succeeded (e.g. minReadySeconds). */
export type SyncResult = void | { requeueAfterMs?: number };

/** Options of a controller loop. */
export interface ControllerOptions {
  /** Parallel workers (distinct keys only). Default 2. */
  workers?: number;
  clock?: Clock;
  log?: Logger;
  /** Registers the queue's workqueue_* metrics (by the controller's name) here. */
  metrics?: Registry;
}

/** A named work queue with workers running `sync`. */
export class Controller {
  /** The queue of keys ("ns/name"). */
  readonly queue: WorkQueue;
  private readonly clock: Clock;
  private readonly log: Logger;
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Syncs run and failed so far (for tests and metrics). */
  readonly stats = { syncs: 0, failures: 0 };

  constructor(readonly name: string, private readonly sync: (key: string) => Promise<SyncResult>, private readonly opts: ControllerOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLog;
    this.queue = new WorkQueue(this.clock, undefined, opts.metrics ? workqueueMetrics(opts.metrics, name, this.clock) : undefined);
  }

  /** Queues an object's key (or a key). */
  enqueue(objOrKey: KObject | string): void {
    this.queue.add(typeof objOrKey === 'string' ? objOrKey : keyOf(objOrKey));
  }

  /** Queues a key after `ms`. */
  enqueueAfter(objOrKey: KObject | string, ms: number): void {
    this.queue.addAfter(typeof objOrKey === 'string' ? objOrKey : keyOf(objOrKey), ms);
  }

  /** Starts the workers. */
  run(): this {
    for (let i = 0; i < (this.opts.workers ?? 2); i++) void this.worker();
    return this;
  }

  /** Stops taking keys; syncs under way finish. */
  stop(): void {
    this.stopped = true;
    this.queue.shutDown();
  }

  /** Resolves when nothing is queued or running (tests). */
  whenIdle(): Promise<void> {
    if (this.queue.idle && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.running++;
      try {
        this.stats.syncs++;
        const res = await this.sync(key);
        this.queue.forget(key);
        if (res && res.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs);
      } catch (err) {
        this.stats.failures++;
        // Conflicts are the normal price of optimistic concurrency: retry soon, quietly. So is
        // a first 404: the object was deleted while its sync ran (the retry finds it gone from
        // the cache and ends); one that persists is logged.
        const quiet = err instanceof ApiStatusError && (err.code === 409 || (err.code === 404 && this.queue.requeues(key) === 0));
        if (!quiet) this.log.warn({ controller: this.name, key, err: (err as Error)?.message ?? String(err) }, 'sync failed');
        this.queue.addRateLimited(key);
      } finally {
        this.running--;
        this.queue.done(key);
        if (this.queue.idle && this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }
}

/**
 * The base of a controller with one loop: subclasses set up informers and handlers in their
 * constructor and implement `sync`; `run`, `stop` and `whenIdle` are the same for all.
 */
export abstract class LoopController {
  /** The loop whose queue handlers feed. */
  protected readonly loop: Controller;

  constructor(name: string, protected readonly ctx: ControllerContext, workers = 2) {
    this.loop = new Controller(name, (k) => this.sync(k), { workers, clock: ctx.clock, log: ctx.log, metrics: ctx.metrics });
  }

  /** Converges the object with this key. */
  protected abstract sync(key: string): Promise<SyncResult>;

  /**
   * Starts the workers once every informer has its first list: a sync on a half-filled cache
   * would act on objects it merely has not seen yet (e.g. collect the pods of a node that
   * exists). Keys queued meanwhile wait.
   */
  run(): this {
    void this.ctx.informers.synced().then(() => this.loop.run());
    return this;
  }

  /** Stops the workers. */
  stop(): void { this.loop.stop(); }

  /** Resolves when no key is queued or being synced (tests). */
  whenIdle(): Promise<void> { return this.loop.whenIdle(); }
}
