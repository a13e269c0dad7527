/**
 * The ReplicaSet controller: keeps spec.replicas active pods that match the selector, adopting
 * matching orphans and releasing pods that stop matching; creates pods in slow-start batches
 * (1, 2, 4, ...) so a failing template costs one error, not hundreds; deletes in Kubernetes'
 * order; never acts on a cache that has not yet seen its own last creates and deletes
 * (expectations); and reports replicas, ready, available (minReadySeconds) and fully labeled
 * counts in status.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { Expectations } from '../runtime/expectations.js';
import { controllerRef, ownerRefTo } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { rfc3339 } from '../runtime/clock.js';
import { canonicalJson, deletionOrder, isPodActive, isPodAvailable, isPodReady, podFromTemplate, setCondition } from '../pods.js';

/** The most pods one sync creates or deletes (Kubernetes' burstReplicas). */
export const BURST = 500;

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
    this.sets.on({ add: (s) => this.loop.enqueue(s), update: (_o, s) => this.loop.enqueue(s), delete: (s) => { this.expectations.delete(`${s.metadata.namespace}/${s.metadata.name}`); } });
    this.pods.on({
      add: (p) => { const k = this.ownerKey(p); if (k) { this.expectations.creationObserved(k); this.loop.enqueue(k); } else this.enqueueMatching(p); },
      update: (o, p) => {
        const k = this.ownerKey(p);
        if (k && !o.metadata.deletionTimestamp && p.metadata.deletionTimestamp) this.expectations.deletionObserved(k);
        const ok = this.ownerKey(o);
        if (ok && ok !== k) this.loop.enqueue(ok);
        if (k) this.loop.enqueue(k); else this.enqueueMatching(p);
      },
      delete: (p) => { const k = this.ownerKey(p); if (k) { if (!p.metadata.deletionTimestamp) this.expectations.deletionObserved(k); this.loop.enqueue(k); } },
    });
  }

  private ownerKey(p: KObject): string | undefined {
    const r = controllerRef(p);
    if (!r || r.kind !== 'ReplicaSet') return undefined;
    const rs = this.sets.byIndex('uid', r.uid)[0];
    return rs ? `${rs.metadata.namespace}/${rs.metadata.name}` : undefined;
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
    const candidates = this.pods.listNamespace(namespace!).filter((p) => isPodActive(p) || controllerRef(p)?.uid === rs.metadata.uid);
    const owned = await claim(this.ctx.client, R.pods, rs, 'apps/v1', 'ReplicaSet', candidates, (p) => match(p.metadata.labels ?? {}));
    const active = owned.filter(isPodActive);
    let failure: string | undefined;
    if (this.expectations.satisfied(key) && !rs.metadata.deletionTimestamp) {
      const diff = active.length - (rs.spec?.replicas ?? 1);
      if (diff < 0) failure = await this.create(rs, key, Math.min(-diff, BURST));
      else if (diff > 0) await this.remove(rs, key, [...active].sort(deletionOrder).slice(0, Math.min(diff, BURST)));
    }
    return this.updateStatus(rs, owned, failure);
  }

  private async create(rs: KObject, key: string, n: number): Promise<string | undefined> {
    this.expectations.expect(key, n, 0);
    const owner = ownerRefTo(rs, 'apps/v1', 'ReplicaSet');
    let left = n;
    for (let batch = 1; left > 0; batch *= 2) {
      const size = Math.min(batch, left);
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
        // The rest of this sync's creates will not happen: stop expecting them.
        for (let i = 0; i < left; i++) this.expectations.creationObserved(key);
        return failed;
      }
    }
    return undefined;
  }

  private async remove(rs: KObject, key: string, victims: KObject[]): Promise<void> {
    this.expectations.expect(key, 0, victims.length);
    await Promise.all(victims.map(async (p) => {
      try {
        await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } });
        this.ctx.recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
      } catch (err) {
        this.expectations.deletionObserved(key);
        if ((err as any)?.code !== 404) this.ctx.recorder.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
      }
    }));
  }

  private async updateStatus(rs: KObject, owned: KObject[], failure?: string): Promise<SyncResult> {
    const now = this.ctx.clock.now();
    const minReady = rs.spec?.minReadySeconds ?? 0;
    const active = owned.filter(isPodActive);
    const tmplLabels = rs.spec?.template?.metadata?.labels ?? {};
    const status: any = {
      replicas: active.length,
      fullyLabeledReplicas: active.filter((p) => Object.entries(tmplLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
      readyReplicas: active.filter(isPodReady).length,
      availableReplicas: active.filter((p) => isPodAvailable(p, minReady, now)).length,
      observedGeneration: rs.metadata.generation,
    };
    let conds = (rs.status?.conditions ?? []).filter((c: any) => c.type !== 'ReplicaFailure');
    if (failure) conds = setCondition(conds, { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: failure }, rfc3339(now)).map(({ lastUpdateTime, ...c }: any) => c);
    if (conds.length) status.conditions = conds;
    for (const k of ['readyReplicas', 'availableReplicas', 'fullyLabeledReplicas']) if (!status[k]) delete status[k];
    const cur = { ...rs.status };
    if (canonicalJson(cur) !== canonicalJson(status)) {
      await this.ctx.client.update(R.replicasets, rs.metadata.namespace, { ...rs, status }, 'status');
    }
    // Pods ready but not yet available for minReadySeconds: look again when they will be.
    if (minReady && status.readyReplicas !== status.availableReplicas) return { requeueAfterMs: 1000 };
    return undefined;
  }
}
