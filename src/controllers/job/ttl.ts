/**
 * The TTL-after-finished controller, as Kubernetes': a finished Job with
 * spec.ttlSecondsAfterFinished is deleted that many seconds after its Complete or Failed
 * condition, with its pods (cascading, Foreground as kube-controller-manager deletes it, so
 * the Job disappears only after its pods). The expiry is re-checked against a fresh read
 * before deleting, since the TTL may have been changed meanwhile.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { Controller, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { finishedCondition } from './util.js';

/** When a Job's TTL runs out (ms), or undefined when it has none or has not finished. */
export function ttlExpiry(job: KObject): number | undefined {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  if (typeof ttl !== 'number' || job.metadata.deletionTimestamp) return undefined;
  const done = finishedCondition(job);
  if (!done) return undefined;
  const at = Date.parse(done.lastTransitionTime ?? '');
  return Number.isFinite(at) ? at + ttl * 1000 : undefined;
}

/** Deletes finished Jobs whose ttlSecondsAfterFinished has passed. */
export class TTLAfterFinishedController {
  private readonly loop: Controller;
  private readonly jobs: Informer;
  private stopped = false;

  constructor(private readonly ctx: ControllerContext) {
    this.loop = new Controller('ttl-after-finished', (k) => this.sync(k), { workers: 2, clock: ctx.clock, log: ctx.log, metrics: ctx.metrics });
    this.jobs = ctx.informers.for(R.jobs);
    const maybe = (j: KObject) => { if (ttlExpiry(j) !== undefined) this.loop.enqueue(j); };
    this.jobs.on({ add: maybe, update: (_o, j) => maybe(j) });
  }

  /** Starts the workers once the Job cache is filled. */
  run(): this {
    void this.jobs.synced.then(() => { if (!this.stopped) this.loop.run(); });
    return this;
  }

  /** Stops the workers. */
  stop(): void { this.stopped = true; this.loop.stop(); }

  /** Resolves when no key is queued or being synced (tests). */
  whenIdle(): Promise<void> { return this.loop.whenIdle(); }

  private async sync(key: string): Promise<SyncResult> {
    const cached = this.jobs.get(key);
    const at = cached && ttlExpiry(cached);
    if (at === undefined) return;
    const left = at - this.ctx.clock.now();
    if (left > 0) return { requeueAfterMs: left };
    const { namespace, name } = splitKey(key);
    let fresh: KObject;
    try {
      fresh = await this.ctx.client.get(R.jobs, namespace, name);
    } catch (err) {
      if (err instanceof ApiStatusError && err.code === 404) return;
      throw err;
    }
    const freshAt = ttlExpiry(fresh);
    if (freshAt === undefined) return;
    if (freshAt > this.ctx.clock.now()) return { requeueAfterMs: freshAt - this.ctx.clock.now() };
    try {
      await this.ctx.client.delete(R.jobs, namespace, name, { propagationPolicy: 'Foreground', preconditions: { uid: fresh.metadata.uid } });
    } catch (err) {
      // Gone, or replaced by a new Job of the same name (uid precondition): nothing to do.
      if (err instanceof ApiStatusError && (err.code === 404 || err.code === 409)) return;
      throw err;
    }
  }
}
