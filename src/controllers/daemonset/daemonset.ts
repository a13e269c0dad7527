/**
 * The DaemonSet controller, as kube-controller-manager's: one pod per node that should run it,
 * following nodes as they come, go and change; pods pinned to their node by a required node
 * affinity on metadata.name and bound by the default scheduler (as Kubernetes 1.12+ does);
 * rolling updates within maxUnavailable or maxSurge, OnDelete left to the user; templates
 * recorded as ControllerRevisions for `kubectl rollout history|undo ds`. Decisions are in
 * plan.ts; this module reads the caches, applies the plan and writes the status.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { keyOf, splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef, ownerRefTo } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { Expectations } from '../runtime/expectations.js';
import { canonicalJson, isPodReady, podFromTemplate } from '../pods.js';
import { REVISION_HASH, hashOf, syncRevisions, truncateHistory } from '../history.js';
import { slowStartBatches } from '../replicaset/replicaset.js';
import { daemonTolerations, nodeOfPod, nodeShouldRunDaemonPod, pinnedAffinity } from './nodes.js';
import { TEMPLATE_GENERATION, daemonSetStatus, planDaemonSet, templateGeneration } from './plan.js';

export { DAEMON_TOLERATIONS, daemonTolerations, nodeEligible, nodeOfPod } from './nodes.js';

/** The most pods one sync creates (Kubernetes' DaemonSet burstReplicas). */
const BURST = 250;
/** Backoff of deleting failed pods on one node (failedPodsBackoff: 1 s doubling to 15 min). */
const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 15 * 60_000;

/** Keeps a daemon pod on every node that should run one. */
export class DaemonSetController extends LoopController {
  private readonly sets: Informer;
  private readonly nodes: Informer;
  private readonly pods: Informer;
  private readonly revisions: Informer;
  private readonly expectations: Expectations;
  private readonly backoff = new Map<string, { delay: number; at: number }>();
  /** Pods whose deletion was observed already (by their deletionTimestamp), so their removal is not counted twice. */
  private readonly goingAway = new Set<string>();

  constructor(ctx: ControllerContext) {
    super('daemonset', ctx, 2);
    this.expectations = new Expectations(ctx.clock);
    this.sets = ctx.informers.for(R.daemonsets);
    this.nodes = ctx.informers.for(R.nodes);
    this.pods = ctx.informers.for(R.pods);
    this.revisions = ctx.informers.for(R.controllerrevisions);
    this.sets.addIndex('uid', (s) => [s.metadata.uid]);
    this.revisions.addIndex('owner', (r) => { const o = controllerRef(r); return o ? [o.uid] : []; });
    this.sets.on({ add: (s) => this.loop.enqueue(s), update: (_o, s) => this.loop.enqueue(s), delete: (s) => this.expectations.delete(keyOf(s)) });
    this.nodes.on({
      add: (n) => this.onNode(undefined, n),
      update: (o, n) => this.onNode(o, n),
      // Its pods are the pod garbage collector's; the status changes.
      delete: () => { for (const s of this.sets.list()) this.loop.enqueue(s); },
    });
    this.pods.on({
      add: (p) => { const k = this.owner(p); if (k) { this.expectations.creationObserved(k); this.loop.enqueue(k); } else this.orphan(p); },
      update: (o, p) => {
        const k = this.owner(p);
        if (!k) { this.orphan(p); return; }
        if (p.metadata.deletionTimestamp && !this.goingAway.has(p.metadata.uid)) { this.goingAway.add(p.metadata.uid); this.expectations.deletionObserved(k); }
        this.loop.enqueue(k);
        // With minReadySeconds a pod turning ready becomes available later, unannounced.
        const ds = this.sets.get(k);
        if (ds?.spec?.minReadySeconds && !isPodReady(o) && isPodReady(p)) this.loop.enqueueAfter(k, ds.spec.minReadySeconds * 1000 + 100);
      },
      delete: (p) => {
        const k = this.owner(p);
        if (k && !this.goingAway.has(p.metadata.uid)) this.expectations.deletionObserved(k);
        this.goingAway.delete(p.metadata.uid);
        if (k) this.loop.enqueue(k);
      },
    });
  }

  /** The key of the DaemonSet controlling a pod. */
  private owner(p: KObject): string | undefined {
    const r = controllerRef(p);
    const s = r?.kind === 'DaemonSet' ? this.sets.byIndex('uid', r.uid)[0] : undefined;
    return s && keyOf(s);
  }

  /** An orphan pod may be adopted by the sets of its namespace that select it. */
  private orphan(p: KObject): void {
    if (controllerRef(p)) return;
    for (const s of this.sets.listNamespace(p.metadata.namespace!)) if (selectorObjectMatcher(s.spec?.selector)(p.metadata.labels ?? {})) this.loop.enqueue(s);
  }

  /** A node added, or changed in a way that can change where daemon pods belong (labels, taints, conditions). */
  private onNode(old: KObject | undefined, n: KObject): void {
    const facts = (x: KObject) => canonicalJson([x.metadata.labels, x.spec?.taints, x.spec?.unschedulable, (x.status?.conditions ?? []).map((c: any) => [c.type, c.status])]);
    if (old && facts(old) === facts(n)) return;
    for (const s of this.sets.list()) {
      const was = old ? nodeShouldRunDaemonPod(s.spec?.template, old) : undefined;
      const now = nodeShouldRunDaemonPod(s.spec?.template, n);
      if (!was || was.shouldRun !== now.shouldRun || was.shouldContinueRunning !== now.shouldContinueRunning) this.loop.enqueue(s);
    }
  }

  protected async sync(key: string): Promise<SyncResult> {
    const ds = this.sets.get(key);
    if (!ds) { this.expectations.delete(key); return; }
    if (ds.metadata.deletionTimestamp) return;
    const ns = splitKey(key).namespace!;
    const match = selectorObjectMatcher(ds.spec?.selector);
    const nodes = this.nodes.list();
    const pods = await claim(this.ctx.client, R.pods, ds, 'apps/v1', 'DaemonSet', this.pods.listNamespace(ns), (p) => match(p.metadata.labels ?? {}));
    const revs = await syncRevisions(this.ctx.client, ds, 'DaemonSet', this.revisions.byIndex('owner', ds.metadata.uid));
    const hash = hashOf(revs.update);
    const now = this.ctx.clock.now();
    // Until the cache shows what the last sync did, only the status is written, and the
    // generation is not marked observed (kubectl rollout status waits on it).
    if (!this.expectations.satisfied(key)) return this.writeStatus(ds, nodes, pods, hash, revs.collisionCount, false);
    const plan = planDaemonSet({ ds, nodes, pods, hash, now, failedBackoffMs: (n) => this.backoffLeft(key, n, now) });
    let failure: unknown;
    if (plan.create.length || plan.remove.length) {
      const create = plan.create.slice(0, BURST);
      this.expectations.expect(key, create.length, plan.remove.length);
      for (const p of plan.failed) {
        const node = nodeOfPod(p)!;
        this.nextBackoff(key, node, now);
        this.ctx.recorder.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${p.metadata.namespace}/${p.metadata.name} on node ${node}, will try to kill it`);
      }
      const [c, d] = await Promise.all([this.createPods(ds, key, hash, create), this.deletePods(ds, key, plan.remove)]);
      failure = c ?? d;
    }
    await this.writeStatus(ds, nodes, pods, hash, revs.collisionCount, true);
    const live = new Set([revs.update.metadata.name!, ...revs.history.filter((r) => pods.some((p) => p.metadata.labels?.[REVISION_HASH] === hashOf(r))).map((r) => r.metadata.name!)]);
    await truncateHistory(this.ctx.client, revs.history, live, ds.spec?.revisionHistoryLimit ?? 10);
    if (failure) throw failure;
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }

  private async writeStatus(ds: KObject, nodes: KObject[], pods: KObject[], hash: string, collisionCount: number, observed: boolean): Promise<SyncResult> {
    const status: any = { ...ds.status, ...daemonSetStatus(ds, nodes, pods, hash, this.ctx.clock.now()) };
    if (observed) status.observedGeneration = ds.metadata.generation;
    if (collisionCount || ds.status?.collisionCount !== undefined) status.collisionCount = collisionCount;
    // These are omitempty in apps/v1.
    for (const k of ['updatedNumberScheduled', 'numberAvailable', 'numberUnavailable']) if (!status[k]) delete status[k];
    if (canonicalJson(ds.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.daemonsets, ds.metadata.namespace, { ...ds, status }, 'status');
    // Ready pods become available minReadySeconds later with no event to say so.
    const minReady = ds.spec?.minReadySeconds ?? 0;
    return minReady && status.numberReady !== status.numberAvailable ? { requeueAfterMs: minReady * 1000 } : undefined;
  }

  private backoffLeft(key: string, node: string, now: number): number {
    const b = this.backoff.get(`${key}/${node}`);
    return b && now - b.at < b.delay ? b.delay - (now - b.at) : 0;
  }

  private nextBackoff(key: string, node: string, now: number): void {
    const k = `${key}/${node}`;
    const b = this.backoff.get(k);
    // A backoff idle for twice the maximum starts over, as client-go's.
    const delay = !b || now - b.at > 2 * BACKOFF_MAX_MS ? BACKOFF_INITIAL_MS : Math.min(b.delay * 2, BACKOFF_MAX_MS);
    this.backoff.set(k, { delay, at: now });
  }

  /** Creates pods for `nodes` in slow-start batches (1, 2, 4, ...), stopping at the first failing batch. */
  private async createPods(ds: KObject, key: string, hash: string, nodes: string[]): Promise<unknown> {
    const template = structuredClone(ds.spec?.template ?? {});
    template.spec = { ...template.spec, tolerations: daemonTolerations(template) };
    const generation = templateGeneration(ds) ?? String(ds.metadata.generation ?? 1);
    let next = 0;
    for (const size of slowStartBatches(nodes.length)) {
      const batch = nodes.slice(next, next + size);
      next += size;
      const results = await Promise.allSettled(batch.map(async (node) => {
        const pod = podFromTemplate(template, ds.metadata.namespace!, ownerRefTo(ds, 'apps/v1', 'DaemonSet'), { generateName: `${ds.metadata.name}-` },
          { [TEMPLATE_GENERATION]: generation, [REVISION_HASH]: hash });
        pod.spec.affinity = pinnedAffinity(pod.spec.affinity, node);
        return this.ctx.client.create(R.pods, ds.metadata.namespace, pod);
      }));
      let failure: unknown;
      for (const r of results) {
        if (r.status === 'fulfilled') { this.ctx.recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`); continue; }
        this.expectations.creationObserved(key);
        failure ??= r.reason;
        this.ctx.recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${(r.reason as Error).message}`);
      }
      if (failure) {
        // The batches never sent will never be observed.
        for (let i = next; i < nodes.length; i++) this.expectations.creationObserved(key);
        return failure;
      }
    }
    return undefined;
  }

  private async deletePods(ds: KObject, key: string, pods: KObject[]): Promise<unknown> {
    let failure: unknown;
    await Promise.all(pods.map(async (p) => {
      try {
        await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } });
        this.ctx.recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
      } catch (err) {
        // A pod already gone will never be seen going.
        this.expectations.deletionObserved(key);
        if (err instanceof ApiStatusError && err.code === 404) return;
        failure ??= err;
        this.ctx.recorder.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
      }
    }));
    return failure;
  }
}
