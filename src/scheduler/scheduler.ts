/**
 * The scheduler: an API client that watches pods, nodes, PriorityClasses and
 * PodDisruptionBudgets, keeps a cache of nodes and the pods placed on them, and for each
 * unscheduled pod (schedulerName default-scheduler) runs a cycle of the plugin framework,
 * then binds through pods/binding. A bound pod is "assumed" in the cache at once, so the next
 * cycle sees its resources taken without waiting for the watch; binds run concurrently.
 * A pod that fits nowhere gets PodScheduled=False with kube-scheduler's message and a
 * FailedScheduling event, may preempt lower-priority pods, and is retried when the cluster
 * changes.
 */
import type { KObject } from '../client/client.js';
import { ApiStatusError } from '../client/client.js';
import { R } from '../client/resources.js';
import type { ControllerContext } from '../controllers/runtime/controller.js';
import { keyOf, type Informer } from '../controllers/runtime/informer.js';
import { rfc3339 } from '../controllers/runtime/clock.js';
import { NodeInfo } from './nodeinfo.js';
import type { CycleState, Plugin, Snapshot, Status } from './framework.js';
import { DEFAULT_PLUGINS } from './plugins/index.js';
import { defaultBinder } from './plugins/binder.js';
import { volumeBinding } from './plugins/volumebinding.js';
import { NO_NODES, runCycle } from './cycle.js';
import { defaultPreemption, priorityOf } from './preemption.js';
import { SchedulingQueue, type QueueOptions } from './queue.js';
import { SchedulerMetrics } from './metrics.js';

/** The schedulerName this scheduler serves. */
export const SCHEDULER_NAME = 'default-scheduler';

/** Options of the scheduler. */
export interface SchedulerOptions {
  /**
   * The plugins (default DEFAULT_PLUGINS). DefaultPreemption and DefaultBinder are added when
   * no plugin of the set has a postFilter or a bind.
   */
  plugins?: Plugin[];
  queue?: QueueOptions;
  /** Binding requests in flight at once (default 64). */
  maxBinds?: number;
}

/** Counters, for tests and the benchmark. */
export interface SchedulerStats { scheduled: number; unschedulable: number; preemptions: number; bindErrors: number }

/** kube-scheduler's counterpart. */
export class Scheduler {
  private readonly pods: Informer;
  private readonly nodes: Informer;
  private readonly classes: Informer;
  private readonly pdbs: Informer;
  private readonly infos = new Map<string, NodeInfo>();
  private readonly placed = new Map<string, string>();
  private readonly assumed = new Set<string>();
  /** Pods nominated to a node by preemption (key -> node), counted there for pods of lower priority. */
  private readonly nominated = new Map<string, string>();
  private readonly queue: SchedulingQueue;
  private readonly plugins: Plugin[];
  private readonly metrics: SchedulerMetrics;
  /** Caches plugins need filled before the first cycle (VolumeBinding's claims, volumes, classes). */
  private readonly pluginsSynced: Promise<unknown>;
  private binds = 0;
  private bindWaiters: (() => void)[] = [];
  private stopped = false;
  /** What the scheduler has done so far. */
  readonly stats: SchedulerStats = { scheduled: 0, unschedulable: 0, preemptions: 0, bindErrors: 0 };

  constructor(private readonly ctx: ControllerContext, private readonly opts: SchedulerOptions = {}) {
    const vb = opts.plugins ? undefined : volumeBinding(ctx.informers, ctx.clock, () => this.queue.moveAllToActive());
    const base = opts.plugins ?? [...DEFAULT_PLUGINS, vb!];
    this.pluginsSynced = vb?.synced ?? Promise.resolve();
    this.plugins = [
      ...base,
      ...(base.some((p) => p.postFilter) ? [] : [defaultPreemption(() => this.plugins, () => this.pdbs.list())]),
      ...(base.some((p) => p.bind) ? [] : [defaultBinder]),
    ];
    this.queue = new SchedulingQueue(ctx.clock, opts.queue);
    this.metrics = new SchedulerMetrics(ctx.metrics, ctx.clock, () => this.queue.sizes);
    this.pods = ctx.informers.for(R.pods);
    this.nodes = ctx.informers.for(R.nodes);
    this.classes = ctx.informers.for(R.priorityclasses);
    this.pdbs = ctx.informers.for(R.poddisruptionbudgets);
    this.nodes.on({
      add: (n) => { this.nodeChanged(n); },
      update: (o, n) => { this.nodeChanged(n, o); },
      delete: (n) => { this.infos.delete(n.metadata.name!); },
    });
    this.pods.on({ add: (p) => this.podChanged(p), update: (o, p) => this.podChanged(p, o), delete: (p) => this.podDeleted(p) });
  }

  /** Starts scheduling once the caches are filled. */
  run(): this {
    void (async () => {
      await Promise.all([this.pods.synced, this.nodes.synced, this.classes.synced, this.pluginsSynced]);
      for (let n = 1; !this.stopped; n++) {
        const key = await this.queue.pop();
        if (key === undefined) return;
        try { this.scheduleOne(key); } catch (err) { this.ctx.log.error({ pod: key, err: String(err) }, 'scheduling failed'); }
        // Let watch events and bind answers in between long runs of cycles.
        if (n % 8 === 0) await new Promise((r) => setImmediate(r));
        while (this.binds >= (this.opts.maxBinds ?? 64)) await new Promise<void>((r) => this.bindWaiters.push(r));
      }
    })();
    return this;
  }

  /** Stops scheduling (binds in flight finish). */
  stop(): void {
    this.stopped = true;
    this.queue.close();
  }

  /**
   * The pod with spec.priority (and preemptionPolicy) filled from its PriorityClass, or the
   * globalDefault class, when the API server's admission has not done it already.
   */
  private priority(pod: KObject): KObject {
    if (pod.spec?.priority !== undefined) return pod;
    const name = pod.spec?.priorityClassName;
    const pc = name ? this.classes.get(name) : this.classes.list().find((c) => c.globalDefault);
    if (!pc) return pod;
    return { ...pod, spec: { ...pod.spec, priority: pc.value ?? 0, preemptionPolicy: pod.spec?.preemptionPolicy ?? pc.preemptionPolicy ?? 'PreemptLowerPriority' } };
  }

  private nodeChanged(n: KObject, old?: KObject): void {
    const name = n.metadata.name!;
    const info = this.infos.get(name);
    if (info) {
      info.setNode(n);
      // Only what a filter reads can make a parked pod fit (not heartbeats or conditions).
      const seen = (x: KObject) => JSON.stringify([x.metadata.labels, x.spec?.taints, x.spec?.unschedulable, x.status?.allocatable ?? x.status?.capacity]);
      if (old && seen(old) === seen(n)) return;
    }
    else {
      const fresh = new NodeInfo(n);
      // Pods bound before their node was seen.
      for (const p of this.pods.list()) if (p.spec?.nodeName === name && counts(p)) { fresh.addPod(keyOf(p), this.priority(p)); this.placed.set(keyOf(p), name); }
      this.infos.set(name, fresh);
    }
    this.queue.moveAllToActive();
  }

  private unplace(key: string): boolean {
    const node = this.placed.get(key);
    if (node === undefined) return false;
    this.infos.get(node)?.removePod(key);
    this.placed.delete(key);
    this.assumed.delete(key);
    return true;
  }

  private podChanged(p: KObject, old?: KObject): void {
    const key = keyOf(p);
    if (p.spec?.nodeName) {
      this.queue.delete(key);
      this.nominated.delete(key);
      if (!this.assumed.has(key)) this.metrics.forget(key);
      if (!counts(p)) { if (this.unplace(key)) this.queue.moveAllToActive(); return; }
      if (this.placed.get(key) !== p.spec.nodeName) this.unplace(key);
      this.assumed.delete(key);
      this.placed.set(key, p.spec.nodeName);
      this.infos.get(p.spec.nodeName)?.addPod(key, this.priority(p));
      return;
    }
    // Not bound (yet): an assumed pod whose watch event lags keeps its place.
    if (this.assumed.has(key)) return;
    // A nomination made before (by an earlier run of the scheduler) still holds room.
    if (p.status?.nominatedNodeName && !this.nominated.has(key)) this.nominated.set(key, p.status.nominatedNodeName);
    if ((p.spec?.schedulerName ?? SCHEDULER_NAME) !== SCHEDULER_NAME) return;
    if (p.metadata.deletionTimestamp) { this.queue.delete(key); this.metrics.forget(key); return; }
    const prio = this.priority(p).spec?.priority ?? 0;
    // New pods go to the active queue; a parked pod gets another try when its spec or labels
    // change (not its status: our own PodScheduled=False write must not loop).
    if (!old) { this.queue.add(key, prio); this.metrics.queued(key); }
    else if (JSON.stringify([old.spec, old.metadata.labels]) !== JSON.stringify([p.spec, p.metadata.labels])) this.queue.update(key, prio);
  }

  private podDeleted(p: KObject): void {
    const key = keyOf(p);
    this.queue.delete(key);
    this.nominated.delete(key);
    this.metrics.forget(key);
    if (this.unplace(key)) this.queue.moveAllToActive();
  }

  /**
   * The cache as `pod`'s cycle sees it: pods nominated to a node by an earlier preemption, of at
   * least this pod's priority, count there as if placed (kube-scheduler's
   * RunFilterPluginsWithNominatedPods), so the room preemption made is not taken by others.
   */
  private snapshot(pod?: KObject, key?: string): Snapshot {
    let nodes = [...this.infos.values()];
    if (pod && this.nominated.size) {
      const extra = new Map<string, NodeInfo>();
      for (const [k, node] of this.nominated) {
        const p = this.pods.get(k);
        const info = this.infos.get(node);
        if (k === key || !p || !info || p.spec?.nodeName || priorityOf(this.priority(p)) < priorityOf(pod)) continue;
        let c = extra.get(node);
        if (!c) { c = info.clone(); extra.set(node, c); }
        c.addPod(k, this.priority(p));
      }
      if (extra.size) nodes = nodes.map((n) => extra.get(n.name) ?? n);
    }
    const byName = new Map(nodes.map((n) => [n.name, n]));
    return { nodes, get: (n) => byName.get(n), havePodsWithAffinity: nodes.filter((n) => n.podsWithAffinity > 0) };
  }

  private scheduleOne(key: string): void {
    const raw = this.pods.get(key);
    if (!raw || raw.spec?.nodeName || raw.metadata.deletionTimestamp || this.assumed.has(key)) return;
    const pod = this.priority(raw);
    const prio = pod.spec?.priority ?? 0;
    const started = this.metrics.attempt(key);
    const snap = this.snapshot(pod, key);
    const state: CycleState = new Map();
    const res = runCycle(this.plugins, pod, snap, Math.random, state);
    if (res.node !== undefined) {
      const failed = this.reserve(state, pod, res.node);
      if (failed) {
        this.metrics.failed(started, failed.code === 'Error' ? 'error' : 'unschedulable');
        this.queue.retryLater(key, prio);
        void this.reportUnschedulable(raw, `0/${snap.nodes.length} nodes are available: ${failed.reasons.join(', ')}.`, failed.code === 'Error' ? 'SchedulerError' : 'Unschedulable');
        return;
      }
      // Assume: the node counts the pod now, before the API answers and the watch confirms.
      const bound = { ...pod, spec: { ...pod.spec, nodeName: res.node } };
      this.infos.get(res.node)!.addPod(key, bound);
      this.placed.set(key, res.node);
      this.assumed.add(key);
      void this.bind(state, key, pod, res.node, prio, started);
      return;
    }
    this.stats.unschedulable++;
    this.metrics.failed(started, 'unschedulable');
    let message = res.message;
    let nominate: string | undefined;
    let keep = false;
    if (res.message !== NO_NODES) {
      for (const p of this.plugins) {
        const r = p.postFilter?.(state, pod, snap, res.statuses);
        if (!r) continue;
        this.metrics.preemption(r.code === 'Success' && r.nominatedNode ? r.victims?.length ?? 0 : undefined);
        if (r.code === 'Success' && r.nominatedNode) {
          nominate = r.nominatedNode;
          this.stats.preemptions++;
          this.nominated.set(key, r.nominatedNode);
          void this.preempt(pod, r.nominatedNode, r.victims ?? []);
          break;
        }
        if (r.message) message += ` ${r.message}`;
        keep = !!r.keepNomination;
        if (r.code !== 'Unschedulable') break;
      }
    }
    // A freshly nominated pod retries after its backoff; the others park until the cluster
    // changes (a victim's deletion is such a change).
    if (nominate) this.queue.retryLater(key, prio);
    else {
      if (!keep) this.nominated.delete(key);
      this.queue.park(key, prio);
    }
    void this.reportUnschedulable(raw, message, 'Unschedulable', nominate === undefined && !keep);
  }

  /** Runs the reserve plugins; on a failure, unreserves those that ran and returns the status. */
  private reserve(state: CycleState, pod: KObject, node: string): Status | undefined {
    const done: Plugin[] = [];
    for (const p of this.plugins) {
      if (!p.reserve) continue;
      const s = p.reserve(state, pod, node);
      done.push(p);
      if (s.code !== 'Success') {
        for (const q of done.reverse()) q.unreserve?.(state, pod, node);
        return s;
      }
    }
    return undefined;
  }

  private async bind(state: CycleState, key: string, pod: KObject, node: string, prio: number, started: number): Promise<void> {
    this.binds++;
    const { namespace, name } = pod.metadata;
    try {
      for (const p of this.plugins) {
        const s = await p.preBind?.(state, pod, node, this.ctx.client);
        if (s && s.code !== 'Success') throw new Error(s.reasons.join(', '));
      }
      let status: Status | undefined;
      for (const p of this.plugins) {
        if (p.bind && (status = await p.bind(pod, node, this.ctx.client))) break;
      }
      if (!status) throw new Error('no bind plugin bound the pod');
      if (status.code !== 'Success') throw new Error(status.reasons.join(', '));
      this.stats.scheduled++;
      this.metrics.scheduled(key, started);
      this.queue.forget(key);
      this.ctx.recorder.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${node}`);
    } catch (err) {
      this.stats.bindErrors++;
      this.metrics.failed(started, 'error');
      for (const p of [...this.plugins].reverse()) p.unreserve?.(state, pod, node);
      this.unplace(key);
      const gone = err instanceof ApiStatusError && (err.code === 404 || (err.code === 409 && /already assigned|being deleted/.test(err.message)));
      if (!gone) {
        this.ctx.log.warn({ pod: key, node, err: String(err) }, 'binding failed');
        this.queue.retryLater(key, prio);
      }
    } finally {
      this.binds--;
      this.bindWaiters.shift()?.();
    }
  }

  /**
   * Carries out a preemption as kube-scheduler's prepareCandidate: each victim gets a
   * DisruptionTarget=True condition (reason PreemptionByScheduler) and is deleted (gracefully:
   * its node agent finishes it), then the preemptor is nominated to the node.
   */
  private async preempt(pod: KObject, node: string, victims: KObject[]): Promise<void> {
    const { namespace, name } = pod.metadata;
    try {
      await Promise.all(victims.map(async (v) => {
        if (v.metadata.deletionTimestamp) return;
        const cond = {
          type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler', lastProbeTime: null, lastTransitionTime: rfc3339(this.ctx.clock.now()),
          message: `${pod.spec?.schedulerName || SCHEDULER_NAME}: preempting to accommodate a higher priority pod`,
        };
        await this.ctx.client.patch(R.pods, v.metadata.namespace, v.metadata.name!, { status: { conditions: [cond] } }, 'strategic', { subresource: 'status' }).catch(() => {});
        await this.ctx.client.delete(R.pods, v.metadata.namespace, v.metadata.name!, { preconditions: { uid: v.metadata.uid } }).catch(() => {});
        this.ctx.recorder.event(v, 'Normal', 'Preempted', `Preempted by pod ${pod.metadata.uid} on node ${node}`);
      }));
      await this.ctx.client.patch(R.pods, namespace, name!, { status: { nominatedNodeName: node } }, 'merge', { subresource: 'status' });
    } catch (err) {
      this.ctx.log.warn({ pod: `${namespace}/${name}`, err: String(err) }, 'preemption failed');
    }
  }

  /**
   * PodScheduled=False with the reason and message (only when they change, so a parked pod's
   * retries do not rewrite it), and a FailedScheduling event each time. `clearNomination`
   * drops a nominatedNodeName preemption no longer stands by.
   */
  private async reportUnschedulable(pod: KObject, message: string, reason = 'Unschedulable', clearNomination = false): Promise<void> {
    this.ctx.recorder.event(pod, 'Warning', 'FailedScheduling', message);
    const cur = (pod.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled');
    const clear = clearNomination && !!pod.status?.nominatedNodeName;
    if (cur?.status === 'False' && cur.reason === reason && cur.message === message && !clear) return;
    const since = cur?.status === 'False' && cur.lastTransitionTime ? cur.lastTransitionTime : rfc3339(this.ctx.clock.now());
    const cond = { type: 'PodScheduled', status: 'False', reason, message, lastProbeTime: null, lastTransitionTime: since };
    const status = { conditions: [cond], ...(clear ? { nominatedNodeName: null } : {}) };
    await this.ctx.client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, { status }, 'strategic', { subresource: 'status' }).catch(() => {});
  }
}

/** Does a bound pod take up room? Finished pods do not. */
function counts(p: KObject): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}
