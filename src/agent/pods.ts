/**
 * The pods bound to this node: a watch of pods with fieldSelector spec.nodeName=<node> (the
 * kubelet's own), one worker per pod uid, and the relist (PLEG) that wakes a pod's worker when
 * its containers change in the engine (an exit, above all). On start, before any worker runs,
 * whatever the engine holds for pods that no longer exist is removed; the rest is adopted by
 * the workers of those pods, which read their state from the engine's labels.
 */
import type { KObject } from '../client/client.js';
import { listWatch } from '../client/listwatch.js';
import { R } from '../client/resources.js';
import { Informer } from '../controllers/runtime/informer.js';
import type { TimerHandle } from '../controllers/runtime/clock.js';
import { PodWorker, type WorkerDeps } from './worker.js';
import type { PodRuntimeState } from './runtime.js';

/** Options of the pod manager. */
export interface PodManagerOptions {
  /** Relist period (default 1 s, the kubelet's PLEG period). */
  relistMs?: number;
}

function fingerprint(s: PodRuntimeState | undefined): string {
  if (!s) return '';
  return [...s.containers.map((c) => `${c.rec.id}:${c.rec.status}`), ...s.sandboxes.map((x) => `${x.id}:${x.state}`)].sort().join(',');
}

/** Runs the pods of one node. */
export class PodManager {
  readonly informer: Informer;
  private workers = new Map<string, PodWorker>();
  private seen = new Map<string, string>();
  private relistTimer?: TimerHandle;
  private stopped = false;
  private openGate!: () => void;
  private readonly gate = new Promise<void>((r) => { this.openGate = r; });
  /** What the start-up recovery removed (pod uids), for logs and tests. */
  readonly removedOrphans: string[] = [];
  /** Pod uids whose containers were found running at start-up and adopted. */
  readonly adopted: string[] = [];

  constructor(private readonly d: WorkerDeps, private readonly opts: PodManagerOptions = {}) {
    this.informer = new Informer(listWatch(d.client, R.pods, undefined, { fieldSelector: `spec.nodeName=${d.nodeName}` }), {
      onError: (err) => d.log(`pod watch: ${(err as Error).message}`),
    });
    this.informer.on({
      add: (p) => this.worker(p.metadata.uid).update(p),
      update: (_o, p) => this.worker(p.metadata.uid).update(p),
      delete: (p) => this.workers.get(p.metadata.uid)?.update(undefined),
    });
  }

  private worker(uid: string): PodWorker {
    let w = this.workers.get(uid);
    if (!w) {
      w = new PodWorker(uid, this.d, this.gate);
      this.workers.set(uid, w);
    }
    return w;
  }

  /** Lists the pods, removes what belongs to none of them, then lets the workers run. */
  async start(): Promise<void> {
    await this.d.runtime.recover();
    this.informer.start();
    await this.informer.synced;
    const pods = new Map<string, KObject>(this.informer.list().map((p) => [p.metadata.uid, p]));
    for (const [uid, state] of await this.d.runtime.relist()) {
      if (pods.has(uid)) {
        if (state.containers.some((c) => c.rec.status === 'running')) this.adopted.push(uid);
        continue;
      }
      // A pod deleted while the agent was away: nothing of it may stay.
      await Promise.all(state.containers.filter((c) => c.rec.status === 'running').map((c) => this.d.runtime.stop(c.rec.id, 2)));
      for (const c of state.containers) await this.d.runtime.remove(c.rec.id);
      for (const s of state.sandboxes) await this.d.runtime.removeSandbox(s.id);
      this.removedOrphans.push(uid);
    }
    // Pod cgroups of pods that no longer exist (their containers went above; a crash may have
    // left them too).
    const swept = await this.d.cgroups?.removeOrphans(new Set(pods.keys())).catch((err) => {
      this.d.log(`pod cgroups: ${(err as Error).message}`);
      return [];
    });
    for (const uid of swept ?? []) if (!this.removedOrphans.includes(uid)) this.removedOrphans.push(uid);
    this.openGate();
    this.scheduleRelist();
  }

  private scheduleRelist(): void {
    if (this.stopped) return;
    this.relistTimer = this.d.clock.after(this.opts.relistMs ?? 1000, () => {
      void this.relist().catch((err) => this.d.log(`relist: ${(err as Error).message}`)).finally(() => this.scheduleRelist());
    });
  }

  /** One relist: wakes the workers of pods whose containers changed; forgets finished workers. */
  async relist(): Promise<void> {
    const all = await this.d.runtime.relist();
    for (const uid of new Set([...all.keys(), ...this.seen.keys()])) {
      const f = fingerprint(all.get(uid));
      if (this.seen.get(uid) === f) continue;
      if (f) this.seen.set(uid, f); else this.seen.delete(uid);
      this.workers.get(uid)?.kick();
    }
    for (const [uid, w] of this.workers) if (w.finished) this.workers.delete(uid);
  }

  /** Wakes a pod's worker (its probe results changed). */
  kick(uid: string): void {
    this.workers.get(uid)?.kick();
  }

  /** Stops watching and relisting; waits for syncs under way. Containers keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.relistTimer?.cancel();
    this.informer.stop();
    this.openGate();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }
}
