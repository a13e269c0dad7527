/**
 * API server latency: create / get / list / update / watch at concurrency 10, p50 and p99,
 * beside the Kubernetes API SLO (p99 <= 1 s for single-object mutations) and beside a bare
 * etcd 3.4 (Debian etcd-server on loopback, temp data dir) put/get driven by the same load
 * loop through its v3 JSON gateway, in the same run.
 *
 *   node dist/bench/api.js [--seconds 30] [--concurrency 10] [--store sqlite|memory]
 *
 * The server runs as its own process (`skiff server`), as it would in production, so the
 * load generator never shares its event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../src/client/client.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const SECONDS = Number(opt('seconds', '30'));
const CONC = Number(opt('concurrency', '10'));
const STORE = opt('store', 'sqlite');
const SKIFF = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cmd/skiff.js');
const CM = { group: '', version: 'v1', resource: 'configmaps' };

/** Runs `op` from CONC workers for `ms`, returning sorted latencies in ms. */
async function load(ms: number, op: (worker: number, i: number) => Promise<unknown>): Promise<number[]> {
  const lat: number[] = [];
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: CONC }, async (_, w) => {
    for (let i = 0; Date.now() < end; i++) {
      const t = process.hrtime.bigint();
      await op(w, i);
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }));
  return lat.sort((a, b) => a - b);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const row = (what: string, xs: number[], mutating: boolean) =>
  `| ${what} | ${xs.length} | ${pct(xs, 50).toFixed(2)} ms | ${pct(xs, 99).toFixed(2)} ms | ${mutating ? (pct(xs, 99) <= 1000 ? 'met (<= 1 s)' : 'MISSED') : '-'} |`;

async function freePort(): Promise<number> {
  return new Promise((ok) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => ok(p)); }); });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) { if (await check().catch(() => false)) return; await new Promise((r) => setTimeout(r, 50)); }
  throw new Error(`${what} did not start`);
}

async function startSkiff(root: string): Promise<{ proc: ChildProcess; kubeconfig: string }> {
  const store = STORE === 'memory' ? 'memory://' : `sqlite://${path.join(root, 'state.db')}`;
  const proc = spawn(process.execPath, [SKIFF, '--root', root, 'server', '--port', '0', '--store', store], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((ok, fail) => {
    proc.stdout!.on('data', (d) => { out += d; if (out.includes('kubeconfig:')) ok(); });
    proc.on('exit', (code) => fail(new Error(`skiff server exited ${code}`)));
  });
  return { proc, kubeconfig: path.join(root, 'kubeconfig.yaml') };
}

async function benchSkiff(root: string): Promise<string[]> {
  const { proc, kubeconfig } = await startSkiff(root);
  const c = await ApiClient.fromKubeconfig(kubeconfig);
  const phase = (SECONDS * 1000) / 5;
  const rows: string[] = [];
  try {
    const created: string[][] = Array.from({ length: CONC }, () => []);
    rows.push(row('skiff create (configmap)', await load(phase, async (w, i) => {
      const name = `b-${w}-${i}`;
      await c.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { w: String(w) } }, data: { v: '0' } });
      created[w].push(name);
    }), true));
    rows.push(row('skiff get', await load(phase, (w, i) => c.get(CM, 'default', created[w][i % created[w].length])), false));
    rows.push(row('skiff list (limit 100)', await load(phase, () => c.list(CM, 'default', { limit: 100 })), false));
    // Update while a watcher measures write-acknowledged → event-received delay.
    const sent = new Map<string, number>();
    const watchLat: number[] = [];
    const start = await c.list(CM, 'default', { limit: 1 });
    const w = c.watch(CM, 'default', { resourceVersion: start.metadata.resourceVersion });
    const watching = (async () => {
      for await (const e of w) {
        const t = sent.get(`${e.object.metadata.name}/${e.object.data?.v}`);
        if (t !== undefined) watchLat.push(Number(process.hrtime.bigint()) / 1e6 - t);
      }
    })();
    const updates = await load(phase, async (wk, i) => {
      const name = created[wk][i % created[wk].length];
      const cur = await c.get(CM, 'default', name);
      const v = `${wk}-${i}`;
      sent.set(`${name}/${v}`, Number(process.hrtime.bigint()) / 1e6);
      await c.update(CM, 'default', { ...cur, data: { v } });
    });
    rows.push(row('skiff update (GET+PUT)', updates, true));
    // The update latency above includes its GET; time PUTs alone in a second pass.
    const putOnly: number[] = [];
    await load(phase, async (wk, i) => {
      const name = created[wk][i % created[wk].length];
      const cur = await c.get(CM, 'default', name);
      const t = process.hrtime.bigint();
      await c.update(CM, 'default', { ...cur, data: { v: `q${wk}-${i}` } });
      putOnly.push(Number(process.hrtime.bigint() - t) / 1e6);
    });
    rows.push(row('skiff update (PUT alone)', putOnly.sort((a, b) => a - b), true));
    await new Promise((r) => setTimeout(r, 200));
    w.close();
    await watching.catch(() => {});
    rows.push(row('skiff watch delay (PUT sent → event)', watchLat.sort((a, b) => a - b), false));
  } finally {
    c.close();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  return rows;
}

function etcdCall(port: number, op: string, body: unknown): Promise<void> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((ok, fail) => {
    const req = http.request({ host: '127.0.0.1', port, path: `/v3/kv/${op}`, method: 'POST', agent: etcdAgent, headers: { 'Content-Type': 'application/json', 'Content-Length': data.length } }, (res) => {
      res.resume();
      res.on('end', () => ((res.statusCode ?? 500) < 300 ? ok() : fail(new Error(`etcd ${op}: HTTP ${res.statusCode}`))));
    });
    req.on('error', fail);
    req.end(data);
  });
}
const etcdAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

async function benchEtcd(root: string): Promise<string[]> {
  const [cport, pport] = [await freePort(), await freePort()];
  const proc = spawn('etcd', ['--name', 'bench', '--data-dir', path.join(root, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${cport}`,
    '--advertise-client-urls', `http://127.0.0.1:${cport}`, '--listen-peer-urls', `http://127.0.0.1:${pport}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${pport}`, '--initial-cluster', `bench=http://127.0.0.1:${pport}`, '--log-level', 'error'], { stdio: 'ignore' });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const rows: string[] = [];
  try {
    await waitFor(() => etcdCall(cport, 'range', { key: b64('x') }).then(() => true), 'etcd');
    const phase = (SECONDS * 1000) / 5;
    const value = b64(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' }, data: { v: '0' } }));
    rows.push(row('etcd put (new key)', await load(phase, (w, i) => etcdCall(cport, 'put', { key: b64(`/registry/configmaps/default/b-${w}-${i}`), value })), true));
    rows.push(row('etcd get (range one key)', await load(phase, (w, i) => etcdCall(cport, 'range', { key: b64(`/registry/configmaps/default/b-${w}-${i % 50}`) })), false));
    rows.push(row('etcd put (overwrite)', await load(phase, (w, i) => etcdCall(cport, 'put', { key: b64(`/registry/configmaps/default/b-${w}-${i % 50}`), value })), true));
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    etcdAgent.destroy();
  }
  return rows;
}

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-api-'));
try {
  console.log(`# API latency: ${SECONDS} s, concurrency ${CONC}, skiff store ${STORE}, ${os.cpus().length} cores`);
  const skiff = await benchSkiff(path.join(root, 'skiff'));
  const etcd = await benchEtcd(root);
  console.log('\n| operation | requests | p50 | p99 | SLO (mutating p99 <= 1 s) |\n| --- | --- | --- | --- | --- |');
  for (const r of [...skiff, ...etcd]) console.log(r);
} finally {
  await fs.rm(root, { recursive: true, force: true });
}
