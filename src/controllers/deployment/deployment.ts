/**
 * The Deployment controller: a Deployment owns ReplicaSets, one per pod template it has had;
 * the one matching the current template is "new", the rest "old". As kube-controller-manager's
 * syncDeployment, each sync does one of: status only (being deleted); scaling (paused, or
 * spec.replicas changed since the ReplicaSets were sized: proportional over the active ones);
 * a Recreate step (old ReplicaSets to zero, wait for their pods to be gone, then the new one
 * up); or a RollingUpdate step (new one up within maxSurge, old ones down within
 * maxUnavailable, unhealthy old pods first). Revisions (revisions.ts) number the templates so
 * `kubectl rollout history|undo` work; status.ts keeps the counts and the Available,
 * Progressing and ReplicaFailure conditions `kubectl rollout status` reads.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { keyOf, splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef, ownerRefTo } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { canonicalJson } from '../pods.js';
import { activeOrLatest, isRollingUpdate, maxScaleDown, newReplicasForRollingUpdate, proportionalScale, surgeAndUnavailable } from './rolling.js';
import { DESIRED, MAX, REVISION, byCreation, comparable, findNewReplicaSet, historyToDelete, newReplicaSet, newReplicaSetAnnotations, revisionOf } from './revisions.js';
import { calculateStatus, condition, deploymentComplete, hasProgressDeadline, omitZeros, pausedConditions, rolloutStatus, setCondition } from './status.js';

export { HASH_LABEL, REVISION, comparable } from './revisions.js';

const specReplicas = (rs: KObject): number => rs.spec?.replicas ?? 0;
const created = (o: KObject): number => Date.parse(o.metadata.creationTimestamp ?? '') || 0;

/** Rolls Deployments out through ReplicaSets. */
export class DeploymentController extends LoopController {
  private readonly deployments: Informer;
  private readonly sets: Informer;
  private readonly pods: Informer;

  constructor(ctx: ControllerContext) {
    super('deployment', ctx, 4);
    this.deployments = ctx.informers.for(R.deployments);
    this.sets = ctx.informers.for(R.replicasets);
    this.pods = ctx.informers.for(R.pods);
    this.deployments.addIndex('uid', (d) => [d.metadata.uid]);
    this.sets.addIndex('uid', (s) => [s.metadata.uid]);
    this.deployments.on({ add: (d) => this.loop.enqueue(d), update: (_o, d) => this.loop.enqueue(d) });
    const onRs = (rs: KObject) => {
      const r = controllerRef(rs);
      const d = r?.kind === 'Deployment' ? this.deployments.byIndex('uid', r.uid)[0] : undefined;
      if (d) this.loop.enqueue(d);
      else if (!r) for (const d2 of this.deployments.listNamespace(rs.metadata.namespace!)) if (selectorObjectMatcher(d2.spec?.selector)(rs.metadata.labels ?? {})) this.loop.enqueue(d2);
    };
    this.sets.on({
      add: onRs,
      update: (o, rs) => {
        // A ReplicaSet that changed owners is news to its former owner too.
        if (controllerRef(o)?.uid !== controllerRef(rs)?.uid) onRs(o);
        onRs(rs);
      },
      delete: onRs,
    });
    // Recreate waits for the old pods to be gone; their ReplicaSets' status stopped changing
    // when the pods began terminating, so the last pod's deletion must wake the Deployment.
    this.pods.on({
      delete: (p) => {
        const r = controllerRef(p);
        const rs = r?.kind === 'ReplicaSet' ? this.sets.byIndex('uid', r.uid)[0] : undefined;
        const dr = rs && controllerRef(rs);
        const d = dr?.kind === 'Deployment' ? this.deployments.byIndex('uid', dr.uid)[0] : undefined;
        if (d && !isRollingUpdate(d)) this.loop.enqueue(d);
      },
    });
  }

  protected async sync(key: string): Promise<SyncResult> {
    let d = this.deployments.get(key);
    if (!d) return;
    d = structuredClone(d);
    const { namespace } = splitKey(key);
    const sel = d.spec?.selector ?? {};
    if (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length) {
      // An empty selector would select every pod in the namespace: refuse, as Kubernetes.
      this.ctx.recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      return;
    }
    const match = selectorObjectMatcher(sel);
    const rss = await claim(this.ctx.client, R.replicasets, d, 'apps/v1', 'Deployment', this.sets.listNamespace(namespace!), (rs) => match(rs.metadata.labels ?? {}));
    const { surge, unavailable } = surgeAndUnavailable(d);

    if (d.metadata.deletionTimestamp) {
      const newRs = findNewReplicaSet(d, rss);
      await this.writeStatus(d, calculateStatus(d, newRs, rss.filter((x) => x !== newRs), unavailable, this.ctx.clock.now()));
      return;
    }
    const paused = pausedConditions(d, this.ctx.clock.now());
    if (paused) d = await this.writeStatus(d, { ...d.status, conditions: paused });

    if (d.spec?.paused || this.isScalingEvent(d, rss)) {
      // Paused: no rollout, but a replica change is still honoured (proportionally).
      const { newRs, olds } = await this.syncRevision(d, rss, false, surge);
      const scaled = await this.scale(d, newRs, olds, surge);
      if (d.spec?.paused) await this.cleanup(d, scaled.olds);
      await this.writeStatus(d, calculateStatus(d, scaled.newRs, scaled.olds, unavailable, this.ctx.clock.now()));
      return;
    }
    return isRollingUpdate(d) ? this.rolling(d, rss, surge, unavailable) : this.recreate(d, rss, unavailable);
  }

  /** One RollingUpdate step: grow the new ReplicaSet within surge, shrink old ones within maxUnavailable. */
  private async rolling(d: KObject, rss: KObject[], surge: number, unavailable: number): Promise<SyncResult> {
    let { newRs, olds } = await this.syncRevision(d, rss, true, surge);
    newRs = newRs!;
    const replicas = d.spec?.replicas ?? 1;
    const total = (xs: KObject[]) => xs.reduce((s, rs) => s + specReplicas(rs), 0);
    // An old ReplicaSet just scaled down may still have its pods (its controller has not
    // deleted them yet): count what it has, not only what it is told, so the surge holds
    // even then (Kubernetes counts spec.replicas alone).
    const present = specReplicas(newRs) + olds.reduce((s, rs) => s + Math.max(specReplicas(rs), rs.status?.replicas ?? 0), 0);
    // reconcileNewReplicaSet: a step that resized the new ReplicaSet ends the sync there.
    const n = specReplicas(newRs) > replicas ? replicas : newReplicasForRollingUpdate(replicas, surge, specReplicas(newRs), present);
    if (n !== specReplicas(newRs)) return this.rolloutStatus(d, await this.scaleRs(d, newRs, n, surge), olds, unavailable);
    const before = total(olds);
    olds = await this.shrinkOld(d, newRs, olds, unavailable, surge);
    if (total(olds) === before && deploymentComplete(d, d.status ?? {})) await this.cleanup(d, olds);
    return this.rolloutStatus(d, newRs, olds, unavailable);
  }

  /** One Recreate step: old ReplicaSets to zero; once no old pod is left, the new one to full size. */
  private async recreate(d: KObject, rss: KObject[], unavailable: number): Promise<SyncResult> {
    let { newRs, olds } = await this.syncRevision(d, rss, false, 0);
    if (olds.some((rs) => specReplicas(rs) > 0)) {
      olds = await Promise.all(olds.map((rs) => (specReplicas(rs) > 0 ? this.scaleRs(d, rs, 0, 0) : rs)));
      return this.rolloutStatus(d, newRs, olds, unavailable);
    }
    if (this.oldPodsRunning(newRs, olds)) return this.rolloutStatus(d, newRs, olds, unavailable);
    if (!newRs) ({ newRs, olds } = await this.syncRevision(d, rss, true, 0));
    if (specReplicas(newRs!) !== (d.spec?.replicas ?? 1)) newRs = await this.scaleRs(d, newRs!, d.spec?.replicas ?? 1, 0);
    if (deploymentComplete(d, d.status ?? {})) await this.cleanup(d, olds);
    return this.rolloutStatus(d, newRs, olds, unavailable);
  }

  /** True while an old ReplicaSet has pods that are not finished (terminating ones included). */
  private oldPodsRunning(newRs: KObject | undefined, olds: KObject[]): boolean {
    if (olds.some((rs) => (rs.status?.replicas ?? 0) > 0)) return true;
    const oldUids = new Set(olds.map((rs) => rs.metadata.uid));
    return olds.length > 0 && this.pods.listNamespace(newRs?.metadata.namespace ?? olds[0].metadata.namespace!)
      .some((p) => oldUids.has(controllerRef(p)?.uid) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  }

  /** Old ReplicaSets shrink as far as the minimum availability allows (unhealthy pods first). */
  private async shrinkOld(d: KObject, newRs: KObject, olds: KObject[], unavailable: number, surge: number): Promise<KObject[]> {
    const replicas = d.spec?.replicas ?? 1;
    if (!olds.some((rs) => specReplicas(rs) > 0)) return olds;
    const total = [newRs, ...olds].reduce((s, rs) => s + specReplicas(rs), 0);
    let budget = maxScaleDown(replicas, unavailable, total, specReplicas(newRs), newRs.status?.availableReplicas ?? 0);
    if (budget <= 0) return olds;
    const out = new Map(olds.map((rs) => [rs.metadata.uid, rs]));
    const oldest = [...olds].sort(byCreation);
    // First the old pods that are not available anyway: removing them costs no availability.
    for (const rs of oldest) {
      if (budget <= 0) break;
      const cur = out.get(rs.metadata.uid)!;
      const unhealthy = specReplicas(cur) - (cur.status?.availableReplicas ?? 0);
      if (specReplicas(cur) === 0 || unhealthy <= 0) continue;
      const by = Math.min(unhealthy, budget);
      budget -= by;
      out.set(rs.metadata.uid, await this.scaleRs(d, cur, specReplicas(cur) - by, surge));
    }
    // Then available ones, down to the minimum available. An old ReplicaSet's status can lag
    // behind a scale-down it has just carried out (pods deleted, status not yet rewritten), so
    // its available pods count at most its spec.replicas, and the total stays within `budget`:
    // stricter than Kubernetes, which can briefly dip below maxUnavailable on such lag.
    const available = [...out.values()].reduce((s, rs) => s + Math.min(specReplicas(rs), rs.status?.availableReplicas ?? 0), 0) + (newRs.status?.availableReplicas ?? 0);
    let more = Math.min(budget, available - (replicas - unavailable));
    for (const rs of oldest) {
      if (more <= 0) break;
      const cur = out.get(rs.metadata.uid)!;
      const by = Math.min(specReplicas(cur), more);
      if (by <= 0) continue;
      more -= by;
      out.set(rs.metadata.uid, await this.scaleRs(d, cur, specReplicas(cur) - by, surge));
    }
    return olds.map((rs) => out.get(rs.metadata.uid)!);
  }

  /** True when the Deployment's replica count changed since its active ReplicaSets were sized. */
  private isScalingEvent(d: KObject, rss: KObject[]): boolean {
    const want = String(d.spec?.replicas ?? 1);
    return rss.some((rs) => specReplicas(rs) > 0 && rs.metadata.annotations?.[DESIRED] !== undefined && rs.metadata.annotations[DESIRED] !== want);
  }

  /** DeploymentController.scale: a resize goes to the one active ReplicaSet, or proportionally to all. */
  private async scale(d: KObject, newRs: KObject | undefined, olds: KObject[], surge: number): Promise<{ newRs: KObject | undefined; olds: KObject[] }> {
    const replicas = d.spec?.replicas ?? 1;
    const all = [...(newRs ? [newRs] : []), ...olds];
    const out = new Map(all.map((rs) => [rs.metadata.uid, rs]));
    const view = (rs: KObject) => ({ rs, replicas: specReplicas(rs), created: created(rs) });
    const target = activeOrLatest(newRs && view(newRs), olds.map(view));
    if (target) {
      if (target.replicas !== replicas) out.set(target.rs.metadata.uid, await this.scaleRs(d, target.rs, replicas, surge));
    } else if (newRs && this.saturated(d, newRs)) {
      // The new ReplicaSet already runs everything (e.g. after adopting old ones): empty the rest.
      for (const rs of olds) if (specReplicas(rs) > 0) out.set(rs.metadata.uid, await this.scaleRs(d, rs, 0, surge));
    } else if (isRollingUpdate(d)) {
      const active = all.filter((rs) => specReplicas(rs) > 0);
      const sizes = proportionalScale(active.map((rs) => ({ replicas: specReplicas(rs), maxReplicas: Number(rs.metadata.annotations?.[MAX]) || undefined, created: created(rs), name: rs.metadata.name! })), replicas, surge, d.status?.replicas ?? 0);
      for (const [i, rs] of active.entries()) out.set(rs.metadata.uid, await this.scaleRs(d, rs, sizes[i], surge));
    }
    return { newRs: newRs && out.get(newRs.metadata.uid), olds: olds.map((rs) => out.get(rs.metadata.uid)!) };
  }

  /** IsSaturated: the new ReplicaSet is sized for the Deployment and all its pods are available. */
  private saturated(d: KObject, rs: KObject): boolean {
    const replicas = d.spec?.replicas ?? 1;
    return specReplicas(rs) === replicas && rs.metadata.annotations?.[DESIRED] === String(replicas) && (rs.status?.availableReplicas ?? 0) === replicas;
  }

  /** Sets a ReplicaSet's replicas and the desired/max annotations, with the ScalingReplicaSet event. */
  private async scaleRs(d: KObject, rs: KObject, n: number, surge: number): Promise<KObject> {
    const replicas = d.spec?.replicas ?? 1;
    const ann = rs.metadata.annotations ?? {};
    if (specReplicas(rs) === n && ann[DESIRED] === String(replicas) && ann[MAX] === String(replicas + surge)) return rs;
    const next = structuredClone(rs);
    next.spec.replicas = n;
    next.metadata.annotations = { ...ann, [DESIRED]: String(replicas), [MAX]: String(replicas + surge) };
    const out = await this.ctx.client.update(R.replicasets, rs.metadata.namespace, next);
    if (specReplicas(rs) !== n) {
      this.ctx.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${n > specReplicas(rs) ? 'up' : 'down'} replica set ${rs.metadata.name} from ${specReplicas(rs)} to ${n}`);
    }
    return out;
  }

  /**
   * getAllReplicaSetsAndSyncRevision: finds the new ReplicaSet and brings its annotations
   * (revision above every old one, the Deployment's annotations) and minReadySeconds up to
   * date, or creates it when `create`; sets the Deployment's revision annotation and notes
   * NewReplicaSetCreated / FoundNewReplicaSet in its Progressing condition (in `d.status`).
   */
  private async syncRevision(d: KObject, rss: KObject[], create: boolean, surge: number): Promise<{ newRs: KObject | undefined; olds: KObject[] }> {
    const found = findNewReplicaSet(d, rss);
    const olds = rss.filter((rs) => rs !== found);
    const revision = Math.max(0, ...olds.map(revisionOf)) + 1;
    const now = this.ctx.clock.now();
    let newRs = found;
    if (found) {
      const ann = newReplicaSetAnnotations(d, found, revision, true, surge);
      const minReady = d.spec?.minReadySeconds ?? 0;
      if (ann || (found.spec?.minReadySeconds ?? 0) !== minReady) {
        const next = structuredClone(found);
        if (ann) next.metadata.annotations = ann;
        next.spec.minReadySeconds = minReady;
        newRs = await this.ctx.client.update(R.replicasets, found.metadata.namespace, next);
      }
      if (hasProgressDeadline(d) && !(d.status?.conditions ?? []).some((c: any) => c.type === 'Progressing')) {
        d.status = { ...d.status, conditions: setCondition(d.status?.conditions ?? [], condition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${newRs!.metadata.name}"`, now)) };
      }
    } else if (create) {
      newRs = await this.createNewRs(d, olds, revision, surge);
    } else return { newRs: undefined, olds };
    await this.setRevision(d, newRs!.metadata.annotations?.[REVISION] ?? String(revision));
    return { newRs, olds };
  }

  /** Creates the new ReplicaSet; on a name taken by another template, counts the collision and fails the sync. */
  private async createNewRs(d: KObject, olds: KObject[], revision: number, surge: number): Promise<KObject> {
    const replicas = isRollingUpdate(d)
      ? newReplicasForRollingUpdate(d.spec?.replicas ?? 1, surge, 0, olds.reduce((s, rs) => s + specReplicas(rs), 0))
      : d.spec?.replicas ?? 1;
    const rs = newReplicaSet(d, ownerRefTo(d, 'apps/v1', 'Deployment'), replicas, revision, surge);
    const now = this.ctx.clock.now();
    try {
      const out = await this.ctx.client.create(R.replicasets, d.metadata.namespace, rs);
      if (replicas > 0) this.ctx.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${out.metadata.name} from 0 to ${replicas}`);
      if (hasProgressDeadline(d)) {
        d.status = { ...d.status, conditions: setCondition(d.status?.conditions ?? [], condition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${out.metadata.name}"`, now)) };
      }
      return out;
    } catch (err) {
      if (err instanceof ApiStatusError && err.code === 409) {
        const existing = await this.ctx.client.get(R.replicasets, d.metadata.namespace, rs.metadata.name!);
        // Ours, with this template: the cache had not caught up with an earlier create.
        if (controllerRef(existing)?.uid === d.metadata.uid && comparable(existing.spec?.template) === comparable(d.spec.template)) return existing;
        // A hash collision: another template already has this name. Count it (the next hash
        // differs) and let the retry create the ReplicaSet under the new name.
        await this.ctx.client.update(R.deployments, d.metadata.namespace, { ...d, status: { ...d.status, collisionCount: (d.status?.collisionCount ?? 0) + 1 } }, 'status');
        throw err;
      }
      const msg = `Failed to create new replica set "${rs.metadata.name}": ${(err as Error).message}`;
      if (hasProgressDeadline(d)) {
        const conditions = setCondition(d.status?.conditions ?? [], condition('Progressing', 'False', 'ReplicaSetCreateError', msg, now));
        await this.ctx.client.update(R.deployments, d.metadata.namespace, { ...d, status: { ...d.status, conditions } }, 'status').catch(() => {});
      }
      this.ctx.recorder.event(d, 'Warning', 'ReplicaSetCreateError', msg);
      throw err;
    }
  }

  /** The Deployment's revision annotation follows its new ReplicaSet's (written at once; `d` takes the new resourceVersion). */
  private async setRevision(d: KObject, revision: string): Promise<void> {
    if (d.metadata.annotations?.[REVISION] === revision) return;
    const out = await this.ctx.client.patch(R.deployments, d.metadata.namespace, d.metadata.name!, { metadata: { annotations: { [REVISION]: revision } } }, 'merge');
    d.metadata = { ...d.metadata, annotations: out.metadata.annotations, resourceVersion: out.metadata.resourceVersion };
  }

  /** Deletes old ReplicaSets beyond revisionHistoryLimit (empty ones only, lowest revision first). */
  private async cleanup(d: KObject, olds: KObject[]): Promise<void> {
    for (const rs of historyToDelete(olds, d.spec?.revisionHistoryLimit ?? 10)) {
      await this.ctx.client.delete(R.replicasets, rs.metadata.namespace, rs.metadata.name!).catch((err) => {
        if (!(err instanceof ApiStatusError && err.code === 404)) throw err;
      });
    }
  }

  private async rolloutStatus(d: KObject, newRs: KObject | undefined, olds: KObject[], unavailable: number): Promise<SyncResult> {
    const { status, requeueAfterMs } = rolloutStatus(d, newRs, olds, unavailable, this.ctx.clock.now());
    await this.writeStatus(d, status);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** Writes `status` unless the API server already has it; returns the Deployment as written. */
  private async writeStatus(d: KObject, status: any): Promise<KObject> {
    const st = omitZeros({ ...status });
    const stored = this.deployments.get(keyOf(d));
    if (canonicalJson(stored?.status ?? {}) === canonicalJson(st)) return { ...d, status: st };
    return this.ctx.client.update(R.deployments, d.metadata.namespace, { ...d, status: st }, 'status');
  }
}
