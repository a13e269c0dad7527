/**
 * A Backend (src/store/types.ts) on a real etcd 3.4 through its v3 JSON gateway
 * (/v3/kv/range, /v3/kv/txn, /v3/kv/deleterange, /v3/kv/compaction, /v3/watch): etcd's own
 * revisions, CAS as transactions on mod_revision, watches as streamed JSON lines.
 * Keys and values travel base64-encoded; int64s travel as strings.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError, UnavailableError } from '../core/errors.js';
import type { Backend, KeyValue, ListOptions, Watch, WatchEvent } from './types.js';
import { compactedError } from './watch-hub.js';

/** How to reach etcd. */
export interface EtcdOptions {
  /** PEM CA, client certificate and key for an https endpoint. */
  ca?: string;
  cert?: string;
  key?: string;
}

interface EtcdKv { key: string; value?: string; create_revision?: string; mod_revision?: string }

const enc = (s: string | Buffer) => Buffer.from(s).toString('base64');
const NUL = enc(Buffer.from([0]));

/** etcd's range end for a prefix: the prefix with its last byte incremented ("\0" = to the end). */
function rangeEnd(prefix: string): string {
  if (!prefix) return NUL;
  const b = Buffer.from(prefix, 'utf8');
  b[b.length - 1]++; // the last byte of UTF-8 is below 0xff, no carry
  return enc(b);
}

function toKv(k: EtcdKv): KeyValue {
  return {
    key: Buffer.from(k.key, 'base64').toString('utf8'),
    value: Buffer.from(k.value ?? '', 'base64'),
    createRevision: Number(k.create_revision ?? 0),
    modRevision: Number(k.mod_revision ?? 0),
  };
}

/** Opens a backend on the etcd at `endpoint` (e.g. http://127.0.0.1:2379); checks it answers. */
export async function openEtcdBackend(endpoint: string, opts: EtcdOptions = {}): Promise<Backend> {
  const b = new EtcdBackend(endpoint.replace(/\/+$/, ''), opts);
  await b.currentRevision();
  return b;
}

class EtcdBackend implements Backend {
  private readonly agent: Dispatcher;
  private readonly watches = new Set<() => void>();

  constructor(private readonly base: string, opts: EtcdOptions) {
    this.agent = new Agent({ connections: 64, connect: opts.ca ? { ca: opts.ca, cert: opts.cert, key: opts.key } : undefined });
  }

  /** One gateway call; etcd's errors become Skiff's. */
  private async call(path: string, body: unknown): Promise<any> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.base}/v3/${path}`, { method: 'POST', body: JSON.stringify(body), dispatcher: this.agent });
    } catch (err) {
      throw new UnavailableError(`etcd at ${this.base} is unreachable: ${(err as Error).message}`, { cause: err });
    }
    const out = (await res.body.json()) as any;
    if (res.statusCode !== 200 || out.error) {
      const msg = String(out.message ?? out.error ?? `HTTP ${res.statusCode}`);
      if (/has been compacted/.test(msg)) throw compactedError(Number((body as any).revision ?? 0), await this.compactRevision());
      if (/key is not provided/.test(msg)) throw new InvalidArgumentError('key is not provided');
      if (/future revision/.test(msg)) throw new InvalidArgumentError(msg.replace(/^etcdserver: /, ''));
      throw new UnavailableError(`etcd ${path}: ${msg}`);
    }
    return out;
  }

  async currentRevision(): Promise<number> {
    const r = await this.call('kv/range', { key: NUL, count_only: true });
    return Number(r.header.revision);
  }

  /** etcd does not report its compact revision; find the oldest readable one by bisection. */
  async compactRevision(): Promise<number> {
    let hi = await this.currentRevision();
    let lo = 1;
    const readable = async (rev: number) => {
      const res = await request(`${this.base}/v3/kv/range`, { method: 'POST', dispatcher: this.agent, body: JSON.stringify({ key: NUL, revision: String(rev), count_only: true }) });
      const out = (await res.body.json()) as any;
      return !(out.error && /compacted/.test(String(out.message)));
    };
    if (await readable(lo)) return 0;
    while (lo + 1 < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await readable(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  async get(key: string, revision?: number): Promise<{ revision: number; kv?: KeyValue }> {
    const r = await this.call('kv/range', { key: enc(key), revision: revision ? String(revision) : undefined });
    return { revision: revision || Number(r.header.revision), kv: r.kvs?.length ? toKv(r.kvs[0]) : undefined };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<{ revision: number; kvs: KeyValue[]; more: boolean }> {
    const from = opts.startKey && Buffer.compare(Buffer.from(opts.startKey), Buffer.from(prefix)) > 0 ? opts.startKey : prefix;
    const r = await this.call('kv/range', {
      key: from ? enc(from) : NUL,
      range_end: rangeEnd(prefix),
      revision: opts.revision ? String(opts.revision) : undefined,
      limit: opts.limit ? String(opts.limit) : undefined,
    });
    return { revision: opts.revision || Number(r.header.revision), kvs: (r.kvs ?? []).map(toKv), more: !!r.more };
  }

  async count(prefix: string): Promise<{ revision: number; count: number }> {
    const r = await this.call('kv/range', { key: prefix ? enc(prefix) : NUL, range_end: rangeEnd(prefix), count_only: true });
    return { revision: Number(r.header.revision), count: Number(r.count ?? 0) };
  }

  async create(key: string, value: Buffer): Promise<{ revision: number; kv: KeyValue }> {
    const k = enc(key);
    const r = await this.call('kv/txn', {
      compare: [{ target: 'CREATE', key: k, create_revision: '0' }],
      success: [{ request_put: { key: k, value: enc(value) } }],
    });
    if (!r.succeeded) throw new AlreadyExistsError(`key ${key} already exists`);
    const rev = Number(r.header.revision);
    return { revision: rev, kv: { key, value, createRevision: rev, modRevision: rev } };
  }

  /** A put or delete guarded by mod_revision (or by existence when `expected` is 0). */
  private async guarded(key: string, expected: number, op: object): Promise<any> {
    const k = enc(key);
    const r = await this.call('kv/txn', {
      compare: [expected
        ? { target: 'MOD', key: k, mod_revision: String(expected) }
        : { target: 'CREATE', key: k, result: 'GREATER', create_revision: '0' }],
      success: [op],
      failure: [{ request_range: { key: k, count_only: true } }],
    });
    if (!r.succeeded) {
      const exists = Number(r.responses?.[0]?.response_range?.count ?? 0) > 0;
      if (!exists) throw new NotFoundError(`key ${key} not found`);
      throw new ConflictError(`key ${key} was modified (expected revision ${expected})`);
    }
    return r;
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<{ revision: number; kv: KeyValue }> {
    const r = await this.guarded(key, expectedModRevision, { request_put: { key: enc(key), value: enc(value), prev_kv: true } });
    const rev = Number(r.header.revision);
    const prev = r.responses[0].response_put.prev_kv as EtcdKv;
    return { revision: rev, kv: { key, value, createRevision: Number(prev.create_revision), modRevision: rev } };
  }

  async delete(key: string, expectedModRevision = 0): Promise<{ revision: number; kv: KeyValue }> {
    const r = await this.guarded(key, expectedModRevision, { request_delete_range: { key: enc(key), prev_kv: true } });
    const rev = Number(r.header.revision);
    return { revision: rev, kv: { ...toKv(r.responses[0].response_delete_range.prev_kvs[0]), modRevision: rev } };
  }

  watch(prefix: string, afterRevision: number): Watch {
    const ac = new AbortController();
    const close = () => {
      ac.abort();
      this.watches.delete(close);
    };
    this.watches.add(close);
    const self = this;
    const body = { create_request: { key: prefix ? enc(prefix) : NUL, range_end: rangeEnd(prefix), start_revision: String(afterRevision + 1), prev_kv: true } };
    return {
      close,
      async *[Symbol.asyncIterator]() {
        try {
          const res = await request(`${self.base}/v3/watch`, { method: 'POST', body: JSON.stringify(body), signal: ac.signal, dispatcher: self.agent });
          let buf = '';
          for await (const chunk of res.body) {
            buf += chunk.toString();
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (!line) continue;
              const msg = JSON.parse(line);
              const result = msg.result ?? {};
              if (msg.error) throw new UnavailableError(`etcd watch: ${msg.error.message ?? JSON.stringify(msg.error)}`);
              if (result.compact_revision && result.compact_revision !== '0') throw compactedError(afterRevision, Number(result.compact_revision));
              if (result.canceled) throw new UnavailableError(`etcd cancelled the watch: ${result.cancel_reason ?? ''}`);
              const events: WatchEvent[] = (result.events ?? []).map((e: any) => {
                const prevKv = e.prev_kv ? toKv(e.prev_kv) : undefined;
                if (e.type === 'DELETE') return { type: 'delete', kv: { ...prevKv!, modRevision: Number(e.kv.mod_revision) }, prevKv };
                return prevKv ? { type: 'put', kv: toKv(e.kv), prevKv } : { type: 'put', kv: toKv(e.kv) };
              });
              if (events.length) yield events;
            }
          }
        } catch (err) {
          if (!ac.signal.aborted) throw err;
        } finally {
          close();
        }
      },
    };
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call('kv/compaction', { revision: String(revision), physical: true });
    } catch (err) {
      if ((err as { code?: string }).code !== 'GONE') throw err; // already compacted further: nothing to do
    }
  }

  async close(): Promise<void> {
    for (const c of [...this.watches]) c();
    await this.agent.close();
  }
}
