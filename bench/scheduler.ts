/**
 * Scheduler throughput with the API server in the same process (the shape of `skiff server`
 * on one machine): 100 simulated nodes (SimNodes, kwok-like: they also move bound pods to
 * Running, so their status writes compete for the same CPU), 3,000 pods created by 32
 * concurrent clients, pods/s from the first create to the last binding seen on a watch.
 * Reported beside kube-scheduler's CI threshold (SchedulingBasic, ~270 pods/s at 5,000 nodes)
 * and the goal (500 pods/s). Also: the same with every pod carrying a zone topology spread
 * constraint (kube-scheduler's TopologySpreading workload), and the scheduling cycle alone
 * (filter + score over the in-memory cache, no API) to show where the time goes.
 *
 *   node dist/bench/scheduler.js [--pods 3000] [--nodes 100] [--store sqlite|memory] [--spread-pods 1000]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiServer } from '../src/apiserver/server.js';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { InformerFactory } from '../src/controllers/runtime/informer.js';
import { ApiEventRecorder } from '../src/controllers/runtime/events.js';
import { realClock } from '../src/controllers/runtime/clock.js';
import { silentLog } from '../src/controllers/runtime/controller.js';
import { SimNodes } from '../src/sim/nodes.js';
import { Scheduler } from '../src/scheduler/scheduler.js';
import { NodeInfo } from '../src/scheduler/nodeinfo.js';
import { runCycle } from '../src/scheduler/cycle.js';
import { DEFAULT_PLUGINS } from '../src/scheduler/plugins/index.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const PODS = Number(opt('pods', '3000'));
const NODES = Number(opt('nodes', '100'));
const SPREAD_PODS = Number(opt('spread-pods', '1000'));
const STORE = opt('store', 'sqlite');
const CLIENTS = 32;
const KUBE_CI = 270;
const GOAL = 500;
const ZONES = ['moon-1', 'moon-2', 'moon-3'];

const podSpec = (name: string, spread: boolean): KObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: 'sched', ...(spread ? { color: 'blue' } : {}) } },
  spec: {
    containers: [{ name: 'c', image: 'registry.invalid/pause:3.9', resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
    // kube-scheduler's pod-with-topology-spreading.yaml: zones, DoNotSchedule, maxSkew 5.
    ...(spread ? { topologySpreadConstraints: [{ maxSkew: 5, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { color: 'blue' } } }] } : {}),
  },
});

/** Creates `count` pods from CLIENTS concurrent clients; resolves with ms from the first create to the last binding (and to the last create). */
async function run(client: ApiClient, prefix: string, count: number, spread: boolean): Promise<{ created: number; total: number; boundAtCreated: number }> {
  const start = await client.list(R.pods, 'default', { limit: 1 });
  const w = client.watch(R.pods, 'default', { resourceVersion: start.metadata.resourceVersion, labelSelector: 'bench=sched' });
  const seen = new Set<string>();
  let done!: () => void;
  const allBound = new Promise<void>((r) => { done = r; });
  const watching = (async () => {
    for await (const e of w) {
      const n = e.object.metadata.name!;
      if (n.startsWith(prefix) && e.object.spec?.nodeName && !seen.has(n)) { seen.add(n); if (seen.size === count) done(); }
    }
  })();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < count) await client.create(R.pods, 'default', podSpec(`${prefix}${next++}`, spread));
  }));
  const created = performance.now() - t0;
  const boundAtCreated = seen.size;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([allBound, new Promise((_, fail) => { timer = setTimeout(() => fail(new Error(`only ${seen.size}/${count} pods bound after 300 s`)), 300_000); })]);
  clearTimeout(timer);
  const total = performance.now() - t0;
  w.close();
  await watching.catch(() => {});
  return { created, total, boundAtCreated };
}

/** The cycle alone: PODS pods placed one by one on NODES in-memory nodes (filter + score + assume). */
function cycleOnly(spread: boolean): number {
  const infos: NodeInfo[] = [];
  for (let i = 0; i < NODES; i++) {
    infos.push(new NodeInfo({
      metadata: { name: `sim-${i}`, labels: { 'kubernetes.io/hostname': `sim-${i}`, 'topology.kubernetes.io/zone': ZONES[i % 3] } },
      status: { allocatable: { cpu: '32', memory: '128Gi', pods: '110' } },
    }));
  }
  const byName = new Map(infos.map((n) => [n.name, n]));
  const n = spread ? SPREAD_PODS : PODS;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const base = podSpec(`p${i}`, spread);
    const pod: KObject = { ...base, metadata: { ...base.metadata, namespace: 'default' } };
    const snap = { nodes: infos, get: (x: string) => byName.get(x), havePodsWithAffinity: [] };
    const r = runCycle(DEFAULT_PLUGINS, pod, snap);
    if (r.node === undefined) throw new Error(`pod ${i} did not fit: ${r.message}`);
    byName.get(r.node)!.addPod(`default/p${i}`, { ...pod, spec: { ...pod.spec, nodeName: r.node } });
  }
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-scheduler-'));
  const store = STORE === 'memory' ? 'memory://' : `sqlite://${path.join(root, 'state.db')}`;
  const api = await startApiServer({ root, port: 0, store });
  const client = await ApiClient.fromKubeconfig(api.kubeconfig);
  const informers = new InformerFactory(client);
  const recorder = new ApiEventRecorder(client, 'default-scheduler', realClock);
  const scheduler = new Scheduler({ client, informers, clock: realClock, recorder, log: silentLog }).run();
  informers.start();
  const sim = new SimNodes(client, { heartbeatMs: 10_000, concurrency: 16 });
  try {
    await sim.start();
    for (let i = 0; i < NODES; i += 16) {
      await Promise.all(Array.from({ length: Math.min(16, NODES - i) }, (_, j) => sim.addNode({
        name: `sim-${i + j}`, labels: { 'topology.kubernetes.io/zone': ZONES[(i + j) % 3] }, capacity: { cpu: '32', memory: '128Gi', pods: '110' },
      })));
    }
    await informers.synced();
    const basic = await run(client, 'basic-', PODS, false);
    const spread = SPREAD_PODS > 0 ? await run(client, 'spread-', SPREAD_PODS, true) : undefined;
    const rate = PODS / (basic.total / 1000);
    const cycle = cycleOnly(false);
    const cycleSpread = cycleOnly(true);
    console.log(`\n## Scheduler throughput: ${PODS} pods on ${NODES} simulated nodes, API server in process (${STORE}), ${os.cpus().length} CPUs\n`);
    console.log('| measure | Skiff | reference | ratio |');
    console.log('|---|---|---|---|');
    console.log(`| ${PODS} pods created (${CLIENTS} concurrent clients) | ${(basic.created / 1000).toFixed(2)} s | - | - |`);
    console.log(`| bindings seen when the last create returned | ${basic.boundAtCreated} | - | - |`);
    console.log(`| first create to last binding | ${(basic.total / 1000).toFixed(2)} s | - | - |`);
    console.log(`| throughput | ${rate.toFixed(0)} pods/s | kube-scheduler CI SchedulingBasic ~${KUBE_CI} pods/s (5,000 nodes) | ${(rate / KUBE_CI).toFixed(2)}x |`);
    console.log(`| throughput vs goal | ${rate.toFixed(0)} pods/s | goal >= ${GOAL} pods/s | ${(rate / GOAL).toFixed(2)}x ${rate >= GOAL ? '(met)' : '(MISSED)'} |`);
    if (spread) {
      const r = SPREAD_PODS / (spread.total / 1000);
      console.log(`| ${SPREAD_PODS} more pods with a zone spread constraint (TopologySpreading) | ${r.toFixed(0)} pods/s | goal >= ${GOAL} pods/s | ${(r / GOAL).toFixed(2)}x |`);
    }
    console.log(`| scheduling cycle alone, ${PODS} plain pods (no API) | ${cycle.toFixed(0)} pods/s | - | - |`);
    console.log(`| scheduling cycle alone, ${SPREAD_PODS} spread pods (no API) | ${cycleSpread.toFixed(0)} pods/s | - | - |`);
    console.log(`\nscheduler stats: ${JSON.stringify(scheduler.stats)}`);
  } finally {
    scheduler.stop();
    sim.stop();
    informers.stop();
    await recorder.flush();
    client.close();
    await api.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err) => { console.error(err); process.exit(1); });
}
