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
import { ApiStatusError, resourcePath } from '../client/client.js';
import { R } from '../client/resources.js';
import type { ControllerContext } from '../controllers/runtime/controller.js';
import { keyOf, type Informer } from '../controllers/runtime/informer.js';
import { rfc3339 } from '../controllers/runtime/clock.js';
import { NodeInfo } from './nodeinfo.js';
import type { Plugin, Snapshot } from './framework.js';
import { DEFAULT_PLUGINS } from './plugins/index.js';
import { runCycle } from './cycle.js';
import { findPreemption } from './preemption.js';
import { SchedulingQueue, type QueueOptions } from './queue.js';

/** The schedulerName this scheduler serves. */
export const SCHEDULER_NAME = 'default-scheduler';

/** Options of the scheduler. */
export interface SchedulerOptions {
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
  private readonly queue: SchedulingQueue;
  private readonly plugins: Plugin[];
  private binds = 0;
  private bindWaiters: (() => void)[] = [];
  private stopped = false;
  /** What the scheduler has done so far. */
  readonly stats: SchedulerStats = { scheduled: 0, unschedulable: 0, preemptions: 0, bindErrors: 0 };

  constructor(private readonly ctx: ControllerContext, _tuning: unknown = {}, private readonly opts: SchedulerOptions = {}) {
    this.plugins = opts.plugins ?? DEFAULT_PLUGINS;
    this.queue = new SchedulingQueue(ctx.clock, opts.queue);
    this.pods = ctx.informers.for(R.pods);
    this.nodes = ctx.informers.for(R.nodes);
    this.classes = ctx.informers.for(R.priorityclasses);
    this.pdbs = ctx.informers.for(R.poddisruptionbudgets);
    this.nodes.on({
      add: (n) => { this.nodeChanged(n); },
      update: (_o, n) => { this.nodeChanged(n); },
      delete: (n) => { this.infos.delete(n.metadata.name!); },
    });
    this.pods.on({ add: (p) => this.podChanged(p), update: (o, p) => this.podChanged(p, o), delete: (p) => this.podDeleted(p) });
  }

  /** Starts scheduling once the caches are filled. */
  run(): this {
    void (async () => {
      await Promise.all([this.pods.synced, this.nodes.synced, this.classes.synced]);
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

  private priority(pod: KObject): KObject {
    if (pod.spec?.priority !== undefined) return pod;
    const name = pod.spec?.priorityClassName;
    const pc = name ? this.classes.get(name) : this.classes.list().find((c) => c.globalDefault);
    return pc ? { ...pod, spec: { ...pod.spec, priority: pc.value ?? 0 } } : pod;
  }

  private nodeChanged(n: KObject): void {
    const name = n.metadata.name!;
    const info = this.infos.get(name);
    if (info) info.setNode(n);
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
      if (!counts(p)) { if (this.unplace(key)) this.queue.moveAllToActive(); return; }
      if (this.placed.get(key) !== p.spec.nodeName) this.unplace(key);
      this.assumed.delete(key);
      this.placed.set(key, p.spec.nodeName);
      this.infos.get(p.spec.nodeName)?.addPod(key, this.priority(p));
      return;
    }
    // Not bound (yet): an assumed pod whose watch event lags keeps its place.
    if (this.assumed.has(key)) return;
    if ((p.spec?.schedulerName ?? SCHEDULER_NAME) !== SCHEDULER_NAME) return;
    if (p.metadata.deletionTimestamp) { this.queue.delete(key); return; }
    const prio = this.priority(p).spec?.priority ?? 0;
    // New pods go to the active queue; a parked pod gets another try when its spec or labels
    // change (not its status: our own PodScheduled=False write must not loop).
    if (!old) this.queue.add(key, prio);
    else if (JSON.stringify([old.spec, old.metadata.labels]) !== JSON.stringify([p.spec, p.metadata.labels])) this.queue.update(key, prio);
  }

  private podDeleted(p: KObject): void {
    const key = keyOf(p);
    this.queue.delete(key);
    if (this.unplace(key)) this.queue.moveAllToActive();
  }

  private snapshot(): Snapshot {
    const nodes = [...this.infos.values()];
    return { nodes, get: (n) => this.infos.get(n), havePodsWithAffinity: nodes.filter((n) => n.podsWithAffinity > 0) };
  }

  private scheduleOne(key: string): void {
    const raw = this.pods.get(key);
    if (!raw || raw.spec?.nodeName || raw.metadata.deletionTimestamp || this.assumed.has(key)) return;
    const pod = this.priority(raw);
    const prio = pod.spec?.priority ?? 0;
    const snap = this.snapshot();
    const res = runCycle(this.plugins, pod, snap);
    if (res.node !== undefined) {
      const node = this.infos.get(res.node)!;
      const bound = { ...pod, spec: { ...pod.spec, nodeName: res.node } };
      node.addPod(key, bound);
      this.placed.set(key, res.node);
      this.assumed.add(key);
      void this.bind(key, pod, res.node, prio);
      return;
    }
    this.stats.unschedulable++;
    const plan = snap.nodes.length ? findPreemption(this.plugins, pod, snap, res.statuses, this.pdbs.list()) : undefined;
    let message = res.message;
    if (plan) {
      this.stats.preemptions++;
      void this.preempt(pod, plan.node, plan.victims);
      this.queue.retryLater(key, prio);
    } else {
      const hist = new Map<string, number>();
      for (const s of res.statuses.values()) {
        const r = s.code === 'Unschedulable' ? 'No preemption victims found for incoming pod' : 'Preemption is not helpful for scheduling';
        hist.set(r, (hist.get(r) ?? 0) + 1);
      }
      const parts = [...hist].map(([r, n]) => `${n} ${r}`).sort();
      message += ` preemption: 0/${snap.nodes.length} nodes are available: ${parts.join(', ')}.`;
      this.queue.park(key, prio);
    }
    void this.reportUnschedulable(raw, message);
  }

  private async bind(key: string, pod: KObject, node: string, prio: number): Promise<void> {
    this.binds++;
    const { namespace, name } = pod.metadata;
    try {
      await this.ctx.client.request('POST', resourcePath(R.pods, namespace, name, 'binding'), {
        apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid: pod.metadata.uid }, target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
      this.stats.scheduled++;
      this.queue.forget(key);
      this.ctx.recorder.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${node}`);
    } catch (err) {
      this.stats.bindErrors++;
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

  private async preempt(pod: KObject, node: string, victims: KObject[]): Promise<void> {
    const { namespace, name } = pod.metadata;
    try {
      await this.ctx.client.patch(R.pods, namespace, name!, { status: { nominatedNodeName: node } }, 'merge', { subresource: 'status' });
      for (const v of victims) {
        this.ctx.recorder.event(v, 'Normal', 'Preempted', `Preempted by pod ${pod.metadata.uid} on node ${node}`);
        await this.ctx.client.delete(R.pods, v.metadata.namespace, v.metadata.name!, { preconditions: { uid: v.metadata.uid } }).catch(() => {});
      }
    } catch (err) {
      this.ctx.log.warn({ pod: `${namespace}/${name}`, err: String(err) }, 'preemption failed');
    }
  }

  private async reportUnschedulable(pod: KObject, message: string): Promise<void> {
    this.ctx.recorder.event(pod, 'Warning', 'FailedScheduling', message);
    const cur = (pod.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled');
    if (cur?.status === 'False' && cur.message === message) return;
    const cond = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: rfc3339(this.ctx.clock.now()) };
    await this.ctx.client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, { status: { conditions: [cond] } }, 'strategic', { subresource: 'status' }).catch(() => {});
  }
}

/** Does a bound pod take up room? Finished pods do not. */
function counts(p: KObject): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}
