/**
 * A small in-process garbage collector for ownerReferences, as kube-controller-manager's:
 * when an owner is deleted (propagationPolicy Background, the default) its dependents are
 * deleted; `Orphan` (the `orphan` finalizer) strips the owner reference from dependents
 * first; `Foreground` (the `foregroundDeletion` finalizer) deletes dependents and lets the
 * owner go only when none is left. Work is queued, so a DELETE never waits for the sweep;
 * a sweep at start collects what a crash left behind.
 */
import type { Storage } from './storage.js';
import type { Catalog } from './catalog.js';
import type { ResourceInfo } from './resources.js';
import { ApiError } from './status.js';

/** The finalizer of `propagationPolicy=Orphan`. */
export const ORPHAN = 'orphan';
/** The finalizer of `propagationPolicy=Foreground`. */
export const FOREGROUND = 'foregroundDeletion';

type Job = { kind: 'deleted'; namespace?: string; uid: string; clusterScoped: boolean } | { kind: 'finalize'; r: ResourceInfo; namespace?: string; name: string };

/** Queues owner deletions and finalizer work; one job at a time. */
export class GarbageCollector {
  private queue: Job[] = [];
  private running = false;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(private readonly storage: Storage, private readonly catalog: Catalog, private readonly retryMs = 1000) {}

  /** An object was deleted: its dependents lose an owner. */
  ownerDeleted(r: ResourceInfo, obj: any): void {
    if (obj?.metadata?.uid) this.push({ kind: 'deleted', namespace: obj.metadata.namespace, uid: obj.metadata.uid, clusterScoped: !r.namespaced });
  }

  /** An object being deleted carries `orphan` or `foregroundDeletion`. */
  finalizing(r: ResourceInfo, obj: any): void {
    this.push({ kind: 'finalize', r, namespace: obj.metadata.namespace, name: obj.metadata.name });
  }

  /**
   * Sweeps once for dependents whose owners all vanished while the server was down (a crash
   * between an owner's delete and its collection): each is collected as on a live delete.
   */
  async sweep(): Promise<void> {
    // Only objects older than the sweep: a dependent made while it runs may name an owner
    // created after that owner's kind was listed.
    const before = Date.now() - 2000;
    const uids = new Set<string>();
    const owned: { r: ResourceInfo; obj: any }[] = [];
    const seen = new Set<string>();
    for (const r of this.catalog.all()) {
      if (seen.has(`${r.group}/${r.resource}`)) continue;
      seen.add(`${r.group}/${r.resource}`);
      for (const obj of (await this.storage.list(r, undefined, {})).items) {
        uids.add(obj.metadata.uid);
        if (obj.metadata.ownerReferences?.length && Date.parse(obj.metadata.creationTimestamp) < before) owned.push({ r, obj });
      }
    }
    for (const { obj } of owned) {
      for (const ref of obj.metadata.ownerReferences) {
        if (!uids.has(ref.uid)) this.push({ kind: 'deleted', namespace: obj.metadata.namespace, uid: ref.uid, clusterScoped: false });
      }
    }
  }

  /** Stops taking work. */
  stop(): void { this.stopped = true; clearTimeout(this.retry); }

  private push(j: Job): void {
    if (this.stopped) return;
    this.queue.push(j);
    if (!this.running) setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length && !this.stopped) {
        const j = this.queue.shift()!;
        const done = await (j.kind === 'deleted' ? this.collect(j) : this.finalize(j)).catch(() => false);
        if (!done) { // retried later: dependents held by their own finalizers, or a lost race
          clearTimeout(this.retry);
          this.retry = setTimeout(() => this.push(j), this.retryMs);
          this.retry.unref();
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Every object (in `namespace`, or everywhere for cluster-scoped owners) owned by `uid`. */
  private async dependents(uid: string, namespace: string | undefined, clusterScoped: boolean) {
    const out: { r: ResourceInfo; obj: any }[] = [];
    const seen = new Set<string>();
    for (const r of this.catalog.all()) {
      const key = `${r.group}/${r.resource}`;
      if (seen.has(key) || (!clusterScoped && !r.namespaced)) continue;
      seen.add(key);
      const { items } = await this.storage.list(r, clusterScoped ? undefined : namespace, {
        match: (o) => (o.metadata?.ownerReferences ?? []).some((ref: any) => ref.uid === uid),
      });
      for (const obj of items) out.push({ r, obj });
    }
    return out;
  }

  private async dropRef(r: ResourceInfo, obj: any, uid: string): Promise<void> {
    await this.storage.update(r, obj.metadata.namespace, obj.metadata.name, (cur) => {
      cur.metadata.ownerReferences = (cur.metadata.ownerReferences ?? []).filter((x: any) => x.uid !== uid);
      if (!cur.metadata.ownerReferences.length) delete cur.metadata.ownerReferences;
      delete cur.metadata.resourceVersion;
      return cur;
    }, { system: true }).catch(ignoreGone);
  }

  /** Background propagation: dependents whose only owner is gone are deleted; others lose the reference. */
  private async collect(j: Extract<Job, { kind: 'deleted' }>): Promise<boolean> {
    for (const { r, obj } of await this.dependents(j.uid, j.namespace, j.clusterScoped)) {
      const others = (obj.metadata.ownerReferences ?? []).filter((x: any) => x.uid !== j.uid);
      if (others.length) await this.dropRef(r, obj, j.uid);
      else if (!obj.metadata.deletionTimestamp) await this.storage.delete(r, obj.metadata.namespace, obj.metadata.name).catch(ignoreGone);
    }
    return true;
  }

  /** Orphan: strip references then drop `orphan`. Foreground: delete dependents, drop the finalizer once none remain. */
  private async finalize(j: Extract<Job, { kind: 'finalize' }>): Promise<boolean> {
    let owner: any;
    try { owner = (await this.storage.get(j.r, j.namespace, j.name)).obj; } catch { return true; }
    const fins: string[] = owner.metadata.finalizers ?? [];
    const uid = owner.metadata.uid;
    const deps = await this.dependents(uid, j.namespace, !j.r.namespaced);
    let drop: string | undefined;
    if (fins.includes(ORPHAN)) {
      for (const { r, obj } of deps) await this.dropRef(r, obj, uid);
      drop = ORPHAN;
    } else if (fins.includes(FOREGROUND)) {
      for (const { r, obj } of deps) if (!obj.metadata.deletionTimestamp) await this.storage.delete(r, obj.metadata.namespace, obj.metadata.name).catch(ignoreGone);
      if (deps.length) return false; // wait until they are really gone
      drop = FOREGROUND;
    } else return true;
    await this.storage.update(j.r, j.namespace, j.name, (cur) => {
      cur.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f: string) => f !== drop);
      delete cur.metadata.resourceVersion;
      return cur;
    }, { system: true }).catch(ignoreGone);
    return true;
  }
}

function ignoreGone(err: unknown): void {
  if (!(err instanceof ApiError && err.code === 404)) throw err;
}
