/**
 * Control-plane throughput end to end: `kubectl apply` of a Deployment of N replicas (default
 * 1,000) to every pod Running on M simulated nodes (default 100), through the real `skiff
 * server` process (API server + scheduler + controllers), the real kubectl, and SimNodes (a
 * kwok-like stand-in for kubelets, in this process). Reports the total time, pods/s and each
 * pod's startup latency (created -> Running observed) p50/p99 beside Kubernetes' pod startup
 * SLO (p99 <= 5 s, excluding image pulls, which simulated nodes do not do).
 *
 *   node dist/bench/deployment.js [--replicas 1000] [--nodes 100] [--kubectl 1.33]
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { SimNodes } from '../src/sim/nodes.js';
import { kubectlBin } from '../test/helpers/apiserver.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const REPLICAS = Number(opt('replicas', '1000'));
const PODS = Number(opt('pods', '3000'));
const NODES = Number(opt('nodes', '100'));
const KUBECTL = opt('kubectl', '1.33');
const SKIFF = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cmd/skiff.js');

/** Starts `skiff server` on a free port; resolves with the process and its kubeconfig. */
export async function startServerProcess(root: string, extra: string[] = []): Promise<{ proc: ChildProcess; kubeconfig: string }> {
  const proc = spawn(process.execPath, [SKIFF, '--root', root, 'server', '--port', '0', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((ok, fail) => {
    proc.stdout!.on('data', (d) => { out += d; if (out.includes('skiff: running')) ok(); });
    proc.on('exit', (code) => fail(new Error(`skiff server exited ${code}`)));
  });
  return { proc, kubeconfig: path.join(root, 'kubeconfig.yaml') };
}

/** Rejects with `message` after 300 s; its timer does not keep the benchmark process alive. */
const deadline = (message: string) => new Promise((_, fail) => setTimeout(() => fail(new Error(message)), 300_000).unref());

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

/** Scheduling throughput with only the scheduler running. */
async function benchScheduling(): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-sched-'));
  const { proc, kubeconfig } = await startServerProcess(root, ['--disable', 'controllers']);
  const client = await ApiClient.fromKubeconfig(kubeconfig);
  const sim = new SimNodes(client, { heartbeatMs: 10_000, concurrency: 16 });
  try {
    await sim.addNodes(NODES, 'sim', { capacity: { cpu: '32', memory: '128Gi', pods: '110' } });
    let bound = 0;
    let done!: () => void;
    const allBound = new Promise<void>((r) => { done = r; });
    const start = await client.list(R.pods, 'default', { limit: 1 });
    const w = client.watch(R.pods, 'default', { resourceVersion: start.metadata.resourceVersion, labelSelector: 'bench=sched' });
    const seen = new Set<string>();
    const watching = (async () => {
      for await (const e of w) {
        if (e.object.spec?.nodeName && !seen.has(e.object.metadata.name!)) { seen.add(e.object.metadata.name!); if (++bound === PODS) done(); }
      }
    })();
    const t0 = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < PODS) {
        const i = next++;
        await client.create(R.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, labels: { bench: 'sched' } }, spec: { containers: [{ name: 'c', image: 'registry.invalid/pause:3.9', resources: { requests: { cpu: '100m', memory: '64Mi' } } }] } });
      }
    }));
    const created = Date.now() - t0;
    await Promise.race([allBound, deadline(`only ${bound}/${PODS} pods bound after 300 s`)]);
    const total = Date.now() - t0;
    w.close();
    await watching.catch(() => {});
    const rate = PODS / (total / 1000);
    console.log(`\n## Scheduling throughput: ${PODS} pods on ${NODES} simulated nodes\n`);
    console.log('| measure | value | reference | ratio |');
    console.log('|---|---|---|---|');
    console.log(`| pods created (32 concurrent clients) | ${(created / 1000).toFixed(2)} s | - | - |`);
    console.log(`| first create to last binding | ${(total / 1000).toFixed(2)} s | - | - |`);
    console.log(`| throughput | ${rate.toFixed(0)} pods/s | kube-scheduler CI SchedulingBasic ~270 pods/s (5,000 nodes) | ${(rate / 270).toFixed(2)}x |`);
    console.log(`| throughput vs goal | ${rate.toFixed(0)} pods/s | goal >= 500 pods/s | ${(rate / 500).toFixed(2)}x |`);
  } finally {
    sim.stop();
    client.close();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    await fs.rm(root, { recursive: true, force: true });
  }
}

/** kubectl apply of a big Deployment to all pods Running. */
async function benchDeployment(): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-deploy-'));
  const { proc, kubeconfig } = await startServerProcess(root);
  const client = await ApiClient.fromKubeconfig(kubeconfig);
  const sim = new SimNodes(client, { heartbeatMs: 10_000, concurrency: 64 });
  try {
    await sim.start();
    await sim.addNodes(NODES, 'sim', { capacity: { cpu: '32', memory: '128Gi', pods: '110' } });
    const created = new Map<string, number>();
    const latencies: number[] = [];
    let done!: () => void;
    const allRunning = new Promise<void>((r) => { done = r; });
    const start = await client.list(R.pods, 'default', { limit: 1 });
    const w = client.watch(R.pods, 'default', { resourceVersion: start.metadata.resourceVersion, labelSelector: 'app=bench' });
    const watching = (async () => {
      for await (const e of w) {
        const name = e.object.metadata.name!;
        // creationTimestamp has second precision: time from the ADDED event instead.
        if (!created.has(name)) created.set(name, Date.now());
        if (e.object.status?.phase === 'Running' && created.get(name)! >= 0) {
          latencies.push(Date.now() - created.get(name)!);
          created.set(name, -1);
          if (latencies.length === REPLICAS) done();
        }
      }
    })();
    const manifest = JSON.stringify({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bench', namespace: 'default' },
      spec: {
        replicas: REPLICAS, selector: { matchLabels: { app: 'bench' } },
        template: { metadata: { labels: { app: 'bench' } }, spec: { containers: [{ name: 'c', image: 'registry.invalid/pause:3.9', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
      },
    });
    const t0 = Date.now();
    await new Promise<void>((ok, fail) => {
      const child = execFile(kubectlBin(KUBECTL), ['apply', '-f', '-'], { env: { PATH: process.env.PATH, HOME: root, KUBECONFIG: kubeconfig } }, (err, _o, stderr) => (err ? fail(new Error(stderr)) : ok()));
      child.stdin!.end(manifest);
    });
    const applied = Date.now() - t0;
    await Promise.race([allRunning, deadline(`only ${latencies.length}/${REPLICAS} pods Running after 300 s`)]);
    const total = Date.now() - t0;
    w.close();
    await watching.catch(() => {});
    latencies.sort((a, b) => a - b);
    console.log(`\n## kubectl apply of a ${REPLICAS}-replica Deployment to all pods Running (${NODES} simulated nodes, kubectl ${KUBECTL})\n`);
    console.log('| measure | value | reference | ratio |');
    console.log('|---|---|---|---|');
    console.log(`| kubectl apply returns | ${applied} ms | - | - |`);
    console.log(`| all ${REPLICAS} pods Running | ${(total / 1000).toFixed(2)} s | - | - |`);
    console.log(`| throughput | ${(REPLICAS / (total / 1000)).toFixed(0)} pods/s | - | - |`);
    console.log(`| pod startup p50 | ${pct(latencies, 50)} ms | SLO p99 <= 5000 ms | ${(pct(latencies, 50) / 5000).toFixed(2)}x |`);
    console.log(`| pod startup p99 | ${pct(latencies, 99)} ms | SLO p99 <= 5000 ms | ${(pct(latencies, 99) / 5000).toFixed(2)}x |`);

    // Then the cascade back: the Deployment deleted (background propagation), its ReplicaSet
    // and every pod collected by the garbage collector, each pod's graceful deletion finished
    // by its simulated node. Against the way up in the same run.
    const t1 = Date.now();
    await new Promise<void>((ok, fail) => {
      execFile(kubectlBin(KUBECTL), ['delete', 'deployment', 'bench'], { env: { PATH: process.env.PATH, HOME: root, KUBECONFIG: kubeconfig } }, (err, _o, stderr) => (err ? fail(new Error(stderr)) : ok()));
    });
    for (;;) {
      const left = await client.list(R.pods, 'default', { labelSelector: 'app=bench', limit: 1 });
      if (!left.items.length) break;
      if (Date.now() - t1 > 300_000) throw new Error('pods of the deleted Deployment still there after 300 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const gone = Date.now() - t1;
    console.log(`| kubectl delete deployment → all ${REPLICAS} pods gone | ${(gone / 1000).toFixed(2)} s | the way up: ${(total / 1000).toFixed(2)} s | ${(gone / total).toFixed(2)}x |`);
  } finally {
    sim.stop();
    client.close();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    await fs.rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!process.argv.includes("--no-scheduling")) await benchScheduling();
  await benchDeployment();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err) => { console.error(err); process.exit(1); });
}
