/**
 * An in-memory Backend (src/store/types.ts) with etcd's revision semantics. It exists for
 * fast unit tests of the API server's logic and for `skiff server --store memory://`
 * (throwaway clusters); it is NOT durable. The durable default is the SQLite backend.
 */
import type { Backend, KeyValue, ListOptions, Watch, WatchEvent } from '../store/types.js';
import { AlreadyExistsError, ConflictError, GoneError, InvalidArgumentError, NotFoundError } from '../core/errors.js';

interface Waiter {
  prefix: string;
  push(ev: WatchEvent): void;
}

/** Creates an empty in-memory store. */
export function openMemoryBackend(): Backend {
  let rev = 1;
  let compacted = 0;
  const live = new Map<string, KeyValue>();
  const base = new Map<string, KeyValue>(); // every key's value at the compacted revision
  const history: WatchEvent[] = []; // every change after the compacted revision, in order
  const waiters = new Set<Waiter>();

  const emit = (ev: WatchEvent) => {
    history.push(ev);
    for (const w of waiters) if (ev.kv.key.startsWith(w.prefix)) w.push(ev);
  };
  /** The state of `key` at `revision`, rebuilt from history (current state when none). */
  const check = (revision?: number) => {
    if (revision && revision > rev) throw new InvalidArgumentError(`required revision ${revision} is a future revision (current ${rev})`);
    if (revision && revision < compacted) throw new GoneError(`required revision ${revision} has been compacted`);
  };
  const at = (key: string, revision?: number): KeyValue | undefined => {
    check(revision);
    if (!revision || revision >= rev) return live.get(key);
    let kv: KeyValue | undefined = base.get(key);
    for (const ev of history) {
      if (ev.kv.modRevision > revision) break;
      if (ev.kv.key === key) kv = ev.type === 'put' ? ev.kv : undefined;
    }
    return kv;
  };

  const backend: Backend = {
    async currentRevision() { return rev; },
    async compactRevision() { return compacted; },
    async get(key, revision) { return { revision: rev, kv: at(key, revision) }; },
    async list(prefix: string, opts: ListOptions = {}) {
      check(opts.revision);
      const r = opts.revision && opts.revision < rev ? opts.revision : rev;
      let keys: string[];
      if (r === rev) keys = [...live.keys()].filter((k) => k.startsWith(prefix));
      else keys = [...new Set([...base.keys(), ...history.map((e) => e.kv.key), ...live.keys()])].filter((k) => k.startsWith(prefix));
      keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))); // byte order, as etcd
      if (opts.startKey) keys = keys.filter((k) => k >= opts.startKey!);
      const kvs: KeyValue[] = [];
      let more = false;
      for (const k of keys) {
        const kv = at(k, r === rev ? undefined : r);
        if (!kv) continue;
        if (opts.limit && kvs.length >= opts.limit) { more = true; break; }
        kvs.push(kv);
      }
      return { revision: r, kvs, more };
    },
    async count(prefix) {
      let n = 0;
      for (const k of live.keys()) if (k.startsWith(prefix)) n++;
      return { revision: rev, count: n };
    },
    async create(key, value) {
      if (!key) throw new InvalidArgumentError('empty key is not allowed');
      if (live.has(key)) throw new AlreadyExistsError(`key ${key} exists`);
      rev++;
      const kv = { key, value, createRevision: rev, modRevision: rev };
      live.set(key, kv);
      emit({ type: 'put', kv });
      return { revision: rev, kv };
    },
    async update(key, value, expected) {
      const prev = live.get(key);
      if (!prev) throw new NotFoundError(`key ${key} not found`);
      if (expected && prev.modRevision !== expected) throw new ConflictError(`key ${key} was modified`);
      rev++;
      const kv = { key, value, createRevision: prev.createRevision, modRevision: rev };
      live.set(key, kv);
      emit({ type: 'put', kv, prevKv: prev });
      return { revision: rev, kv };
    },
    async delete(key, expected) {
      const prev = live.get(key);
      if (!prev) throw new NotFoundError(`key ${key} not found`);
      if (expected && prev.modRevision !== expected) throw new ConflictError(`key ${key} was modified`);
      rev++;
      live.delete(key);
      const kv = { ...prev, modRevision: rev };
      emit({ type: 'delete', kv, prevKv: prev });
      return { revision: rev, kv };
    },
    watch(prefix, afterRevision): Watch {
      const queue: WatchEvent[][] = [];
      let wake: (() => void) | undefined;
      let closed = false;
      let gone = afterRevision < compacted;
      const w: Waiter = { prefix, push: (ev) => { if (ev.kv.modRevision > afterRevision) { queue.push([ev]); wake?.(); } } };
      if (!gone) {
        const backlog = history.filter((e) => e.kv.modRevision > afterRevision && e.kv.key.startsWith(prefix));
        if (backlog.length) queue.push(backlog);
        waiters.add(w);
      }
      const close = () => { closed = true; waiters.delete(w); wake?.(); };
      return {
        close,
        async *[Symbol.asyncIterator]() {
          if (gone) throw new GoneError(`revision ${afterRevision} has been compacted`);
          try {
            while (!closed) {
              if (queue.length) { yield queue.splice(0).flat(); continue; }
              await new Promise<void>((r) => (wake = r));
              wake = undefined;
            }
          } finally { close(); }
        },
      };
    },
    async compact(revision) {
      if (revision <= compacted) return;
      compacted = Math.min(revision, rev);
      while (history.length && history[0].kv.modRevision <= compacted) {
        const ev = history.shift()!;
        if (ev.type === 'put') base.set(ev.kv.key, ev.kv); else base.delete(ev.kv.key);
      }
    },
    async close() { for (const w of [...waiters]) waiters.delete(w); },
  };
  return backend;
}
