/**
 * The DaemonSet controller: one pod per eligible node (nodeSelector, required node affinity,
 * taints against the pod's tolerations plus the ones every daemon pod gets), following nodes
 * as they come and go. Pods are pinned with a required node affinity on metadata.name and
 * bound by the scheduler, as Kubernetes 1.12+ does. Rolling updates replace old pods within
 * maxUnavailable (or start new ones first within maxSurge); OnDelete waits for the user.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef, ownerRefTo } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { canonicalJson, isPodAvailable, isPodReady, podFromTemplate } from '../pods.js';
import { REVISION_HASH, hashOf, syncRevision, templateOf, truncateHistory } from '../history.js';
import { nodeMatchesPod } from '../../scheduler/plugins/nodeaffinity.js';
import { untolerated } from '../../scheduler/plugins/taints.js';
import { resolveIntOrPercent } from '../deployment/rolling.js';
import { Expectations } from '../runtime/expectations.js';

/** Tolerations every daemon pod gets, as Kubernetes adds them. */
export const DAEMON_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

/** The tolerations of a daemon pod: its template's plus the standard ones it lacks. */
export function daemonTolerations(template: any): any[] {
  const own: any[] = template?.spec?.tolerations ?? [];
  const extra = DAEMON_TOLERATIONS.filter((t) => !own.some((o) => o.key === t.key && (o.effect ?? t.effect) === t.effect));
  return [...own, ...extra, ...(template?.spec?.hostNetwork ? [{ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' }] : [])];
}

/** Should a pod of this template run on this node? */
export function nodeEligible(template: any, node: KObject): boolean {
  if (node.metadata.deletionTimestamp) return false;
  const probe = { metadata: {}, spec: { ...template?.spec, tolerations: daemonTolerations(template) } };
  return nodeMatchesPod(probe, node) && !untolerated(node.spec?.taints ?? [], probe.spec.tolerations);
}

/** The node a daemon pod is for: its binding, or its pinned node affinity. */
export function nodeOfPod(p: KObject): string | undefined {
  if (p.spec?.nodeName) return p.spec.nodeName;
  for (const t of p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    const f = (t.matchFields ?? []).find((x: any) => x.key === 'metadata.name' && x.operator === 'In');
    if (f?.values?.length === 1) return f.values[0];
  }
  return undefined;
}

const live = (p: KObject) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded';

/** Keeps a daemon pod on every eligible node. */
export class DaemonSetController extends LoopController {
  private readonly sets: Informer;
  private readonly nodes: Informer;
  private readonly pods: Informer;
  private readonly revisions: Informer;
  private readonly expectations: Expectations;

  constructor(ctx: ControllerContext) {
    super('daemonset', ctx, 2);
    this.expectations = new Expectations(ctx.clock);
    this.sets = ctx.informers.for(R.daemonsets);
    this.nodes = ctx.informers.for(R.nodes);
    this.pods = ctx.informers.for(R.pods);
    this.revisions = ctx.informers.for(R.controllerrevisions);
    this.sets.addIndex('uid', (s) => [s.metadata.uid]);
    this.revisions.addIndex('owner', (r) => { const o = controllerRef(r); return o ? [o.uid] : []; });
    this.sets.on({ add: (s) => this.loop.enqueue(s), update: (_o, s) => this.loop.enqueue(s) });
    const all = () => { for (const s of this.sets.list()) this.loop.enqueue(s); };
    this.nodes.on({ add: all, update: (o, n) => { if (canonicalJson([o.metadata.labels, o.spec]) !== canonicalJson([n.metadata.labels, n.spec])) all(); }, delete: all });
    const owner = (p: KObject) => {
      const r = controllerRef(p);
      const s = r?.kind === 'DaemonSet' ? this.sets.byIndex('uid', r.uid)[0] : undefined;
      return s && `${s.metadata.namespace}/${s.metadata.name}`;
    };
    this.pods.on({
      add: (p) => { const k = owner(p); if (k) { this.expectations.creationObserved(k); this.loop.enqueue(k); } },
      update: (o, p) => { const k = owner(p); if (k) { if (!o.metadata.deletionTimestamp && p.metadata.deletionTimestamp) this.expectations.deletionObserved(k); this.loop.enqueue(k); } },
      delete: (p) => { const k = owner(p); if (k) { if (!p.metadata.deletionTimestamp) this.expectations.deletionObserved(k); this.loop.enqueue(k); } },
    });
  }

  protected async sync(key: string): Promise<SyncResult> {
    const ds = this.sets.get(key);
    if (!ds || ds.metadata.deletionTimestamp) return;
    const { namespace } = splitKey(key);
    const match = selectorObjectMatcher(ds.spec?.selector);
    const { update, history } = await syncRevision(this.ctx.client, ds, 'DaemonSet', this.revisions.byIndex('owner', ds.metadata.uid));
    const hash = hashOf(update);
    const pods = await claim(this.ctx.client, R.pods, ds, 'apps/v1', 'DaemonSet', this.pods.listNamespace(namespace!), (p) => match(p.metadata.labels ?? {}));
    const byNode = new Map<string, KObject[]>();
    for (const p of pods) {
      const n = nodeOfPod(p);
      if (n) (byNode.get(n) ?? byNode.set(n, []).get(n)!).push(p);
    }
    const nodes = this.nodes.list();
    const eligible = nodes.filter((n) => nodeEligible(ds.spec?.template, n));
    const eligibleNames = new Set(eligible.map((n) => n.metadata.name!));
    const now = this.ctx.clock.now();
    const minReady = ds.spec?.minReadySeconds ?? 0;
    const strategy = ds.spec?.updateStrategy?.type ?? 'RollingUpdate';
    const maxUnavailable = resolveIntOrPercent(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, eligible.length, true, '1');
    const maxSurge = resolveIntOrPercent(ds.spec?.updateStrategy?.rollingUpdate?.maxSurge, eligible.length, true, '0');

    const plan = { create: [] as string[], remove: [] as KObject[] };
    const act = this.expectations.satisfied(key);
    // Pods on nodes that are gone or no longer eligible, failed pods, and duplicates go.
    for (const [node, ps] of act ? byNode : []) {
      const keep = eligibleNames.has(node);
      const alive = ps.filter(live).sort((a, b) => Date.parse(a.metadata.creationTimestamp) - Date.parse(b.metadata.creationTimestamp));
      for (const p of ps) {
        const dup = keep && live(p) && alive.indexOf(p) > 0 && !(maxSurge > 0 && alive.length === 2 && alive.some((x) => x.metadata.labels?.[REVISION_HASH] === hash));
        if (!keep || dup || p.status?.phase === 'Failed') if (!p.metadata.deletionTimestamp) plan.remove.push(p);
      }
    }
    // Every eligible node without a live pod gets one.
    for (const n of act ? eligible : []) {
      if (!(byNode.get(n.metadata.name!) ?? []).some(live)) plan.create.push(n.metadata.name!);
    }
    // Rolling update of nodes whose pod runs an old template.
    if (act && strategy === 'RollingUpdate') {
      const old = eligible.map((n) => (byNode.get(n.metadata.name!) ?? []).filter(live)).filter((ps) => ps.length && !ps.some((p) => p.metadata.labels?.[REVISION_HASH] === hash));
      if (maxSurge > 0) {
        // Surge: start the new pod beside the old one; the old goes once the new is available.
        let budget = maxSurge - eligible.filter((n) => (byNode.get(n.metadata.name!) ?? []).filter(live).length > 1).length;
        for (const ps of old) if (budget-- > 0) plan.create.push(nodeOfPod(ps[0])!);
        for (const n of eligible) {
          const ps = (byNode.get(n.metadata.name!) ?? []).filter(live);
          const fresh = ps.find((p) => p.metadata.labels?.[REVISION_HASH] === hash);
          if (fresh && isPodAvailable(fresh, minReady, now)) for (const p of ps) if (p !== fresh) plan.remove.push(p);
        }
      } else {
        const unavailable = eligible.filter((n) => !(byNode.get(n.metadata.name!) ?? []).some((p) => live(p) && isPodAvailable(p, minReady, now))).length;
        let budget = maxUnavailable - unavailable;
        // Unavailable old pods cost nothing to replace; then available ones within the budget.
        for (const ps of old) if (!ps.some((p) => isPodAvailable(p, minReady, now))) plan.remove.push(...ps);
        for (const ps of old) if (ps.some((p) => isPodAvailable(p, minReady, now)) && budget-- > 0) plan.remove.push(...ps);
      }
    }
    const remove = [...new Set(plan.remove)];
    if (plan.create.length || remove.length) {
      this.expectations.expect(key, plan.create.length, remove.length);
      await Promise.all([
        ...plan.create.map((n) => this.createPod(ds, update, hash, n).catch((err) => { this.expectations.creationObserved(key); throw err; })),
        // A pod already gone will never be seen going: count it now.
        ...remove.map((p) => this.deletePod(ds, p).catch((err) => { this.expectations.deletionObserved(key); if (err?.code !== 404) throw err; })),
      ]);
    }
    const nodePods = (n: KObject) => (byNode.get(n.metadata.name!) ?? []).filter(live);
    const status: any = {
      desiredNumberScheduled: eligible.length,
      currentNumberScheduled: eligible.filter((n) => nodePods(n).length > 0).length,
      numberMisscheduled: [...byNode.keys()].filter((n) => !eligibleNames.has(n) && byNode.get(n)!.some(live)).length,
      numberReady: eligible.filter((n) => nodePods(n).some(isPodReady)).length,
      numberAvailable: eligible.filter((n) => nodePods(n).some((p) => isPodAvailable(p, minReady, now))).length,
      updatedNumberScheduled: eligible.filter((n) => nodePods(n).some((p) => p.metadata.labels?.[REVISION_HASH] === hash)).length,
      observedGeneration: ds.metadata.generation,
    };
    status.numberUnavailable = status.desiredNumberScheduled - status.numberAvailable;
    for (const k of ['numberAvailable', 'numberUnavailable']) if (!status[k]) delete status[k];
    if (ds.status?.collisionCount !== undefined) status.collisionCount = ds.status.collisionCount;
    if (canonicalJson(ds.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.daemonsets, namespace, { ...ds, status }, 'status');
    const inUse = new Set([update.metadata.name!, ...history.filter((r) => pods.some((p) => p.metadata.labels?.[REVISION_HASH] === hashOf(r))).map((r) => r.metadata.name!)]);
    await truncateHistory(this.ctx.client, history, inUse, ds.spec?.revisionHistoryLimit ?? 10);
    return minReady && status.numberReady !== (status.numberAvailable ?? 0) ? { requeueAfterMs: 1000 } : undefined;
  }

  private async createPod(ds: KObject, rev: KObject, hash: string, node: string): Promise<void> {
    const template = templateOf(rev);
    const pod = podFromTemplate(template, ds.metadata.namespace!, ownerRefTo(ds, 'apps/v1', 'DaemonSet'), { generateName: `${ds.metadata.name}-` },
      { [REVISION_HASH]: hash, 'pod-template-generation': String(ds.metadata.generation ?? 1) });
    pod.spec.tolerations = daemonTolerations(template);
    // Pinned to its node by affinity (replacing any required terms), for the scheduler to bind.
    pod.spec.affinity = {
      ...(pod.spec.affinity ?? {}),
      nodeAffinity: {
        ...(pod.spec.affinity?.nodeAffinity ?? {}),
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] },
      },
    };
    try {
      const out = await this.ctx.client.create(R.pods, ds.metadata.namespace, pod);
      this.ctx.recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${out.metadata.name}`);
    } catch (err) {
      this.ctx.recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
      throw err;
    }
  }

  private async deletePod(ds: KObject, p: KObject): Promise<void> {
    await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } });
    this.ctx.recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
  }
}
