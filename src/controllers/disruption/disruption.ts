/**
 * The disruption controller: keeps each PodDisruptionBudget's status true — the pods it
 * selects, how many are healthy (Ready, not terminating), how many must stay healthy
 * (minAvailable, or expected minus maxUnavailable; percentages of the expected count from the
 * pods' controllers' replica counts, rounded up), and so how many disruptions the eviction API
 * may grant now. Evictions recorded in status.disruptedPods count as already gone until the
 * pod is seen terminating or two minutes pass.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef } from '../runtime/owners.js';
import { rfc3339 } from '../runtime/clock.js';
import { canonicalJson, isPodReady } from '../pods.js';

const DISRUPTED_TTL_MS = 2 * 60_000;

/** An int-or-percent against `total`, rounded up (as the PDB controller rounds). */
export function scaled(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  return m ? Math.ceil((Number(m[1]) * total) / 100) : Number(v) || 0;
}

/** desiredHealthy and expectedPods of a budget. */
export function budget(spec: any, selected: number, expectedFromControllers: number): { desiredHealthy: number; expectedPods: number } {
  if (spec?.maxUnavailable !== undefined) {
    const expected = expectedFromControllers;
    return { desiredHealthy: Math.max(0, expected - scaled(spec.maxUnavailable, expected)), expectedPods: expected };
  }
  const min = spec?.minAvailable ?? 1;
  if (typeof min === 'number') return { desiredHealthy: min, expectedPods: selected };
  return { desiredHealthy: scaled(min, expectedFromControllers), expectedPods: expectedFromControllers };
}

/** Keeps PodDisruptionBudget status current. */
export class DisruptionController extends LoopController {
  private readonly pdbs: Informer;
  private readonly pods: Informer;
  private readonly owners: Map<string, Informer>;

  constructor(ctx: ControllerContext) {
    super('disruption', ctx, 2);
    this.pdbs = ctx.informers.for(R.poddisruptionbudgets);
    this.pods = ctx.informers.for(R.pods);
    this.owners = new Map([['ReplicaSet', ctx.informers.for(R.replicasets)], ['StatefulSet', ctx.informers.for(R.statefulsets)], ['ReplicationController', ctx.informers.for(R.replicationcontrollers)], ['Deployment', ctx.informers.for(R.deployments)]]);
    for (const inf of this.owners.values()) inf.addIndex('uid', (o) => [o.metadata.uid]);
    this.pdbs.on({ add: (p) => this.loop.enqueue(p), update: (_o, p) => this.loop.enqueue(p) });
    const onPod = (p: KObject) => {
      for (const b of this.pdbs.listNamespace(p.metadata.namespace!)) if (selectorObjectMatcher(b.spec?.selector ?? {})(p.metadata.labels ?? {})) this.loop.enqueue(b);
    };
    this.pods.on({ add: onPod, update: (_o, p) => onPod(p), delete: onPod });
  }

  /**
   * The replica count the pods' controllers want, each controller once, as Kubernetes' finders
   * resolve it: a ReplicaSet owned by a Deployment counts the Deployment's replicas (during a
   * rollout its ReplicaSets' counts add up to more). `orphan` names a pod with no controller
   * we know, for which percentages and maxUnavailable cannot be resolved.
   */
  private expectedOf(pods: KObject[]): { expected: number; orphan?: string } {
    const seen = new Map<string, number>();
    let orphan: string | undefined;
    const find = (kind: string, uid: string) => this.owners.get(kind)?.byIndex('uid', uid)[0];
    for (const p of pods) {
      const ref = controllerRef(p);
      let owner = ref && find(ref.kind, ref.uid);
      const up = owner && ref!.kind === 'ReplicaSet' ? controllerRef(owner) : undefined;
      if (up?.kind === 'Deployment') owner = find('Deployment', up.uid);
      if (owner) seen.set(owner.metadata.uid, owner.spec?.replicas ?? 1);
      else orphan ??= p.metadata.name;
    }
    return { expected: [...seen.values()].reduce((a, b) => a + b, 0), orphan };
  }

  protected async sync(key: string): Promise<SyncResult> {
    const pdb = this.pdbs.get(key);
    if (!pdb) return;
    const { namespace } = splitKey(key);
    const now = this.ctx.clock.now();
    const match = selectorObjectMatcher(pdb.spec?.selector ?? {});
    const pods = pdb.spec?.selector ? this.pods.listNamespace(namespace!).filter((p) => match(p.metadata.labels ?? {})) : [];
    // Evicted pods not yet seen going still count as gone, for a while.
    const disrupted: Record<string, string> = {};
    for (const [name, at] of Object.entries(pdb.status?.disruptedPods ?? {})) {
      const p = pods.find((x) => x.metadata.name === name);
      if (p && !p.metadata.deletionTimestamp && Date.parse(at as string) + DISRUPTED_TTL_MS > now) disrupted[name] = at as string;
    }
    const healthy = pods.filter((p) => !p.metadata.deletionTimestamp && isPodReady(p) && !disrupted[p.metadata.name!]).length;
    const { expected, orphan } = this.expectedOf(pods);
    const prev = (pdb.status?.conditions ?? []).find((c: any) => c.type === 'DisruptionAllowed');
    if (orphan && (pdb.spec?.maxUnavailable !== undefined || typeof pdb.spec?.minAvailable === 'string')) {
      // As failSafe: no disruption is allowed while the expected count cannot be known.
      const message = `found no controllers for pod "${orphan}"`;
      this.ctx.recorder.event(pdb, 'Warning', 'NoControllers', message);
      const status = { ...pdb.status, disruptionsAllowed: 0, conditions: [{
        type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message, observedGeneration: pdb.status?.observedGeneration ?? 0,
        lastTransitionTime: prev?.status === 'False' ? prev.lastTransitionTime : rfc3339(now),
      }] };
      if (canonicalJson(pdb.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.poddisruptionbudgets, namespace, { ...pdb, status }, 'status');
      return;
    }
    const { desiredHealthy, expectedPods } = budget(pdb.spec, pods.length, expected);
    // Nothing expected (no pods, or controllers scaled to zero) allows nothing, as Kubernetes.
    const allowed = expectedPods <= 0 ? 0 : Math.max(0, healthy - desiredHealthy);
    const condStatus = allowed > 0 ? 'True' : 'False';
    const status: any = {
      observedGeneration: pdb.metadata.generation, disruptionsAllowed: allowed, currentHealthy: healthy, desiredHealthy, expectedPods,
      ...(Object.keys(disrupted).length ? { disruptedPods: disrupted } : {}),
      conditions: [{
        type: 'DisruptionAllowed', status: condStatus, reason: allowed > 0 ? 'SufficientPods' : 'InsufficientPods', message: '',
        observedGeneration: pdb.metadata.generation, lastTransitionTime: prev?.status === condStatus ? prev.lastTransitionTime : rfc3339(now),
      }],
    };
    if (canonicalJson(pdb.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.poddisruptionbudgets, namespace, { ...pdb, status }, 'status');
    return Object.keys(disrupted).length ? { requeueAfterMs: DISRUPTED_TTL_MS } : undefined;
  }
}
