/**
 * The store seam, after kine: a revisioned key-value store with etcd's semantics, small
 * enough that SQLite (embedded, the default) and etcd (later) can both implement it and run
 * one shared conformance suite (src/store/conformance.ts).
 *
 * Words: every successful write (create, update, delete) takes the next global `revision`,
 * which is strictly increasing across all keys. A key's `createRevision` is the revision that
 * created it; `modRevision` the revision of its last write. Reads may ask for the state at
 * an older revision, as long as it has not been compacted; a compacted revision throws
 * GoneError (the API server answers 410 Gone), a future revision throws InvalidArgumentError
 * (both with etcd's wording: "required revision has been compacted" / "is a future
 * revision"). Keys are non-empty strings like `/registry/pods/default/web-0` (an empty key
 * is InvalidArgumentError, as in etcd); values are opaque bytes (the API server stores JSON).
 */

/** One key's value at some revision. */
export interface KeyValue {
  key: string;
  value: Buffer;
  /** Revision of the write that created the key. */
  createRevision: number;
  /** Revision of the key's latest write. */
  modRevision: number;
}

/** A change seen by a watcher. */
export interface WatchEvent {
  type: 'put' | 'delete';
  /** For put, the new value; for delete, the value as it was before deletion, with modRevision = the delete's revision. */
  kv: KeyValue;
  /** The value before this change (absent for a create). */
  prevKv?: KeyValue;
}

/** Options for a list. */
export interface ListOptions {
  /** Read at this revision (0 or absent = current). GoneError if compacted. */
  revision?: number;
  /** At most this many keys (0 or absent = all). */
  limit?: number;
  /** Start at this key, inclusive (for pagination); keys are returned in byte order. */
  startKey?: string;
}

/** A watch: an async stream of event batches, ended by `close()` or the abort signal. */
export interface Watch extends AsyncIterable<WatchEvent[]> {
  close(): void;
}

/**
 * A revisioned key-value store. All methods are safe to call concurrently. A write
 * acknowledged by a resolved promise is durable (survives kill -9 and power loss).
 */
export interface Backend {
  /** The latest revision (the revision of the last write, or of compaction bookkeeping). */
  currentRevision(): Promise<number>;
  /** The oldest revision still readable. */
  compactRevision(): Promise<number>;
  /** The key at a revision; `kv` is undefined when absent. */
  get(key: string, revision?: number): Promise<{ revision: number; kv?: KeyValue }>;
  /** Keys under `prefix` (prefix match on the string), in key order. `more` when `limit` cut the list. */
  list(prefix: string, opts?: ListOptions): Promise<{ revision: number; kvs: KeyValue[]; more: boolean }>;
  /** How many keys exist under `prefix` now. */
  count(prefix: string): Promise<{ revision: number; count: number }>;
  /** Creates a key; AlreadyExistsError when it exists. */
  create(key: string, value: Buffer): Promise<{ revision: number; kv: KeyValue }>;
  /**
   * Replaces a key's value if its modRevision is still `expectedModRevision` (0 = any);
   * ConflictError when it changed, NotFoundError when it is gone.
   */
  update(key: string, value: Buffer, expectedModRevision: number): Promise<{ revision: number; kv: KeyValue }>;
  /** Deletes a key (if its modRevision is `expectedModRevision`, 0 = any); returns the deleted value. */
  delete(key: string, expectedModRevision?: number): Promise<{ revision: number; kv: KeyValue }>;
  /**
   * Watches keys under `prefix`, delivering every change with revision > `afterRevision`
   * in revision order. GoneError (thrown from the iterator) when `afterRevision` is older
   * than the compacted revision.
   */
  watch(prefix: string, afterRevision: number): Watch;
  /** Drops history older than `revision` (the current value of each key is always kept). */
  compact(revision: number): Promise<void>;
  /** Releases files and timers. */
  close(): Promise<void>;
}
