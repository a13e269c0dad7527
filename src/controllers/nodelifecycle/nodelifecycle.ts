/**
 * Node lifecycle, as kube-controller-manager's node lifecycle and pod GC controllers:
 * - a node whose Lease (kube-node-lease) has not been renewed within the grace period gets
 *   its conditions set to Unknown ("Kubelet stopped posting node status.");
 * - taints follow the Ready condition and spec.unschedulable: node.kubernetes.io/unreachable
 *   and not-ready (NoSchedule and NoExecute), node.kubernetes.io/unschedulable (NoSchedule);
 * - pods on a node with a NoExecute taint they do not tolerate are deleted at once, those that
 *   tolerate it for tolerationSeconds when that time is up (taint-based eviction);
 * - pods bound to a node that no longer exists are deleted (pod GC).
 * Lease freshness is judged by when this controller saw the renewTime change, not by the
 * agent's clock, so skew between machines cannot mark a node dead.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import type { Informer } from '../runtime/informer.js';
import { rfc3339, type TimerHandle } from '../runtime/clock.js';
import { toleration } from '../../scheduler/plugins/taints.js';

/** Taint keys this controller manages. */
export const TAINT = {
  unreachable: 'node.kubernetes.io/unreachable',
  notReady: 'node.kubernetes.io/not-ready',
  unschedulable: 'node.kubernetes.io/unschedulable',
} as const;

const MANAGED = new Set<string>(Object.values(TAINT));

/** Options (ms). */
export interface NodeLifecycleTuning { nodeMonitorGracePeriodMs?: number; nodeMonitorPeriodMs?: number }

/** The taints a node should carry for its Ready condition and schedulability (timeAdded kept from `cur`). */
export function desiredTaints(node: KObject, now: string): any[] {
  const ready = (node.status?.conditions ?? []).find((c: any) => c.type === 'Ready')?.status;
  const keep = (node.spec?.taints ?? []).filter((t: any) => !MANAGED.has(t.key));
  const want: any[] = [];
  if (ready === 'Unknown') want.push({ key: TAINT.unreachable, effect: 'NoSchedule' }, { key: TAINT.unreachable, effect: 'NoExecute' });
  else if (ready === 'False') want.push({ key: TAINT.notReady, effect: 'NoSchedule' }, { key: TAINT.notReady, effect: 'NoExecute' });
  if (node.spec?.unschedulable) want.push({ key: TAINT.unschedulable, effect: 'NoSchedule' });
  const cur = node.spec?.taints ?? [];
  return [...keep, ...want.map((t) => {
    const had = cur.find((c: any) => c.key === t.key && c.effect === t.effect);
    return t.effect === 'NoExecute' ? { ...t, timeAdded: had?.timeAdded ?? now } : t;
  })];
}

/** When (ms) a pod must leave a node with these NoExecute taints: now, a time, or never (undefined). */
export function evictionTime(pod: KObject, taints: any[], nowMs: number): number | undefined {
  let at: number | undefined;
  for (const t of taints) {
    if (t.effect !== 'NoExecute') continue;
    // As Kubernetes' GetMatchingTolerations: the first toleration that matches a taint is the
    // one that counts for it; without tolerationSeconds it tolerates the taint forever.
    const tol = (pod.spec?.tolerations ?? []).find((x: any) => toleration(x, t));
    if (!tol) return nowMs;
    if (tol.tolerationSeconds === undefined || tol.tolerationSeconds === null) continue;
    const secs = Math.max(0, Number(tol.tolerationSeconds));
    const added = Date.parse(t.timeAdded ?? '') || nowMs;
    const when = added + secs * 1000;
    at = at === undefined ? when : Math.min(at, when);
  }
  return at;
}

/** Marks silent nodes Unknown, keeps taints true, evicts and garbage-collects pods. */
export class NodeLifecycleController extends LoopController {
  private readonly nodes: Informer;
  private readonly leases: Informer;
  private readonly pods: Informer;
  private readonly observed = new Map<string, { renew: string; at: number }>();
  private ticker?: TimerHandle;
  private readonly grace: number;
  private readonly period: number;

  constructor(ctx: ControllerContext, tuning: NodeLifecycleTuning = {}) {
    super('nodelifecycle', ctx, 2);
    this.grace = tuning.nodeMonitorGracePeriodMs ?? 40_000;
    this.period = tuning.nodeMonitorPeriodMs ?? Math.min(5000, Math.max(200, this.grace / 5));
    this.nodes = ctx.informers.for(R.nodes);
    this.leases = ctx.informers.for(R.leases, 'kube-node-lease');
    this.pods = ctx.informers.for(R.pods);
    this.pods.addIndex('node', (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []));
    this.nodes.on({ add: (n) => this.loop.enqueue(n), update: (_o, n) => this.loop.enqueue(n), delete: (n) => this.loop.enqueue(n) });
    this.leases.on({ add: (l) => this.loop.enqueue(l.metadata.name!), update: (_o, l) => this.loop.enqueue(l.metadata.name!) });
    this.pods.on({ add: (p) => { if (p.spec?.nodeName) this.loop.enqueue(p.spec.nodeName); } });
  }

  /** Starts the workers and the periodic health check. */
  override run(): this {
    super.run();
    const tick = () => {
      for (const n of this.nodes.list()) this.loop.enqueue(n);
      this.ticker = this.ctx.clock.after(this.period, tick);
    };
    this.ticker = this.ctx.clock.after(this.period, tick);
    return this;
  }

  /** Stops. */
  override stop(): void { this.ticker?.cancel(); super.stop(); }

  protected async sync(name: string): Promise<SyncResult> {
    const node = this.nodes.get(name);
    const now = this.ctx.clock.now();
    if (!node) {
      // Pod GC: pods bound to a node that is gone.
      this.observed.delete(name);
      for (const p of this.pods.byIndex('node', name)) {
        await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } }).catch(() => {});
      }
      return;
    }
    let cur = node;
    // Health: when did we last see the lease (or, without one, a heartbeat) move?
    const lease = this.leases.get(`kube-node-lease/${name}`);
    const ready = (node.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
    const renew = lease?.spec?.renewTime ?? ready?.lastHeartbeatTime ?? node.metadata.creationTimestamp ?? '';
    const seen = this.observed.get(name);
    if (!seen || seen.renew !== renew) this.observed.set(name, { renew, at: now });
    const silentFor = now - this.observed.get(name)!.at;
    if (silentFor > this.grace && ready?.status !== 'Unknown') {
      const ts = rfc3339(now);
      const conds = (node.status?.conditions ?? []).map((c: any) => (['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'].includes(c.type)
        ? { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: ts } : c));
      if (!conds.some((c: any) => c.type === 'Ready')) conds.push({ type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: ts, lastTransitionTime: ts });
      cur = await this.ctx.client.update(R.nodes, undefined, { ...node, status: { ...node.status, conditions: conds } }, 'status');
      this.ctx.recorder.event(node, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
    }
    const taints = desiredTaints(cur, rfc3339(now));
    const same = JSON.stringify(taints.map((t) => [t.key, t.effect, t.value])) === JSON.stringify((cur.spec?.taints ?? []).map((t: any) => [t.key, t.effect, t.value]));
    if (!same) cur = await this.ctx.client.update(R.nodes, undefined, { ...cur, spec: { ...cur.spec, taints: taints.length ? taints : undefined } });
    // Taint-based eviction.
    let next: number | undefined;
    const noExec = (cur.spec?.taints ?? []).filter((t: any) => t.effect === 'NoExecute');
    if (noExec.length) {
      for (const p of this.pods.byIndex('node', name)) {
        if (p.metadata.deletionTimestamp || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
        const at = evictionTime(p, noExec, now);
        if (at === undefined) continue;
        if (at <= now) {
          this.ctx.recorder.event(p, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${p.metadata.namespace}/${p.metadata.name}`);
          await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } }).catch(() => {});
        } else next = next === undefined ? at : Math.min(next, at);
      }
    }
    return next !== undefined ? { requeueAfterMs: next - now } : undefined;
  }
}

