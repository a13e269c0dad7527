/**
 * The embedded, durable Backend (src/store/types.ts) on SQLite via better-sqlite3, kine-style
 * (see sqlite-schema.ts and docs/store.md).
 *
 * Durability: WAL journal; every commit's WAL frames are made durable with an fdatasync of
 * the -wal file BEFORE the write's promise resolves and its events are published, so an
 * acknowledged write survives kill -9 and power loss. The fdatasync runs on libuv's thread
 * pool, not inside the commit (synchronous=NORMAL): a commit holds the event loop only for
 * its SQL work, and while one fdatasync is under way the commits behind it wait for the
 * next one together (a second level of group commit). Under I/O load (30 pods starting:
 * the agent's own fsyncs share ext4's journal) a synchronous=FULL commit held the API
 * server's loop for ~0.8 s of every 4. Reads may see a committed write during its
 * fdatasync, before its writer is answered (never after a failed one: a failed fdatasync
 * makes the store refuse every later write). One process owns the file
 * (locking_mode=EXCLUSIVE), which is what lets watches be fanned out in-process.
 *
 * better-sqlite3 is synchronous, so writes are group-committed: every write queued during
 * one turn of the event loop goes into one transaction.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError, SkiffError, UnavailableError } from '../core/errors.js';
import type { Backend, KeyValue, ListOptions, Watch, WatchEvent } from './types.js';
import { SCHEMA, prefixRange, prepare, rowKv, type HistoryRow, type Row, type Statements } from './sqlite-schema.js';
import { WatchHub, compactedError } from './watch-hub.js';
import { Compactor, type CompactorOptions } from './compactor.js';

/** Options for the SQLite backend. */
export interface SqliteOptions extends CompactorOptions {
  /** Most writes committed in one transaction (default 256). */
  maxBatch?: number;
}

/** Keys read per synchronous step of a list. */
const LIST_PAGE = 500;

type Op =
  | { kind: 'create'; key: string; value: Buffer }
  | { kind: 'update'; key: string; value: Buffer; expected: number }
  | { kind: 'delete'; key: string; expected: number };

interface Pending {
  op: Op;
  resolve(r: { revision: number; kv: KeyValue }): void;
  reject(err: unknown): void;
  result?: { revision: number; kv: KeyValue; event: WatchEvent };
  error?: SkiffError;
}

/** Opens (creating when absent) the SQLite store at `file`. */
export async function openSqliteBackend(file: string, opts: SqliteOptions = {}): Promise<Backend> {
  // The store holds Secrets: the file is 0600, and SQLite gives its -wal file the same mode.
  let created = false;
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600));
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new UnavailableError(`cannot open store ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const cleanup = () => {
    if (created) for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) fs.rmSync(f, { force: true });
  };
  let db: Database.Database;
  try {
    if (!created && (fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
    db = new Database(file);
  } catch (err) {
    cleanup();
    throw new UnavailableError(`cannot open store ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('busy_timeout = 1000');
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // NORMAL: the commit does not fsync; SqliteBackend fdatasyncs the WAL off the loop before answering.
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
    // Revisions start at 1 like etcd's, so the first write is revision 2 and 0 never means "a revision".
    db.exec(`INSERT INTO sqlite_sequence (name, seq) SELECT 'kv', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'kv')`);
  } catch (err) {
    db.close();
    cleanup();
    const busy = /locked|busy/i.test((err as Error).message);
    throw new UnavailableError(busy ? `store ${file} is in use by another process` : `cannot open store ${file}: ${(err as Error).message}`, { cause: err });
  }
  return new SqliteBackend(db, prepare(db), opts, `${file}-wal`);
}

class SqliteBackend implements Backend {
  private rev: number;
  private compacted: number;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly hub: WatchHub;
  private readonly compactor: Compactor;
  private readonly maxBatch: number;
  private readonly tx: (batch: Pending[]) => void;
  /** The revision whose events were last published (every write up to it is durable). */
  private published: number;
  /** The -wal file, opened at the first sync (SQLite keeps it while the store is open). */
  private walFd?: number;
  /** Commits waiting for the next fdatasync, in commit order. */
  private unsynced: Array<(err?: Error) => void> = [];
  private syncing = false;
  /** Set when an fdatasync failed: what was committed may not be on disk, so no more writes. */
  private broken?: Error;

  constructor(private readonly db: Database.Database, private readonly st: Statements, opts: SqliteOptions, private readonly walFile: string) {
    this.rev = this.readSequence();
    this.published = this.rev;
    this.compacted = (st.metaGet.get('compact_rev') as { v: number } | undefined)?.v ?? 0;
    this.maxBatch = opts.maxBatch ?? 256;
    this.tx = db.transaction((batch: Pending[]) => {
      for (const p of batch) {
        try {
          p.result = this.apply(p.op);
        } catch (err) {
          if (!(err instanceof SkiffError)) throw err; // a disk or SQL failure aborts the whole batch
          p.error = err;
        }
      }
    });
    this.hub = new WatchHub({
      // Published, not committed: a watch replays up to here and gets later events live.
      revision: () => this.published,
      compacted: () => this.compacted,
      history: (prefix, lo, hi) => this.history(prefix, lo, hi),
    });
    this.compactor = new Compactor(this, opts);
    // A compaction interrupted by a crash is finished on open.
    const done = (st.metaGet.get('compact_done') as { v: number } | undefined)?.v ?? 0;
    if (done < this.compacted) void this.compactRows(done, this.compacted).catch(() => {});
  }

  private readSequence(): number {
    return (this.st.sequence.get() as { seq: number } | undefined)?.seq ?? 1;
  }

  private checkOpen(): void {
    if (this.closed) throw new UnavailableError('the store is closed');
  }

  /** The revision to read at: current when absent, GoneError below the compact revision. */
  private readRevision(revision: number | undefined): number {
    if (!revision || revision === this.rev) return this.rev;
    if (revision > this.rev) throw new InvalidArgumentError(`mvcc: required revision is a future revision (asked for ${revision}, current is ${this.rev})`);
    if (revision < this.compacted) throw compactedError(revision, this.compacted);
    return revision;
  }

  async currentRevision(): Promise<number> {
    return this.rev;
  }

  async compactRevision(): Promise<number> {
    return this.compacted;
  }

  async get(key: string, revision?: number): Promise<{ revision: number; kv?: KeyValue }> {
    this.checkOpen();
    const at = this.readRevision(revision);
    const row = (at === this.rev ? this.st.latest.get(key) : this.st.latestAt.get(key, at)) as Row | undefined;
    return { revision: at, kv: row && !row.deleted ? rowKv(row) : undefined };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<{ revision: number; kvs: KeyValue[]; more: boolean }> {
    this.checkOpen();
    const at = this.readRevision(opts.revision);
    const [lo, hi] = prefixRange(prefix);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    // Read in pages of LIST_PAGE keys, letting the event loop run between them, so a big
    // list does not stall every other request; all pages read at the same revision.
    const kvs: KeyValue[] = [];
    let start = opts.startKey ?? '';
    for (;;) {
      const want = limit ? Math.min(limit + 1 - kvs.length, LIST_PAGE) : LIST_PAGE;
      const rows = this.st.list.all(lo, start, hi, at, want) as Row[];
      for (const r of rows) kvs.push(rowKv(r));
      if (rows.length < want || (limit && kvs.length > limit)) break;
      start = rows[rows.length - 1].name + '\u0000'; // the next key after this one in byte order
      await new Promise<void>((r) => setImmediate(r));
      this.checkOpen();
      if (at < this.compacted) {
        if (opts.revision) throw compactedError(at, this.compacted);
        return this.list(prefix, opts); // "now" moved past a compaction mid-list: read the new now
      }
    }
    const more = limit > 0 && kvs.length > limit;
    if (more) kvs.length = limit;
    return { revision: at, kvs, more };
  }

  async count(prefix: string): Promise<{ revision: number; count: number }> {
    this.checkOpen();
    const [lo, hi] = prefixRange(prefix);
    const { n } = this.st.count.get(lo, hi, this.rev) as { n: number };
    return { revision: this.rev, count: n };
  }

  create(key: string, value: Buffer) {
    return this.enqueue({ kind: 'create', key, value });
  }

  update(key: string, value: Buffer, expectedModRevision: number) {
    return this.enqueue({ kind: 'update', key, value, expected: expectedModRevision });
  }

  delete(key: string, expectedModRevision = 0) {
    return this.enqueue({ kind: 'delete', key, expected: expectedModRevision });
  }

  watch(prefix: string, afterRevision: number): Watch {
    if (this.closed) {
      return { close() {}, async *[Symbol.asyncIterator]() { throw new UnavailableError('the store is closed'); } };
    }
    return this.hub.watch(prefix, afterRevision);
  }

  async compact(revision: number): Promise<void> {
    this.checkOpen();
    if (revision > this.rev) throw new InvalidArgumentError(`mvcc: required revision is a future revision (asked to compact ${revision}, current is ${this.rev})`);
    if (!Number.isInteger(revision)) throw new InvalidArgumentError(`cannot compact to revision ${revision}`);
    if (revision <= this.compacted) return;
    const from = this.compacted;
    // Raise the bar first, in its own commit, so no reader can see half-deleted history.
    this.db.transaction(() => this.st.metaSet.run('compact_rev', revision))();
    this.compacted = revision;
    await this.compactRows(from, revision);
  }

  /** Deletes superseded rows and tombstones with ids in (from, to], a window per transaction. */
  private async compactRows(from: number, to: number): Promise<void> {
    const step = 2000;
    const run = this.db.transaction((lo: number, hi: number) => {
      this.st.compactSuperseded.run(lo, hi);
      this.st.compactTombstones.run(lo, hi);
      this.st.metaSet.run('compact_done', hi);
    });
    for (let lo = from; lo < to && !this.closed; lo += step) {
      run(lo, Math.min(lo + step, to));
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.pending.length || this.flushScheduled || this.syncing) await new Promise<void>((r) => setImmediate(r));
    this.closed = true;
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
    this.compactor.stop();
    this.hub.closeAll();
    this.db.close();
  }

  private enqueue(op: Op): Promise<{ revision: number; kv: KeyValue }> {
    if (this.closed) return Promise.reject(new UnavailableError('the store is closed'));
    if (this.broken) return Promise.reject(new UnavailableError(`the store cannot write: ${this.broken.message}`));
    if (!op.key) return Promise.reject(new InvalidArgumentError('key is not provided')); // etcd refuses empty keys too
    return new Promise((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits queued writes in one transaction, then answers them and publishes the events. */
  private flush(): void {
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length) setImmediate(() => this.flush());
    else this.flushScheduled = false;
    const before = this.rev;
    try {
      this.tx(batch);
    } catch (err) {
      this.rev = before; // the transaction rolled back
      const e = new UnavailableError(`store write failed: ${(err as Error).message}`, { cause: err });
      for (const p of batch) p.reject(e);
      return;
    }
    const rev = this.rev;
    this.afterSync((err) => {
      if (err) {
        const e = new UnavailableError(`store write failed: ${err.message}`, { cause: err });
        for (const p of batch) p.reject(p.error ?? e);
        return;
      }
      const events: WatchEvent[] = [];
      for (const p of batch) {
        if (p.error) p.reject(p.error);
        else {
          events.push(p.result!.event);
          p.resolve({ revision: p.result!.revision, kv: p.result!.kv });
        }
      }
      this.published = rev;
      if (events.length) this.hub.publish(events);
    });
  }

  /** Runs `done` once the WAL is on disk up to the last commit (one fdatasync for all waiting). */
  private afterSync(done: (err?: Error) => void): void {
    this.unsynced.push(done);
    if (!this.syncing) this.sync();
  }

  private sync(): void {
    this.syncing = true;
    const waiting = this.unsynced.splice(0);
    const finish = (err: Error | null) => {
      if (err) this.broken ??= err;
      for (const d of waiting) d(this.broken);
      this.syncing = false;
      if (this.unsynced.length) this.sync();
    };
    try {
      this.walFd ??= fs.openSync(this.walFile, 'r');
    } catch (err) {
      return finish(err as Error);
    }
    fs.fdatasync(this.walFd, finish);
  }

  /** Checks and writes one op inside the batch transaction (SkiffError = this op fails alone). */
  private apply(op: Op): { revision: number; kv: KeyValue; event: WatchEvent } {
    const prev = this.st.latest.get(op.key) as Row | undefined;
    const live = prev && !prev.deleted ? prev : undefined;
    const id = this.rev + 1;
    if (op.kind === 'create') {
      if (live) throw new AlreadyExistsError(`key ${op.key} already exists`);
      this.st.insert.run(id, op.key, 1, 0, id, prev?.id ?? 0, op.value);
      this.rev = id;
      const kv = { key: op.key, value: op.value, createRevision: id, modRevision: id };
      return { revision: id, kv, event: { type: 'put', kv } };
    }
    if (!live) throw new NotFoundError(`key ${op.key} not found`);
    if (op.expected && live.id !== op.expected) {
      throw new ConflictError(`key ${op.key} was modified (at revision ${live.id}, expected ${op.expected})`);
    }
    const prevKv = rowKv(live);
    if (op.kind === 'update') {
      this.st.insert.run(id, op.key, 0, 0, live.create_revision, live.id, op.value);
      this.rev = id;
      const kv = { key: op.key, value: op.value, createRevision: live.create_revision, modRevision: id };
      return { revision: id, kv, event: { type: 'put', kv, prevKv } };
    }
    this.st.insert.run(id, op.key, 0, 1, live.create_revision, live.id, Buffer.alloc(0));
    this.rev = id;
    const kv = { ...prevKv, modRevision: id };
    return { revision: id, kv, event: { type: 'delete', kv, prevKv } };
  }

  /** Events with lo < revision <= hi under `prefix`, from the table. */
  private history(prefix: string, lo: number, hi: number): WatchEvent[] {
    const [plo, phi] = prefixRange(prefix);
    const rows = this.st.history.all(lo, hi, plo, phi) as HistoryRow[];
    return rows.map((r) => {
      const prevKv = r.pid != null ? { key: r.name, value: r.pvalue!, createRevision: r.pcr!, modRevision: r.pid } : undefined;
      if (r.deleted) return { type: 'delete' as const, kv: { ...(prevKv ?? rowKv(r)), modRevision: r.id }, prevKv };
      return prevKv ? { type: 'put' as const, kv: rowKv(r), prevKv } : { type: 'put' as const, kv: rowKv(r) };
    });
  }
}
