/**
 * Pod startup latency through `skiff up` (issue #7), as Kubernetes' SLI defines it: from the
 * pod's creation to its Running status observed by a watch, the image already present.
 *  1. `skiff up` (its own process) from spawn to the node's Ready condition seen through the API;
 *     its resident memory once idle.
 *  2. One pod at a time, N trials (p50, p99), each deleted before the next.
 *  3. A 30-replica Deployment applied at once: time until every pod is Running; the CPU time
 *     used meanwhile by skiff up and the processes it starts (a cpuacct cgroup; the containers
 *     have their own cgroups); the up process' resident memory with those 30 pods running.
 *  4. The peer: `podman kube play` of the same 30-replica Deployment on the same machine (same
 *     image, loaded from `skiff save`; private storage, runc, netavark), timed until it returns
 *     (it returns once the containers are started).
 * Reported beside the Kubernetes SLO (p99 ≤ 5 s) and the goals of issue #7.
 *
 *   npm run build && node dist/bench/podstartup.js [--trials 20] [--replicas 30] [--no-podman] [--profile DIR]
 * --profile writes CPU profiles of the `skiff up` process' threads (node --cpu-prof) to DIR.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApiClient, type KObject } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { ensureBusyboxImage, SKIFF } from '../test/helpers/images.js';

const exec = promisify(execFile);
const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : def; };
const TRIALS = arg('--trials', 20);
const REPLICAS = arg('--replicas', 30);
const PODMAN = !process.argv.includes('--no-podman');
const PROFILE = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : undefined;
const IMAGE = 'busybox:latest';

/** CPU seconds of a /proc stat line: [utime+stime, cutime+cstime] (fields 14-17). */
function statCpu(stat: string): [number, number] {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 100; // USER_HZ
  return [(Number(f[11]) + Number(f[12])) / tick, (Number(f[13]) + Number(f[14])) / tick];
}

/**
 * Where skiff up's CPU goes, by thread and helper process: the up process' threads (by name),
 * its child processes (the spawn helpers, whose reaped children are the CNI plugins, runc
 * start/delete, mount, unshare ...), and conmon (with its reaped `runc create`).
 */
async function cpuBreakdown(upPid: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const add = (k: string, v: number) => out.set(k, (out.get(k) ?? 0) + v);
  for (const tid of await fs.readdir(`/proc/${upPid}/task`).catch(() => [] as string[])) {
    const comm = (await fs.readFile(`/proc/${upPid}/task/${tid}/comm`, 'utf8').catch(() => '?')).trim();
    const [own] = statCpu(await fs.readFile(`/proc/${upPid}/task/${tid}/stat`, 'utf8').catch(() => ') x 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0'));
    add(`up: thread ${tid === String(upPid) ? "main (control plane)" : `${comm} ${tid}`}`, own);
  }
  for (const pid of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [own, kids] = statCpu(stat);
    if (ppid === upPid) { add(`child ${comm} (own)`, own); add(`child ${comm}: its reaped children`, kids); }
    else if (comm === 'conmon') { add('conmon (own)', own); add('conmon: reaped runc create', kids); }
  }
  return out;
}

/** The cgroup (v1 cpuacct) that skiff up and its helper processes run in. */
const CPUACCT = `/sys/fs/cgroup/cpuacct/skiff-bench-${process.pid}`;
/** CPU seconds used so far in CPUACCT; -1 where the cgroup could not be made (cgroup v2). */
async function cpuSeconds(): Promise<number> {
  return fs.readFile(`${CPUACCT}/cpuacct.usage`, 'utf8').then((t) => Number(t) / 1e9, () => -1);
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const now = () => performance.now();

/** Resident set size of a process, in MiB (VmRSS). */
async function rssMiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const running = (p: KObject) => p.status?.phase === 'Running';

/**
 * Waits until the node has torn down every pod it ran: no container or sandbox record left in
 * the data root. A deleted pod's object goes at once (grace 0), but the agent then still stops
 * its container (`sleep` as PID 1 ignores SIGTERM: the kubelet's 2 s minimum grace) and
 * removes it; a measure taken meanwhile would also count that teardown.
 */
async function settled(root: string): Promise<void> {
  const records = async (dir: string) => (await fs.readdir(path.join(root, dir)).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
  const deadline = now() + 60_000;
  while ((await records('containers')) + (await records('sandboxes')) > 0) {
    if (now() > deadline) throw new Error('the node still holds containers of deleted pods after 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** When each pod was first seen created, bound to the node, and Running (ms, performance.now()). */
interface Seen { added: Map<string, number>; bound: Map<string, number> }

/** Resolves once `want` pods matching `selector` are Running, with the time each was first seen so. */
async function watchUntil(client: ApiClient, selector: string, want: number, marks: Seen = { added: new Map(), bound: new Map() }): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const list = await client.list(R.pods, 'default', { labelSelector: selector });
  for (const p of list.items) if (running(p)) seen.set(p.metadata.name!, now());
  if (seen.size >= want) return seen;
  const w = client.watch(R.pods, 'default', { labelSelector: selector, resourceVersion: list.metadata.resourceVersion });
  // A pod that never runs must end the benchmark with an error, not hang it.
  let expired = false;
  const timer = setTimeout(() => { expired = true; w.close(); }, 120_000);
  try {
    for await (const ev of w) {
      const p = ev.object;
      if (!marks.added.has(p.metadata.name!)) marks.added.set(p.metadata.name!, now());
      if (p.spec?.nodeName && !marks.bound.has(p.metadata.name!)) marks.bound.set(p.metadata.name!, now());
      if ((ev.type === 'ADDED' || ev.type === 'MODIFIED') && running(p) && !seen.has(p.metadata.name!)) {
        seen.set(p.metadata.name!, now());
        if (seen.size >= want) break;
      }
    }
  } finally { clearTimeout(timer); w.close(); }
  if (expired || seen.size < want) throw new Error(`only ${seen.size} of ${want} pods (${selector}) Running after 120 s`);
  return seen;
}

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-startup-'));
  const root = path.join(work, 'skiff');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: work, SKIFF_LOG_LEVEL: 'warn' };
  delete env.NODE_EXTRA_CA_CERTS; // see docs/benchmarks.md
  let proc: ChildProcess | undefined;
  const rows: [string, string, string, string][] = [];
  try {
    await ensureBusyboxImage(root, IMAGE);

    // 1. skiff up → node Ready.
    const t0 = now();
    // In a cpuacct cgroup of its own (exec keeps the pid): the CPU of skiff up and of every
    // process it starts (spawn helper, CNI plugins, conmon, runc) but not the containers'.
    await fs.mkdir(CPUACCT, { recursive: true }).catch(() => {});
    const nodeArgs = [...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', PROFILE] : []), SKIFF, '--root', root, 'up', '--port', '0', '--node-name', 'bench'];
    proc = spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" 2>/dev/null; exec "$@"', CPUACCT, process.execPath, ...nodeArgs], { stdio: ['ignore', 'pipe', 'inherit'], env });
    await new Promise<void>((ok, fail) => {
      let out = '';
      proc!.stdout!.on('data', (d) => { out += d; if (out.includes('kubeconfig:')) ok(); });
      proc!.once('exit', (c) => fail(new Error(`skiff up exited ${c}`)));
    });
    const client = await ApiClient.fromKubeconfig(path.join(root, 'kubeconfig.yaml'));
    for (;;) {
      const node = await client.get(R.nodes, undefined, 'bench').catch(() => undefined);
      if (node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const ready = now() - t0;
    await new Promise((r) => setTimeout(r, 10_000));
    const idle = await rssMiB(proc.pid!);
    rows.push(['skiff up → node Ready', `${(ready / 1000).toFixed(2)} s`, 'goal ≤ 3 s', (ready / 3000).toFixed(2)]);
    rows.push(['skiff up resident memory, idle', `${idle.toFixed(0)} MiB`, 'goal ≤ 150 MB', ((idle * 1.048576) / 150).toFixed(2)]);

    // 2. One pod at a time.
    const single: number[] = [];
    for (let i = -1; i < TRIALS; i++) {
      const name = `single-${i + 1}`;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: name } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } };
      // The watch is open before the create; creationTimestamp is second-granular, so the clock
      // starts when the create is sent.
      const waiting = watchUntil(client, `bench=${name}`, 1);
      const sent = now();
      await client.create(R.pods, 'default', pod);
      const seen = await waiting;
      if (i >= 0) single.push(seen.get(name)! - sent);
      await client.delete(R.pods, 'default', name);
      for (;;) {
        if (!(await client.get(R.pods, 'default', name).catch(() => undefined))) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await settled(root);
    }
    rows.push([`one pod at a time, p50 (${TRIALS} trials)`, `${pct(single, 50).toFixed(0)} ms`, 'SLO p99 ≤ 5 s', (pct(single, 50) / 5000).toFixed(3)]);
    rows.push([`one pod at a time, p99 (${TRIALS} trials)`, `${pct(single, 99).toFixed(0)} ms`, 'goal p99 ≤ 300 ms', (pct(single, 99) / 300).toFixed(2)]);

    // 3. 30 replicas at once.
    const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'many' }, spec: { replicas: REPLICAS, selector: { matchLabels: { app: 'many' } }, template: { metadata: { labels: { app: 'many' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } } } };
    const marks: Seen = { added: new Map(), bound: new Map() };
    const waiting = watchUntil(client, 'app=many', REPLICAS, marks);
    const cpu0 = await cpuSeconds();
    const parts0 = await cpuBreakdown(proc.pid!);
    const t1 = now();
    await client.create(R.deployments, 'default', deploy);
    const seen = await waiting;
    const all = Math.max(...seen.values()) - t1;
    const cpu = (await cpuSeconds()) - cpu0;
    const parts = await cpuBreakdown(proc.pid!);
    console.log('CPU by thread and helper process while the pods started (s):');
    for (const [k, v] of [...parts].sort((a, b) => b[1] - a[1])) if (v - (parts0.get(k) ?? 0) > 0) console.log(`  ${(v - (parts0.get(k) ?? 0)).toFixed(2).padStart(6)}  ${k}`);
    const busy = await rssMiB(proc.pid!);
    const last = (m: Map<string, number>) => ((Math.max(...m.values()) - t1) / 1000).toFixed(2);
    const each = [...seen].map(([n, t]) => t - (marks.added.get(n) ?? t1));
    console.log(`${REPLICAS} replicas: last pod created at ${last(marks.added)} s, last bound at ${last(marks.bound)} s, last Running at ${last(seen)} s; per pod created → Running p50 ${pct(each, 50).toFixed(0)} ms, p99 ${pct(each, 99).toFixed(0)} ms`);
    rows.push([`${REPLICAS}-replica Deployment → all Running`, `${(all / 1000).toFixed(2)} s`, 'goal ≤ 2 s', (all / 2000).toFixed(2)]);
    if (cpu >= 0) rows.push([`CPU used by skiff's processes meanwhile`, `${cpu.toFixed(2)} s`, `${os.cpus().length} cores`, (cpu / os.cpus().length / (all / 1000)).toFixed(2)]);
    rows.push([`skiff up resident memory, ${REPLICAS} pods running`, `${busy.toFixed(0)} MiB`, '-', '-']);
    await client.delete(R.deployments, 'default', 'many');
    client.close();
    // The peer runs on a quiet machine too (the 30 pods' teardown would slow it).
    await settled(root);

    // 4. The peer.
    if (PODMAN) {
      const pr = path.join(work, 'podman');
      const podman = (...a: string[]) => exec('podman', ['--root', `${pr}/root`, '--runroot', `${pr}/run`, '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...a], { env, maxBuffer: 16 << 20 });
      await exec(process.execPath, [SKIFF, '--root', root, 'save', '-o', path.join(work, 'bb.tar'), IMAGE], { env });
      await podman('load', '-q', '-i', path.join(work, 'bb.tar'));
      const yaml = JSON.stringify({ ...deploy, spec: { ...deploy.spec, template: { ...deploy.spec.template, spec: { ...deploy.spec.template.spec, containers: [{ ...deploy.spec.template.spec.containers[0], image: `docker.io/library/${IMAGE}` }] } } } });
      await fs.writeFile(path.join(work, 'many.yaml'), yaml);
      try {
        const t2 = now();
        await podman('kube', 'play', '--network', 'bridge', path.join(work, 'many.yaml'));
        const peer = now() - t2;
        rows.push([`podman kube play, same ${REPLICAS}-replica Deployment`, `${(peer / 1000).toFixed(2)} s`, 'skiff / podman', (all / peer).toFixed(2)]);
      } finally {
        await podman('kube', 'down', path.join(work, 'many.yaml')).catch(() => {});
        await podman('system', 'reset', '-f').catch(() => {});
        await exec('umount', ['-R', `${pr}/root/overlay`]).catch(() => {});
      }
    }
  } finally {
    if (proc && proc.exitCode === null) proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await exec(process.execPath, [SKIFF, '--root', root, 'down'], { env }).catch(() => {});
    await fs.rm(work, { recursive: true, force: true }).catch(() => {});
    await fs.rmdir(CPUACCT).catch(() => {});
  }
  console.log(`${'measure'.padEnd(48)} ${'skiff'.padStart(10)}   ${'reference'.padEnd(18)} ratio`);
  for (const [a, b, c, d] of rows) console.log(`${a.padEnd(48)} ${b.padStart(10)}   ${c.padEnd(18)} ${d}`);
}

await main();
