/**
 * Namespaces: the four made at start (default, kube-system, kube-public, kube-node-lease),
 * the checks that guard creating into a namespace, and a small in-process namespace
 * controller that empties a Terminating namespace and then lets it go (the `kubernetes`
 * finalizer in spec.finalizers), as kube-controller-manager's namespace controller does.
 */
import type { Storage } from './storage.js';
import type { Catalog } from './catalog.js';
import { ApiError, notFound } from './status.js';
import { BUILTIN, objectKey, keyPrefix } from './resources.js';
import { decode } from './storage.js';
import { isCode } from '../core/errors.js';

const NS = BUILTIN.find((r) => r.resource === 'namespaces')!;
/** Namespaces every cluster has. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** Creates the system namespaces that do not exist yet. */
export async function bootstrapNamespaces(storage: Storage): Promise<void> {
  for (const name of SYSTEM_NAMESPACES) {
    const { kv } = await storage.backend.get(objectKey(NS, undefined, name));
    if (!kv) await storage.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }).catch((err) => {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    });
  }
}

/** Throws 404 when `ns` does not exist and 403 when it is terminating. */
export async function checkNamespaceWritable(storage: Storage, ns: string): Promise<void> {
  const { kv } = await storage.backend.get(objectKey(NS, undefined, ns));
  if (!kv) throw notFound(NS, ns);
  if (decode(kv).metadata?.deletionTimestamp) {
    throw new ApiError(403, 'Forbidden', `unable to create new content in namespace ${ns} because it is being terminated`, { name: ns, kind: 'namespaces' });
  }
}

/** Empties terminating namespaces; `kick(name)` schedules one, `stop()` ends the loop. */
export class NamespaceController {
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(private readonly storage: Storage, private readonly catalog: Catalog, private readonly retryMs = 1000) {}

  /** Finds namespaces left terminating by a previous run. */
  async start(): Promise<void> {
    const { items } = await this.storage.list(NS, undefined, {});
    for (const ns of items) if (ns.metadata.deletionTimestamp) this.kick(ns.metadata.name);
  }

  /** Schedules a sweep of namespace `name`. */
  kick(name: string): void {
    if (this.stopped) return;
    this.pending.add(name);
    if (!this.running) setImmediate(() => void this.run());
  }

  /** Stops scheduling sweeps. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      for (const name of [...this.pending]) {
        this.pending.delete(name);
        const done = await this.sweep(name).catch(() => false);
        if (!done) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.kick(name), this.retryMs);
        }
      }
    } finally {
      this.running = false;
      if (this.pending.size && !this.stopped) setImmediate(() => void this.run());
    }
  }

  /** Deletes everything in `name`; when nothing is left, drops the finalizer. True when finished. */
  private async sweep(name: string): Promise<boolean> {
    const { kv } = await this.storage.backend.get(objectKey(NS, undefined, name));
    if (!kv) return true;
    const ns = decode(kv);
    if (!ns.metadata.deletionTimestamp) return true;
    let left = 0;
    const seen = new Set<string>();
    for (const r of this.catalog.all()) {
      const prefix = keyPrefix(r, name);
      if (!r.namespaced || seen.has(prefix)) continue;
      seen.add(prefix);
      const { items } = await this.storage.list(r, name, {});
      for (const obj of items) {
        left++;
        await this.storage.delete(r, name, obj.metadata.name, { gracePeriodSeconds: 0 }).catch((err) => {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        });
      }
    }
    if (left) {
      for (const r of this.catalog.all()) if (r.namespaced && (await this.storage.backend.count(keyPrefix(r, name))).count) return false;
    }
    try {
      await this.storage.update(NS, undefined, name, (cur) => {
        cur.spec = { ...cur.spec, finalizers: (cur.spec?.finalizers ?? []).filter((f: string) => f !== 'kubernetes') };
        return cur;
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return true;
      if (isCode(err, 'NOT_FOUND')) return true;
      throw err;
    }
    return true;
  }
}
