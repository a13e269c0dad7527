/**
 * The ReplicaSet controller: keeps spec.replicas active pods that match the selector, adopting
 * matching orphans and releasing pods that stop matching; creates pods in slow-start batches
 * (1, 2, 4, ...) so a failing template costs one error, not hundreds; deletes in Kubernetes'
 * order (ranking.ts); never acts on a cache that has not yet seen its own last creates and
 * deletes (expectations); and reports replicas, ready, available (minReadySeconds) and fully
 * labeled counts in status (status.ts).
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { keyOf, splitKey, type Informer } from '../runtime/informer.js';
import { Expectations } from '../runtime/expectations.js';
import { controllerRef, ownerRefTo } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { canonicalJson, isPodActive, podFromTemplate } from '../pods.js';
import { podsToDelete } from './ranking.js';
import { replicaSetStatus, type ManageError } from './status.js';

/** The most pods one sync creates or deletes (Kubernetes' burstReplicas). */
export const BURST = 500;

/** Batch sizes for creating `n` pods: 1, 2, 4, ... (the last one what is left), as slowStartBatch. */
export function slowStartBatches(n: number, initial = 1): number[] {
  const out: number[] = [];
  let left = n;
  for (let size = Math.min(n, initial); left > 0; size = Math.min(2 * size, left)) {
    out.push(size);
    left -= size;
  }
  return out;
}

/** Keeps ReplicaSets' pods at their replica counts. */
export class ReplicaSetController extends LoopController {
  private readonly sets: Informer;
  private readonly pods: Informer;
  private readonly expectations: Expectations;

  constructor(ctx: ControllerContext) {
    super('replicaset', ctx, 4);
    this.expectations = new Expectations(ctx.clock);
    this.sets = ctx.informers.for(R.replicasets);
    this.pods = ctx.informers.for(R.pods);
    this.sets.addIndex('uid', (s) => [s.metadata.uid]);
    this.pods.addIndex('controller', (p) => { const r = controllerRef(p); return r ? [r.uid] : []; });
    this.sets.on({
      add: (s) => this.loop.enqueue(s),
      update: (_o, s) => this.loop.enqueue(s),
      delete: (s) => this.expectations.delete(keyOf(s)),
    });
    this.pods.on({
      add: (p) => {
        const k = this.ownerKey(p);
        if (!k) { this.enqueueMatching(p); return; }
        // A pod that arrives already terminating (a re-list) is a deletion as far as counts go.
        if (p.metadata.deletionTimestamp) this.expectations.deletionObserved(k);
        else this.expectations.creationObserved(k);
        this.loop.enqueue(k);
      },
      update: (o, p) => {
        const k = this.ownerKey(p);
        if (k && !o.metadata.deletionTimestamp && p.metadata.deletionTimestamp) this.expectations.deletionObserved(k);
        const ok = this.ownerKey(o);
        if (ok && ok !== k) this.loop.enqueue(ok);
        if (k) this.loop.enqueue(k);
        // An orphan whose labels changed may now match some ReplicaSet.
        else if (ok || canonicalJson(o.metadata.labels ?? {}) !== canonicalJson(p.metadata.labels ?? {})) this.enqueueMatching(p);
      },
      delete: (p) => {
        const k = this.ownerKey(p);
        if (!k) return;
        // A pod seen terminating was counted then; one deleted outright is counted now.
        if (!p.metadata.deletionTimestamp) this.expectations.deletionObserved(k);
        this.loop.enqueue(k);
      },
    });
  }

  private ownerKey(p: KObject): string | undefined {
    const r = controllerRef(p);
    if (!r || r.kind !== 'ReplicaSet') return undefined;
    const rs = this.sets.byIndex('uid', r.uid)[0];
    return rs ? keyOf(rs) : undefined;
  }

  private enqueueMatching(p: KObject): void {
    for (const rs of this.sets.listNamespace(p.metadata.namespace!)) {
      if (selectorObjectMatcher(rs.spec?.selector)(p.metadata.labels ?? {})) this.loop.enqueue(rs);
    }
  }

  protected async sync(key: string): Promise<SyncResult> {
    const rs = this.sets.get(key);
    if (!rs) { this.expectations.delete(key); return; }
    const { namespace } = splitKey(key);
    const match = selectorObjectMatcher(rs.spec?.selector);
    // Only active pods are claimed and counted, as Kubernetes: finished and terminating pods
    // are on their way out and a replacement must not wait for them.
    const active = this.pods.listNamespace(namespace!).filter(isPodActive);
    const owned = await claim(this.ctx.client, R.pods, rs, 'apps/v1', 'ReplicaSet', active, (p) => match(p.metadata.labels ?? {}));
    let err: ManageError | undefined;
    if (this.expectations.satisfied(key) && !rs.metadata.deletionTimestamp) {
      const diff = owned.length - (rs.spec?.replicas ?? 1);
      if (diff < 0) err = await this.create(rs, key, Math.min(-diff, BURST));
      else if (diff > 0) err = await this.remove(rs, key, podsToDelete(owned, this.relatedPods(rs), Math.min(diff, BURST), this.ctx.clock.now()));
    }
    const { status, requeueAfterMs } = replicaSetStatus(rs, owned, this.ctx.clock.now(), err);
    if (canonicalJson(rs.status ?? {}) !== canonicalJson(status)) {
      await this.ctx.client.update(R.replicasets, rs.metadata.namespace, { ...rs, status }, 'status');
    }
    // A failed create or delete is retried with backoff, as Kubernetes returns the error.
    if (err) throw new Error(err.message);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /**
   * Active pods of every ReplicaSet controlled by the same owner as `rs` (its sibling revisions
   * under one Deployment): deletion ranks pods by how crowded their node is with these.
   */
  private relatedPods(rs: KObject): KObject[] {
    const owner = controllerRef(rs);
    const sets = owner ? this.sets.listNamespace(rs.metadata.namespace!).filter((s) => controllerRef(s)?.uid === owner.uid) : [rs];
    return sets.flatMap((s) => this.pods.byIndex('controller', s.metadata.uid)).filter(isPodActive);
  }

  private async create(rs: KObject, key: string, n: number): Promise<ManageError | undefined> {
    // Expect every create before the first is sent: the informer may report pods before the
    // requests return.
    this.expectations.expect(key, n, 0);
    const owner = ownerRefTo(rs, 'apps/v1', 'ReplicaSet');
    const batches = slowStartBatches(n);
    let left = n;
    for (const size of batches) {
      left -= size;
      const results = await Promise.allSettled(Array.from({ length: size }, () =>
        this.ctx.client.create(R.pods, rs.metadata.namespace, podFromTemplate(rs.spec.template, rs.metadata.namespace!, owner, { generateName: `${rs.metadata.name}-` }))));
      let failed: string | undefined;
      for (const r of results) {
        if (r.status === 'fulfilled') this.ctx.recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`);
        else {
          this.expectations.creationObserved(key);
          failed = (r.reason as Error).message;
          this.ctx.recorder.event(rs, 'Warning', 'FailedCreate', `Error creating: ${failed}`);
        }
      }
      if (failed) {
        // The batches not sent will never be observed: stop expecting them.
        for (let i = 0; i < left; i++) this.expectations.creationObserved(key);
        return { message: failed };
      }
    }
    return undefined;
  }

  private async remove(rs: KObject, key: string, victims: KObject[]): Promise<ManageError | undefined> {
    this.expectations.expect(key, 0, victims.length);
    let failed: string | undefined;
    await Promise.all(victims.map(async (p) => {
      try {
        await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } });
        this.ctx.recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
      } catch (e) {
        // The informer will not see this deletion: stop expecting it.
        this.expectations.deletionObserved(key);
        if ((e as any)?.code === 404) return;
        failed = (e as Error).message;
        this.ctx.recorder.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${failed}`);
      }
    }));
    return failed ? { message: failed } : undefined;
  }
}
