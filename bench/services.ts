/**
 * Service data path cost (issue #8): requests per second and p99 latency through a ClusterIP
 * Service against the same load sent straight to a pod's IP, in one run, with wrk (Debian's,
 * run in a client pod of `skiff up`, as in-cluster clients call Services) against busybox
 * httpd pods. busybox httpd closes every connection, so each request pays the Service's DNAT
 * and conntrack setup. Rounds alternate between the two targets so drift on a shared machine
 * hits both alike; medians are reported with the ratio (goal: the Service within 10% of
 * direct), and the client's SYN retransmissions (connections retried: none expected). Each
 * target has its own, identical pod (see below).
 *
 *   npm run build && node dist/bench/services.js [--rounds 7] [--seconds 5] [--connections 4]
 */
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApiClient } from '../src/client/client.js';
import { R } from '../src/client/resources.js';
import { confDir, defaultConfList } from '../src/engine/network/config.js';
import { writeJsonAtomic } from '../src/lib/atomic.js';
import { ensureBusyboxImage, ensureToolsImage, SKIFF } from '../test/helpers/images.js';
import { skiffUp } from '../test/helpers/up.js';
import { dropBridge } from '../test/network-helpers.js';

const exec = promisify(execFile);
const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : def; };
const ROUNDS = arg('--rounds', 7);
const SECONDS = arg('--seconds', 5);
const CONNECTIONS = arg('--connections', 4);
// Its own bridge and subnet: other data roots' pods on skiff0 may hold the default subnet's addresses.
const BRIDGE = 'skbench0';
const POD_CIDR = '10.92.0.0/16';

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

/** One wrk run in the client pod: requests per second, p99 latency (ms), errors and the client's SYN retransmissions. */
async function wrk(root: string, env: NodeJS.ProcessEnv, url: string): Promise<{ rps: number; p99: number; errors: number; synRetrans: number }> {
  // The kernel's count of retransmitted SYNs in the client pod, printed before and after the run.
  const syns = `awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "TCPSynRetrans") c = i; h = 1 } else print $c }' /proc/net/netstat`;
  const script = `${syns}; wrk -t${Math.min(2, CONNECTIONS)} -c${CONNECTIONS} -d${SECONDS}s --latency ${url}; ${syns}`;
  const { stdout } = await exec(process.execPath, [SKIFF, '--root', root, 'kubectl', 'exec', 'bench-client', '--', 'sh', '-c', script], { env, maxBuffer: 1 << 20 });
  const counts = stdout.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const m = /^\s+99%\s+([\d.]+)(us|ms|s)$/m.exec(stdout);
  if (!rps || !m) throw new Error(`cannot read wrk's output:\n${stdout}`);
  const p99 = Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]];
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, p99, errors: non2xx + (errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0), synRetrans: (counts[1] ?? 0) - (counts[0] ?? 0) };
}

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join('/var/tmp', 'skiff-bench-services-'));
  const root = path.join(work, 'skiff');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: work, SKIFF_LOG_LEVEL: 'warn', SKIFF_POD_CIDR: POD_CIDR };
  let proc: ChildProcess | undefined;
  try {
    await ensureBusyboxImage(root, 'busybox:latest');
    await ensureToolsImage(root, 'wrk:bench', ['/usr/bin/wrk']);
    await fs.mkdir(confDir(root), { recursive: true });
    await writeJsonAtomic(path.join(confDir(root), '10-skiff.conflist'), defaultConfList(root, { bridge: BRIDGE, subnet: POD_CIDR }));
    proc = await skiffUp(root, 'bench', { HOME: work, SKIFF_POD_CIDR: POD_CIDR });
    const client = await ApiClient.fromKubeconfig(path.join(root, 'kubeconfig.yaml'));
    // Two identical pods: one behind the Service, one dialled directly. Sharing one pod would
    // let the runs disturb each other: both leave the server's TIME_WAIT sockets for the same
    // source (the host), and SYNs carrying the other path's TCP timestamps are refused there
    // (PAWS), costing 1 s retransmissions that have nothing to do with the Service.
    for (const name of ['bench-direct', 'bench-svc']) {
      const labels = { app: name };
      await client.create(R.deployments, 'default', {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
        spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 1, containers: [{
          name: 'web', image: 'busybox:latest', imagePullPolicy: 'Never', ports: [{ containerPort: 8080 }],
          command: ['sh', '-c', 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www'],
        }] } } },
      });
    }
    await client.create(R.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench-client' }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'wrk:bench', imagePullPolicy: 'Never', command: ['sleep', '36000'] }] } });
    const svc = await client.create(R.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-svc' }, spec: { selector: { app: 'bench-svc' }, ports: [{ port: 80, targetPort: 8080 }] } });
    const answers = (u: string) => exec('curl', ['-sf', '--max-time', '2', u]).then(() => true, () => false);
    let podIP = '';
    for (let i = 0; i < 600 && !podIP; i++) {
      const direct = (await client.list<any>(R.pods, 'default', { labelSelector: 'app=bench-direct' })).items.find((p: any) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      const clientReady = (await client.get<any>(R.pods, 'default', 'bench-client')).status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
      if (direct && clientReady && await answers(`http://${direct.status.podIP}:8080/`) && await answers(`http://${svc.spec.clusterIP}/`)) podIP = direct.status.podIP;
      else await new Promise((r) => setTimeout(r, 200));
    }
    if (!podIP) throw new Error('the pods never answered (directly and through the Service)');
    // A new connection per request piles up TIME_WAIT sockets in the servers (busybox httpd
    // closes first); a client SYN reusing one of those ports is refused now and then and
    // retried a second later, for either target alike. The pods' network namespaces keep
    // none (tcp_max_tw_buckets 0), so the rounds measure the data path, not those retries.
    for (const id of await fs.readdir(path.join(root, 'run', 'sandboxes'))) {
      await exec('nsenter', [`--net=${path.join(root, 'run', 'sandboxes', id, 'net')}`, 'sysctl', '-qw', 'net.ipv4.tcp_max_tw_buckets=0']);
    }
    client.close();

    const targets = { direct: `http://${podIP}:8080/`, service: `http://${svc.spec.clusterIP}:80/` };
    const results: Record<keyof typeof targets, { rps: number[]; p99: number[]; errors: number; syns: number }> = { direct: { rps: [], p99: [], errors: 0, syns: 0 }, service: { rps: [], p99: [], errors: 0, syns: 0 } };
    await wrk(root, env, targets.direct); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first, so neither always follows the other.
      for (const k of (r % 2 ? ['service', 'direct'] : ['direct', 'service']) as (keyof typeof targets)[]) {
        const x = await wrk(root, env, targets[k]);
        results[k].rps.push(x.rps);
        results[k].p99.push(x.p99);
        results[k].errors += x.errors;
        results[k].syns += x.synRetrans;
        process.stderr.write(`round ${r + 1} ${k}: ${x.rps.toFixed(0)} req/s, p99 ${x.p99.toFixed(2)} ms, ${x.synRetrans} SYN retransmissions\n`);
      }
    }
    const stats = (k: keyof typeof targets) => ({ rps: median(results[k].rps), p99: median(results[k].p99), min: Math.min(...results[k].rps), max: Math.max(...results[k].rps), errors: results[k].errors, syns: results[k].syns });
    const d = stats('direct'), s = stats('service');
    const row = (what: string, x: typeof d, ratio: string) => `| ${what} | ${x.rps.toFixed(0)} (${x.min.toFixed(0)}–${x.max.toFixed(0)}) | ${x.p99.toFixed(2)} ms | ${x.errors} | ${x.syns} | ${ratio} |`;
    process.stdout.write([
      `wrk -t${Math.min(2, CONNECTIONS)} -c${CONNECTIONS} -d${SECONDS}s --latency, ${ROUNDS} rounds each (medians), busybox httpd pods (one per target), from a client pod (${os.cpus().length} CPUs)`,
      '',
      '| target | requests/s (range) | p99 latency | errors | SYN retransmissions | ratio to direct (req/s, p99) |',
      '| --- | --- | --- | --- | --- | --- |',
      row(`pod IP (${targets.direct})`, d, '1.00, 1.00'),
      row(`ClusterIP Service (${targets.service})`, s, `${(s.rps / d.rps).toFixed(2)}, ${(s.p99 / d.p99).toFixed(2)}`),
      '',
      `Service throughput ${(100 * (s.rps / d.rps - 1)).toFixed(1)}% and p99 ${(100 * (s.p99 / d.p99 - 1)).toFixed(1)}% against direct (goal: within 10%).`,
      '',
    ].join('\n'));
  } finally {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc!.once('exit', r));
    }
    await exec(process.execPath, [SKIFF, '--root', root, 'down'], { env }).catch(() => {});
    await dropBridge(BRIDGE, POD_CIDR);
    await fs.rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => { process.stderr.write(`${err?.stack ?? err}\n`); process.exitCode = 1; });
