/**
 * Informers: a local cache of one resource kept current by list + watch, with event handlers
 * and indexes, as client-go's SharedIndexInformer. Controllers read the cache (never the API
 * server) in their sync; handlers only enqueue keys. A watch that ends is resumed from the
 * last resourceVersion seen; a 410 Gone (history compacted) re-lists and reports the
 * difference as adds, updates and deletes, so no change is ever lost.
 */
import { GoneError } from '../../core/errors.js';
import type { ApiClient, KObject, ResourceRef } from '../../client/client.js';
import { listWatch, type ListWatchSource } from '../../client/listwatch.js';

/** Callbacks of an informer. */
export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(old: T, obj: T): void;
  delete?(obj: T): void;
}

/** The cache key of an object: "namespace/name", or "name" when cluster-scoped. */
export function keyOf(obj: { metadata: { namespace?: string; name?: string } }): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name!;
}

/** Splits a key made by keyOf. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Options of an informer. */
export interface InformerOptions {
  /** Re-delivers every cached object as an update this often (0: never). */
  resyncMs?: number;
  /** Where to report watch failures (default: silent). */
  onError?: (err: unknown) => void;
}

/** A cache of one resource fed by list + watch. */
export class Informer<T extends KObject = KObject> {
  private items = new Map<string, T>();
  private handlers: InformerHandlers<T>[] = [];
  private indexes = new Map<string, { fn: (o: T) => string[]; map: Map<string, Set<string>> }>();
  private running = false;
  private stopped = false;
  private watch?: { close(): void };
  private resync?: NodeJS.Timeout;
  private resolveSynced!: () => void;
  /** Resolves once the first list is in the cache and delivered to handlers. */
  readonly synced: Promise<void> = new Promise((r) => { this.resolveSynced = r; });
  /** True once the first list is in the cache. */
  hasSynced = false;
  /** The resourceVersion the cache is current to. */
  resourceVersion = '';

  constructor(private readonly source: ListWatchSource<T>, private readonly opts: InformerOptions = {}) {
    this.addIndex('namespace', (o) => (o.metadata.namespace ? [o.metadata.namespace] : []));
  }

  /** Adds handlers; when the cache is filled already, `add` is called for what it holds. */
  on(h: InformerHandlers<T>): this {
    this.handlers.push(h);
    if (this.hasSynced) for (const o of this.items.values()) h.add?.(o);
    return this;
  }

  /** Adds an index: `fn` gives the index values of an object (e.g. a pod's node name). */
  addIndex(name: string, fn: (o: T) => string[]): this {
    const map = new Map<string, Set<string>>();
    this.indexes.set(name, { fn, map });
    for (const [k, o] of this.items) for (const v of fn(o)) (map.get(v) ?? map.set(v, new Set()).get(v)!).add(k);
    return this;
  }

  /** Objects whose index `name` has value `value`. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexes.get(name)?.map.get(value);
    if (!keys) return [];
    return [...keys].map((k) => this.items.get(k)!).filter(Boolean);
  }

  /** One object by key ("ns/name" or "name"). */
  get(key: string): T | undefined { return this.items.get(key); }

  /** Every cached object. */
  list(): T[] { return [...this.items.values()]; }

  /** Cached objects of one namespace. */
  listNamespace(ns: string): T[] { return this.byIndex('namespace', ns); }

  /** Starts listing and watching (idempotent). */
  start(): this {
    if (this.running) return this;
    this.running = true;
    void this.loop();
    if (this.opts.resyncMs) {
      this.resync = setInterval(() => { for (const o of this.items.values()) this.emit('update', o, o); }, this.opts.resyncMs);
      this.resync.unref();
    }
    return this;
  }

  /** Stops watching; the cache keeps its last contents. */
  stop(): void {
    this.stopped = true;
    this.watch?.close();
    if (this.resync) clearInterval(this.resync);
  }

  private emit(kind: 'add' | 'update' | 'delete', a: T, b?: T): void {
    for (const h of this.handlers) {
      try {
        if (kind === 'add') h.add?.(a);
        else if (kind === 'update') h.update?.(a, b!);
        else h.delete?.(a);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }

  private index(key: string, old: T | undefined, obj: T | undefined): void {
    for (const { fn, map } of this.indexes.values()) {
      if (old) for (const v of fn(old)) { const s = map.get(v); s?.delete(key); if (s?.size === 0) map.delete(v); }
      if (obj) for (const v of fn(obj)) (map.get(v) ?? map.set(v, new Set()).get(v)!).add(key);
    }
  }

  private upsert(obj: T): void {
    const key = keyOf(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    this.index(key, old, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', old, obj);
  }

  private remove(obj: T): void {
    const key = keyOf(obj);
    const old = this.items.get(key);
    if (!old) return;
    this.items.delete(key);
    this.index(key, old, undefined);
    this.emit('delete', obj);
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.source.list();
    const seen = new Set<string>();
    for (const o of items) { seen.add(keyOf(o)); this.upsert(o); }
    for (const [k, o] of [...this.items]) if (!seen.has(k)) this.remove(o);
    this.resourceVersion = resourceVersion;
    if (!this.hasSynced) { this.hasSynced = true; this.resolveSynced(); }
  }

  private async loop(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (needList) { await this.relist(); needList = false; }
        const w = this.source.watch(this.resourceVersion);
        this.watch = w;
        if (this.stopped) { w.close(); break; }
        for await (const e of w) {
          const rv = e.object?.metadata?.resourceVersion;
          if (e.type === 'ADDED' || e.type === 'MODIFIED') this.upsert(e.object);
          else if (e.type === 'DELETED') this.remove(e.object);
          if (rv) this.resourceVersion = rv;
          failures = 0;
        }
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof GoneError) { needList = true; continue; }
        this.opts.onError?.(err);
        failures++;
        if (failures > 3) needList = true;
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)).unref());
      }
    }
  }
}

/**
 * One informer per resource (and namespace and selector), shared by every controller of a
 * process, so a cluster of controllers opens one watch per resource, as client-go's factory.
 */
export class InformerFactory {
  private informers = new Map<string, Informer<any>>();

  constructor(private readonly client: ApiClient, private readonly opts: InformerOptions = {}) {}

  /** The informer of `r` (created, not started, on first use). */
  for<T extends KObject = KObject>(r: ResourceRef, namespace?: string, sel: { labelSelector?: string; fieldSelector?: string } = {}): Informer<T> {
    const key = `${r.group}/${r.version}/${r.resource}|${namespace ?? ''}|${sel.labelSelector ?? ''}|${sel.fieldSelector ?? ''}`;
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<T>(listWatch<T>(this.client, r, namespace, sel), this.opts);
      this.informers.set(key, inf);
    }
    return inf as Informer<T>;
  }

  /** Starts every informer made so far. */
  start(): void { for (const i of this.informers.values()) i.start(); }

  /** Resolves when every informer has its first list. */
  async synced(): Promise<void> { await Promise.all([...this.informers.values()].map((i) => i.synced)); }

  /** Stops every informer. */
  stop(): void { for (const i of this.informers.values()) i.stop(); }
}
