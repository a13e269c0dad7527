/**
 * The Deployment controller: a Deployment owns ReplicaSets, one per pod template it has had;
 * the one matching the current template is "new", the rest "old". RollingUpdate grows the new
 * one and shrinks the old ones within maxSurge and maxUnavailable; Recreate empties the old
 * ones first. Revisions (deployment.kubernetes.io/revision) number the templates so `kubectl
 * rollout history|undo` work; spec.paused stops rollouts (scaling still happens); the
 * Progressing and Available conditions and progressDeadlineSeconds tell `kubectl rollout
 * status` how it goes; old ReplicaSets beyond revisionHistoryLimit are deleted.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef, ownerRefTo } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { canonicalJson, templateHash } from '../pods.js';
import { maxScaleDown, newReplicasForRollingUpdate, proportionalShares, surgeAndUnavailable } from './rolling.js';
import { deploymentStatus } from './status.js';

/** The label tying a ReplicaSet and its pods to one template. */
export const HASH_LABEL = 'pod-template-hash';
/** Annotations Kubernetes keeps on Deployments and their ReplicaSets. */
export const REVISION = 'deployment.kubernetes.io/revision';
const DESIRED = 'deployment.kubernetes.io/desired-replicas';
const MAX = 'deployment.kubernetes.io/max-replicas';
const CHANGE_CAUSE = 'kubernetes.io/change-cause';

const rev = (rs: KObject) => Number(rs.metadata.annotations?.[REVISION] ?? 0) || 0;
const specReplicas = (rs: KObject) => rs.spec?.replicas ?? 0;
const created = (rs: KObject) => Date.parse(rs.metadata.creationTimestamp ?? '') || 0;

/**
 * A template as compared for equality: nulls, empty maps and empty lists dropped (Go clients
 * such as `kubectl rollout undo` send `creationTimestamp: null` and `resources: {}` that mean
 * the same as nothing), and without the pod-template-hash label.
 */
export function comparable(template: any): any {
  const prune = (v: any): any => {
    if (Array.isArray(v)) { const a = v.map(prune).filter((x) => x !== undefined); return a.length ? a : undefined; }
    if (v && typeof v === 'object') {
      const o: any = {};
      for (const [k, x] of Object.entries(v)) { const p = prune(x); if (p !== undefined) o[k] = p; }
      return Object.keys(o).length ? o : undefined;
    }
    return v === null ? undefined : v;
  };
  const t = structuredClone(template ?? {});
  if (t.metadata?.labels) delete t.metadata.labels[HASH_LABEL];
  return canonicalJson(prune(t) ?? {});
}

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
    this.deployments.on({ add: (d) => this.loop.enqueue(d), update: (_o, d) => this.loop.enqueue(d) });
    const onRs = (rs: KObject) => {
      const r = controllerRef(rs);
      const d = r?.kind === 'Deployment' ? this.deployments.byIndex('uid', r.uid)[0] : undefined;
      if (d) this.loop.enqueue(d);
      else if (!r) for (const d2 of this.deployments.listNamespace(rs.metadata.namespace!)) if (selectorObjectMatcher(d2.spec?.selector)(rs.metadata.labels ?? {})) this.loop.enqueue(d2);
    };
    this.sets.on({ add: onRs, update: (_o, rs) => onRs(rs), delete: onRs });
  }

  protected async sync(key: string): Promise<SyncResult> {
    const d = this.deployments.get(key);
    if (!d || d.metadata.deletionTimestamp) return;
    const { namespace } = splitKey(key);
    const match = selectorObjectMatcher(d.spec?.selector);
    if (!Object.keys(d.spec?.selector?.matchLabels ?? {}).length && !(d.spec?.selector?.matchExpressions ?? []).length) return;
    const rss = await claim(this.ctx.client, R.replicasets, d, 'apps/v1', 'Deployment', this.sets.listNamespace(namespace!), (rs) => match(rs.metadata.labels ?? {}));
    const want = comparable(d.spec?.template);
    let newRs: KObject | undefined = rss.filter((rs) => comparable(rs.spec?.template) === want).sort((a, b) => created(a) - created(b))[0];
    let olds = rss.filter((rs) => rs !== newRs);
    const { surge, unavailable } = surgeAndUnavailable(d);
    const replicas = d.spec?.replicas ?? 1;
    let event: { reason: string; message: string } | undefined;

    if (d.spec?.paused) {
      // Paused: no rollout, but a replica change is still honoured.
      if (this.isScalingEvent(d, [newRs, ...olds])) ({ newRs, olds } = await this.scale(d, newRs, olds, surge));
      return this.writeStatus(d, newRs, olds, unavailable);
    }
    if (newRs) {
      const fixed = await this.syncRevision(d, newRs, olds);
      if (fixed) newRs = fixed;
    }
    if (this.isScalingEvent(d, [newRs, ...olds])) {
      ({ newRs, olds } = await this.scale(d, newRs, olds, surge));
      return this.writeStatus(d, newRs, olds, unavailable);
    }
    if ((d.spec?.strategy?.type ?? 'RollingUpdate') === 'Recreate') {
      if (olds.some((rs) => specReplicas(rs) > 0)) {
        olds = await Promise.all(olds.map((rs) => (specReplicas(rs) > 0 ? this.scaleRs(d, rs, 0, 0) : rs)));
        return this.writeStatus(d, newRs, olds, unavailable);
      }
      // Recreate waits until every old pod is gone before starting new ones.
      const oldUids = new Set(olds.map((rs) => rs.metadata.uid));
      if (this.pods.listNamespace(namespace!).some((p) => oldUids.has(controllerRef(p)?.uid) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')) {
        return this.writeStatus(d, newRs, olds, unavailable);
      }
      if (!newRs) { ({ rs: newRs, event } = await this.createNewRs(d, olds, replicas)); }
      else if (specReplicas(newRs) !== replicas) newRs = await this.scaleRs(d, newRs, replicas, 0);
    } else {
      const total = (xs: (KObject | undefined)[]) => xs.reduce((s, rs) => s + (rs ? specReplicas(rs) : 0), 0);
      if (!newRs) {
        ({ rs: newRs, event } = await this.createNewRs(d, olds, newReplicasForRollingUpdate(replicas, surge, 0, total(olds))));
      } else if (specReplicas(newRs) > replicas) {
        newRs = await this.scaleRs(d, newRs, replicas, surge);
      } else if (specReplicas(newRs) < replicas) {
        const n = newReplicasForRollingUpdate(replicas, surge, specReplicas(newRs), total([newRs, ...olds]));
        if (n !== specReplicas(newRs)) newRs = await this.scaleRs(d, newRs, n, surge);
      }
      olds = await this.shrinkOld(d, newRs!, olds, replicas, unavailable, surge);
    }
    await this.cleanup(d, olds);
    return this.writeStatus(d, newRs, olds, unavailable, event);
  }

  /** Old ReplicaSets shrink as far as the minimum availability allows (unhealthy pods first). */
  private async shrinkOld(d: KObject, newRs: KObject, olds: KObject[], replicas: number, unavailable: number, surge: number): Promise<KObject[]> {
    const all = [newRs, ...olds];
    if (!olds.some((rs) => specReplicas(rs) > 0)) return olds;
    const total = all.reduce((s, rs) => s + specReplicas(rs), 0);
    let budget = maxScaleDown(replicas, unavailable, total, specReplicas(newRs), newRs.status?.availableReplicas ?? 0);
    if (budget <= 0) return olds;
    const out = new Map(olds.map((rs) => [rs.metadata.uid, rs]));
    const oldest = [...olds].sort((a, b) => created(a) - created(b));
    // First the old pods that are not available anyway: removing them costs no availability.
    for (const rs of oldest) {
      if (budget <= 0) break;
      const cur = out.get(rs.metadata.uid)!;
      const unhealthy = specReplicas(cur) - (cur.status?.availableReplicas ?? 0);
      if (unhealthy <= 0) continue;
      const by = Math.min(unhealthy, budget);
      budget -= by;
      out.set(rs.metadata.uid, await this.scaleRs(d, cur, specReplicas(cur) - by, surge));
    }
    // Then available ones, down to the minimum available.
    const available = [...out.values(), newRs].reduce((s, rs) => s + (rs.status?.availableReplicas ?? 0), 0);
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

  /** True when the Deployment's replica count changed since its ReplicaSets were sized. */
  private isScalingEvent(d: KObject, rss: (KObject | undefined)[]): boolean {
    const active = rss.filter((rs): rs is KObject => !!rs && specReplicas(rs) > 0);
    return active.some((rs) => rs.metadata.annotations?.[DESIRED] !== undefined && Number(rs.metadata.annotations[DESIRED]) !== (d.spec?.replicas ?? 1));
  }

  /** Proportional scaling: a replica change in mid-rollout is spread over the active ReplicaSets. */
  private async scale(d: KObject, newRs: KObject | undefined, olds: KObject[], surge: number): Promise<{ newRs: KObject | undefined; olds: KObject[] }> {
    const replicas = d.spec?.replicas ?? 1;
    const all = [newRs, ...olds].filter((rs): rs is KObject => !!rs);
    const active = all.filter((rs) => specReplicas(rs) > 0);
    const out = new Map(all.map((rs) => [rs.metadata.uid, rs]));
    if (active.length <= 1) {
      const target = active[0] ?? newRs;
      if (target) out.set(target.metadata.uid, await this.scaleRs(d, target, replicas, surge));
    } else {
      const allowed = replicas + surge;
      const current = active.reduce((s, rs) => s + specReplicas(rs), 0);
      // Newest first when growing, as Kubernetes' proportional scaling.
      const order = [...active].sort((a, b) => (allowed > current ? created(b) - created(a) : created(a) - created(b)) || specReplicas(b) - specReplicas(a));
      const shares = proportionalShares(order.map(specReplicas), allowed - current);
      for (const [i, rs] of order.entries()) out.set(rs.metadata.uid, await this.scaleRs(d, rs, specReplicas(rs) + shares[i], surge));
    }
    return { newRs: newRs && out.get(newRs.metadata.uid), olds: olds.map((rs) => out.get(rs.metadata.uid)!) };
  }

  /** Sets a ReplicaSet's replicas (and the desired/max annotations), with the ScalingReplicaSet event. */
  private async scaleRs(d: KObject, rs: KObject, n: number, surge: number): Promise<KObject> {
    const replicas = d.spec?.replicas ?? 1;
    const ann = rs.metadata.annotations ?? {};
    if (specReplicas(rs) === n && ann[DESIRED] === String(replicas) && ann[MAX] === String(replicas + surge) && rs.spec?.minReadySeconds === d.spec?.minReadySeconds) return rs;
    const next = structuredClone(rs);
    next.spec.replicas = n;
    if (d.spec?.minReadySeconds !== undefined) next.spec.minReadySeconds = d.spec.minReadySeconds;
    next.metadata.annotations = { ...ann, [DESIRED]: String(replicas), [MAX]: String(replicas + surge) };
    const out = await this.ctx.client.update(R.replicasets, rs.metadata.namespace, next);
    if (specReplicas(rs) !== n) {
      this.ctx.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${n > specReplicas(rs) ? 'up' : 'down'} replica set ${rs.metadata.name} to ${n} from ${specReplicas(rs)}`);
    }
    return out;
  }

  /** Creates the new ReplicaSet (name from the template hash; a hash collision bumps status.collisionCount). */
  private async createNewRs(d: KObject, olds: KObject[], replicas: number): Promise<{ rs: KObject; event: { reason: string; message: string } }> {
    const { surge } = surgeAndUnavailable(d);
    const collisions = d.status?.collisionCount ?? 0;
    const hash = templateHash(d.spec.template, collisions);
    const template = structuredClone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash } };
    const revision = String(Math.max(0, ...olds.map(rev)) + 1);
    const annotations: Record<string, string> = { [REVISION]: revision, [DESIRED]: String(d.spec?.replicas ?? 1), [MAX]: String((d.spec?.replicas ?? 1) + surge) };
    if (d.metadata.annotations?.[CHANGE_CAUSE]) annotations[CHANGE_CAUSE] = d.metadata.annotations[CHANGE_CAUSE];
    const rs = {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, annotations,
        labels: { ...(d.spec.template.metadata?.labels ?? {}), [HASH_LABEL]: hash }, ownerReferences: [ownerRefTo(d, 'apps/v1', 'Deployment')],
      },
      spec: {
        replicas, minReadySeconds: d.spec?.minReadySeconds ?? 0, template,
        selector: { ...d.spec.selector, matchLabels: { ...(d.spec.selector?.matchLabels ?? {}), [HASH_LABEL]: hash } },
      },
    };
    try {
      const out = await this.ctx.client.create(R.replicasets, d.metadata.namespace, rs);
      if (replicas > 0) this.ctx.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${out.metadata.name} to ${replicas} from 0`);
      await this.setDeploymentRevision(d, revision);
      return { rs: out, event: { reason: 'NewReplicaSetCreated', message: `Created new replica set "${out.metadata.name}"` } };
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 409)) throw err;
      const existing = await this.ctx.client.get(R.replicasets, d.metadata.namespace, rs.metadata.name);
      if (controllerRef(existing)?.uid === d.metadata.uid && comparable(existing.spec?.template) === comparable(d.spec.template)) {
        return { rs: existing, event: { reason: 'FoundNewReplicaSet', message: `Found new replica set "${existing.metadata.name}"` } };
      }
      // Another template already has this name: count the collision and try another hash.
      await this.ctx.client.update(R.deployments, d.metadata.namespace, { ...d, status: { ...d.status, collisionCount: collisions + 1 } }, 'status');
      throw err;
    }
  }

  /** The new ReplicaSet must carry the highest revision (rollbacks make an old template new again). */
  private async syncRevision(d: KObject, newRs: KObject, olds: KObject[]): Promise<KObject | undefined> {
    const maxOld = Math.max(0, ...olds.map(rev));
    let out: KObject | undefined;
    if (rev(newRs) <= maxOld || !newRs.metadata.annotations?.[REVISION]) {
      const next = structuredClone(newRs);
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [REVISION]: String(maxOld + 1) };
      if (d.metadata.annotations?.[CHANGE_CAUSE]) next.metadata.annotations[CHANGE_CAUSE] = d.metadata.annotations[CHANGE_CAUSE];
      out = await this.ctx.client.update(R.replicasets, newRs.metadata.namespace, next);
    }
    await this.setDeploymentRevision(d, String(rev(out ?? newRs)));
    return out;
  }

  private async setDeploymentRevision(d: KObject, revision: string): Promise<void> {
    if (d.metadata.annotations?.[REVISION] === revision) return;
    await this.ctx.client.patch(R.deployments, d.metadata.namespace, d.metadata.name!, { metadata: { annotations: { [REVISION]: revision } } }, 'merge');
  }

  /** Deletes empty old ReplicaSets beyond revisionHistoryLimit, oldest revision first. */
  private async cleanup(d: KObject, olds: KObject[]): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit ?? 10;
    const empty = olds.filter((rs) => specReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp).sort((a, b) => rev(a) - rev(b));
    for (const rs of empty.slice(0, Math.max(0, empty.length - limit))) {
      await this.ctx.client.delete(R.replicasets, rs.metadata.namespace, rs.metadata.name!).catch(() => {});
    }
  }

  private async writeStatus(d: KObject, newRs: KObject | undefined, olds: KObject[], unavailable: number, event?: { reason: string; message: string }): Promise<SyncResult> {
    const now = this.ctx.clock.now();
    const { status, requeueAfterMs } = deploymentStatus(d, newRs, olds, unavailable, now, event);
    if (canonicalJson(d.status ?? {}) !== canonicalJson(status)) {
      await this.ctx.client.update(R.deployments, d.metadata.namespace, { ...d, status }, 'status');
    }
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }
}

