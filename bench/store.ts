/**
 * Raw store latency: create / get / list / update (CAS) and watch delivery through the
 * Backend interface at concurrency 10, p50 and p99, for the embedded SQLite backend and for
 * a bare etcd 3.4 (Debian etcd-server on loopback, temp data dir) driven by the same load
 * loop through the same interface (src/store/etcd.ts, v3 JSON gateway), in the same run.
 *
 *   node dist/bench/store.js [--seconds 5] [--concurrency 10] [--only sqlite|etcd]
 *
 * SQLite is embedded, so it shares this process's event loop with the load generator (as it
 * shares the API server's); etcd runs as its own process and is reached over HTTP/JSON.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openSqliteBackend } from '../src/store/sqlite.js';
import { openEtcdBackend } from '../src/store/etcd.js';
import { startEtcd } from '../src/store/etcd-process.js';
import type { Backend } from '../src/store/types.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const SECONDS = Number(opt('seconds', '5'));
const CONC = Number(opt('concurrency', '10'));
const ONLY = opt('only', '');
const VALUE = Buffer.alloc(1024, 'x'); // about the size of a small API object's JSON

/** Runs `op` from CONC workers for SECONDS, returning sorted latencies in ms. */
async function load(op: (worker: number, i: number) => Promise<unknown>): Promise<number[]> {
  const lat: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONC }, async (_, w) => {
    for (let i = 0; Date.now() < end; i++) {
      const t = process.hrtime.bigint();
      await op(w, i);
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      // SQLite reads resolve without I/O; without this the workers would spin on microtasks
      // and never let the event loop turn (real callers arrive through I/O).
      await new Promise((r) => setImmediate(r));
    }
  }));
  return lat.sort((a, b) => a - b);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

/** Measures one backend; returns table rows. */
async function measure(name: string, s: Backend): Promise<string[]> {
  const rows: string[] = [];
  // How long this process's event loop is blocked: the embedded store's synchronous work shows here.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const report = (what: string, xs: number[]) =>
    rows.push(`| ${name} | ${what} | ${xs.length} | ${(xs.length / SECONDS).toFixed(0)}/s | ${pct(xs, 50).toFixed(2)} ms | ${pct(xs, 99).toFixed(2)} ms |`);
  const mine: { key: string; rev: number }[][] = Array.from({ length: CONC }, () => []);
  report('create', await load(async (w, i) => {
    const key = `/bench/objs/${w}-${i}`;
    const r = await s.create(key, VALUE);
    mine[w].push({ key, rev: r.revision });
  }));
  const all = mine.flat();
  report('get', await load(async () => s.get(all[Math.floor(Math.random() * all.length)].key)));
  for (let i = 0; i < 100; i++) await s.create(`/bench/list/${i}`, VALUE);
  report('list (100 keys)', await load(async () => s.list('/bench/list/')));
  // Watch delivery: from the start of an update to its event reaching a watcher of the prefix.
  const started = new Map<string, bigint>();
  const delivery: number[] = [];
  const w = s.watch('/bench/objs/', await s.currentRevision());
  const reader = (async () => {
    for await (const batch of w) {
      const now = process.hrtime.bigint();
      for (const ev of batch) {
        const t = started.get(ev.kv.key);
        if (t !== undefined) delivery.push(Number(now - t) / 1e6);
      }
    }
  })();
  report('update (CAS)', await load(async (wk, i) => {
    const own = mine[wk][i % mine[wk].length];
    started.set(own.key, process.hrtime.bigint());
    const r = await s.update(own.key, VALUE, own.rev);
    own.rev = r.revision;
  }));
  await new Promise((r) => setTimeout(r, 200)); // let the last events arrive before closing
  w.close();
  await reader.catch(() => {});
  report('watch delivery', delivery.sort((a, b) => a - b));
  loop.disable();
  rows.push(`| ${name} | event-loop delay (whole run) | - | - | ${(loop.percentile(50) / 1e6).toFixed(2)} ms | ${(loop.percentile(99) / 1e6).toFixed(2)} ms (max ${(loop.max / 1e6).toFixed(1)} ms) |`);
  return rows;
}

const out: string[] = [
  `Store benchmark: ${SECONDS} s per operation, concurrency ${CONC}, 1 KiB values, ${os.cpus().length} CPUs, Node ${process.version}`,
  '',
  '| backend | operation | ops | rate | p50 | p99 |',
  '|---|---|---|---|---|---|',
];
if (ONLY !== 'etcd') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skiff-bench-store-'));
  try {
    const s = await openSqliteBackend(path.join(dir, 'state.db'), { compactIntervalMs: 0 });
    out.push(...(await measure('sqlite', s)));
    await s.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
if (ONLY !== 'sqlite') {
  const etcd = await startEtcd();
  try {
    const s = await openEtcdBackend(etcd.endpoint);
    out.push(...(await measure('etcd 3.4', s)));
    await s.close();
  } finally {
    await etcd.stop();
  }
}
console.log(out.join('\n'));
