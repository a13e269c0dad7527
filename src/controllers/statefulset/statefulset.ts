/**
 * The StatefulSet controller, as kube-controller-manager's: pods with stable names and claims,
 * created in order and removed in reverse (OrderedReady) or all at once (Parallel), rolled to
 * a new template from the highest ordinal down to the partition, one pod at a time (OnDelete
 * leaves that to the user); templates recorded as ControllerRevisions, which
 * `kubectl rollout history|undo sts` read. The decisions are in plan.ts; this module reads the
 * caches, applies the plan through the API and writes the status.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { keyOf, splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { canonicalJson, isPodReady } from '../pods.js';
import { REVISION_HASH, syncRevisions, templateOf, truncateHistory } from '../history.js';
import { claimsFor, newPod, ordinalOf, podName, POD_INDEX_LABEL, POD_NAME_LABEL } from './identity.js';
import { planStatefulSet, statefulSetStatus, type StsAction } from './plan.js';
import { claimIsStale, claimOwnersUpToDate, desiredClaimOwners } from './claims.js';

export { ordinalOf } from './identity.js';

const notFound = (err: unknown) => err instanceof ApiStatusError && err.code === 404;
const exists = (err: unknown) => err instanceof ApiStatusError && err.code === 409;

/** Keeps StatefulSets' pods and claims. */
export class StatefulSetController extends LoopController {
  private readonly sets: Informer;
  private readonly pods: Informer;
  private readonly claims: Informer;
  private readonly revisions: Informer;

  constructor(ctx: ControllerContext) {
    super('statefulset', ctx, 4);
    this.sets = ctx.informers.for(R.statefulsets);
    this.pods = ctx.informers.for(R.pods);
    this.claims = ctx.informers.for(R.persistentvolumeclaims);
    this.revisions = ctx.informers.for(R.controllerrevisions);
    this.sets.addIndex('uid', (s) => [s.metadata.uid]);
    this.revisions.addIndex('owner', (r) => { const o = controllerRef(r); return o ? [o.uid] : []; });
    this.sets.on({ add: (s) => this.loop.enqueue(s), update: (_o, s) => this.loop.enqueue(s) });
    this.pods.on({
      add: (p) => this.onPod(p),
      update: (o, p) => { this.onPod(p); if (canonicalJson(o.metadata.labels) !== canonicalJson(p.metadata.labels)) this.onPod(o); },
      delete: (p) => this.onPod(p),
    });
  }

  /** Queues the set controlling a pod, or (for an orphan) every set of its namespace that would adopt it. */
  private onPod(p: KObject): void {
    const ref = controllerRef(p);
    if (ref) {
      if (ref.kind !== 'StatefulSet') return;
      const s = this.sets.byIndex('uid', ref.uid)[0];
      if (s) this.loop.enqueue(s);
      return;
    }
    for (const s of this.sets.listNamespace(p.metadata.namespace!)) {
      if (ordinalOf(s.metadata.name!, p.metadata.name!) >= 0 && selectorObjectMatcher(s.spec?.selector)(p.metadata.labels ?? {})) this.loop.enqueue(s);
    }
  }

  protected async sync(key: string): Promise<SyncResult> {
    const set = this.sets.get(key);
    // A set being deleted is left to the garbage collector (its pods are its dependents).
    if (!set || set.metadata.deletionTimestamp) return;
    const ns = splitKey(key).namespace!;
    const name = set.metadata.name!;
    const match = selectorObjectMatcher(set.spec?.selector);
    const pods = await claim(this.ctx.client, R.pods, set, 'apps/v1', 'StatefulSet', this.pods.listNamespace(ns),
      (p) => match(p.metadata.labels ?? {}) && ordinalOf(name, p.metadata.name!) >= 0);
    const revs = await syncRevisions(this.ctx.client, set, 'StatefulSet', this.revisions.byIndex('owner', set.metadata.uid));
    const now = this.ctx.clock.now();
    const plan = planStatefulSet({
      set, pods, updateRevision: revs.update.metadata.name!, currentReplicas: set.status?.currentReplicas ?? 0, now,
      claimsNeedWork: (p) => this.claimsNeedWork(set, p),
      claimStale: (ord) => claimsFor(set, ord).some((c) => claimIsStale(this.claims.get(keyOf(c)), podName(set, ord))),
    });
    this.ctx.log.debug({ controller: 'statefulset', key, actions: plan.actions.length, waitingFor: plan.waitingFor }, 'sync');
    let failure: unknown;
    // Parallel plans may hold many creations: run them together, the rest in order.
    const creates = plan.actions.filter((a) => a.op === 'create');
    const results = await Promise.allSettled(creates.map((a) => this.apply(set, a, revs.current, revs.update)));
    for (const r of results) if (r.status === 'rejected') failure ??= r.reason;
    for (const a of plan.actions) {
      if (a.op === 'create') continue;
      try { await this.apply(set, a, revs.current, revs.update); } catch (err) { failure ??= err; }
    }
    const status = statefulSetStatus(set, pods, revs.current.metadata.name!, revs.update.metadata.name!, revs.collisionCount, now);
    if (canonicalJson(set.status ?? {}) !== canonicalJson({ ...set.status, ...status })) {
      await this.ctx.client.update(R.statefulsets, ns, { ...set, status: { ...set.status, ...status } }, 'status');
    }
    const live = new Set([status.currentRevision, status.updateRevision, ...pods.map((p) => p.metadata.labels?.[REVISION_HASH]).filter(Boolean)]);
    await truncateHistory(this.ctx.client, revs.history, live, set.spec?.revisionHistoryLimit ?? 10);
    if (failure) throw failure;
    return this.availabilityRecheck(set, pods, now);
  }

  /** With minReadySeconds, a ready pod becomes available later with no event to say so: look again then. */
  private availabilityRecheck(set: KObject, pods: KObject[], now: number): SyncResult {
    const minReady = set.spec?.minReadySeconds ?? 0;
    if (!minReady) return;
    let soonest = Infinity;
    for (const p of pods) {
      if (!isPodReady(p)) continue;
      const since = Date.parse((p.status?.conditions ?? []).find((c: any) => c.type === 'Ready')?.lastTransitionTime ?? '');
      const at = (Number.isFinite(since) ? since : now) + minReady * 1000;
      if (at > now) soonest = Math.min(soonest, at - now);
    }
    return Number.isFinite(soonest) ? { requeueAfterMs: soonest + 100 } : undefined;
  }

  private async apply(set: KObject, a: StsAction, current: KObject, update: KObject): Promise<void> {
    switch (a.op) {
      case 'create': return this.createPod(set, a.ordinal, a.revision === 'current' ? current : update);
      case 'delete': return this.deletePod(set, a.pod, a.why);
      case 'relabel': return this.relabel(set, a.pod);
      case 'claims': return this.fixClaims(set, a.pod);
    }
  }

  private claimsNeedWork(set: KObject, pod: KObject): boolean {
    const ord = ordinalOf(set.metadata.name!, pod.metadata.name!);
    return claimsFor(set, ord).some((want) => {
      const have = this.claims.get(keyOf(want));
      if (!have) return pod.status?.phase === 'Pending';
      return !have.metadata.deletionTimestamp && !claimOwnersUpToDate(have, set, pod);
    });
  }

  /** Creates the pod's missing claims and gives existing ones the owners the policy asks for. */
  private async fixClaims(set: KObject, pod: KObject, createOnly = false): Promise<void> {
    const ord = ordinalOf(set.metadata.name!, pod.metadata.name!);
    for (const want of claimsFor(set, ord)) {
      const have = this.claims.get(keyOf(want));
      if (have?.metadata.deletionTimestamp) throw new Error(`pvc ${have.metadata.name} is being deleted`);
      if (!have) {
        want.metadata.ownerReferences = desiredClaimOwners(want, set, pod);
        if (!want.metadata.ownerReferences.length) delete want.metadata.ownerReferences;
        try {
          await this.ctx.client.create(R.persistentvolumeclaims, set.metadata.namespace, want);
          this.ctx.recorder.event(set, 'Normal', 'SuccessfulCreate', `create Claim ${want.metadata.name} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} success`);
        } catch (err) {
          if (exists(err)) continue; // created meanwhile; the cache has not seen it yet
          this.ctx.recorder.event(set, 'Warning', 'FailedCreate', `create Claim ${want.metadata.name} for Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
          throw err;
        }
      } else if (!createOnly && !claimOwnersUpToDate(have, set, pod)) {
        await this.ctx.client.update(R.persistentvolumeclaims, set.metadata.namespace, { ...have, metadata: { ...have.metadata, ownerReferences: desiredClaimOwners(have, set, pod) } });
      }
    }
  }

  private async createPod(set: KObject, ord: number, rev: KObject): Promise<void> {
    const pod = newPod(set, templateOf(rev), ord, rev.metadata.name!);
    const what = `Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name}`;
    try {
      // The claims first, so the pod never starts without its storage.
      await this.fixClaims(set, pod, true);
      await this.ctx.client.create(R.pods, set.metadata.namespace, pod);
    } catch (err) {
      if (exists(err)) return; // the cache had not seen it yet
      this.ctx.recorder.event(set, 'Warning', 'FailedCreate', `create ${what} failed error: ${(err as Error).message}`);
      throw err;
    }
    this.ctx.recorder.event(set, 'Normal', 'SuccessfulCreate', `create ${what} successful`);
  }

  private async deletePod(set: KObject, p: KObject, why: string): Promise<void> {
    if (why === 'finished') {
      const failed = p.status?.phase === 'Failed';
      this.ctx.recorder.event(set, failed ? 'Warning' : 'Normal', failed ? 'RecreatingFailedPod' : 'RecreatingTerminatedPod',
        `StatefulSet ${set.metadata.namespace}/${set.metadata.name} is recreating ${failed ? 'failed' : 'terminated'} Pod ${p.metadata.name}`);
    }
    const what = `Pod ${p.metadata.name} in StatefulSet ${set.metadata.name}`;
    try {
      await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } });
    } catch (err) {
      if (notFound(err)) return;
      this.ctx.recorder.event(set, 'Warning', 'FailedDelete', `delete ${what} failed error: ${(err as Error).message}`);
      throw err;
    }
    this.ctx.recorder.event(set, 'Normal', 'SuccessfulDelete', `delete ${what} successful`);
  }

  /** Puts back the identity labels a user removed (UpdateStatefulPod). */
  private async relabel(set: KObject, p: KObject): Promise<void> {
    const ord = ordinalOf(set.metadata.name!, p.metadata.name!);
    await this.ctx.client.patch(R.pods, p.metadata.namespace, p.metadata.name!,
      { metadata: { labels: { [POD_NAME_LABEL]: p.metadata.name, [POD_INDEX_LABEL]: String(ord) } } }, 'merge');
    this.ctx.recorder.event(set, 'Normal', 'SuccessfulUpdate', `update Pod ${p.metadata.name} in StatefulSet ${set.metadata.name} successful`);
  }
}
