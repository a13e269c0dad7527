/**
 * Resource metrics end to end through `skiff up` (real runc, cgroups, CNI) with the real
 * kubectl 1.27 and 1.33: a pod burning CPU under a 200m limit shows near its limit in
 * `kubectl top pods` (memory > 0), `kubectl top nodes` shows the node, metrics.k8s.io answers
 * `kubectl get --raw` and Tables, the agent's /metrics/resource, /stats/summary and /metrics
 * answer through the API server's node proxy, the API server's /metrics carries the
 * scheduler's and controllers' series, and a HorizontalPodAutoscaler (autoscaling/v2, a CPU
 * utilization target) scales a CPU-burning Deployment up on the real figures.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { SKIFF, ensureBusyboxImage, skiff } from './helpers/images.js';
import { kubectlBin } from './helpers/apiserver.js';

const NODE = 'metrics-test';
let root: string;
let proc: ChildProcess | undefined;

/** Runs kubectl `v` against the cluster (never throws). */
function kubectl(v: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(kubectlBin(v), args, { env: { ...process.env, KUBECONFIG: path.join(root, 'kubeconfig.yaml'), HOME: root }, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `fn` until it returns a value (not undefined), or fails with the last note. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let note = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) { note = (err as Error).message; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${note ? `: ${note}` : ''}`);
    await sleep(1000);
  }
}

/** "187m" / "1" → millicores. */
const millis = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000);

const burner = (name: string, labels: Record<string, string>) => ({
  metadata: { name, labels },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'burn', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'while :; do :; done'], resources: { requests: { cpu: '100m', memory: '16Mi' }, limits: { cpu: '200m', memory: '32Mi' } } }],
  },
});

before(async () => {
  root = await fs.mkdtemp('/var/tmp/skiff-metrics-');
  await ensureBusyboxImage(root, 'busybox:1.36');
  proc = spawn(process.execPath, [SKIFF, '--root', root, 'up', '--port', '0', '--node-name', NODE, '--metric-resolution', '5s', '--horizontal-pod-autoscaler-sync-period', '5s'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' } });
  let out = '', err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  await new Promise<void>((ok, fail) => {
    proc!.stdout!.on('data', (d) => { out += d; if (out.includes('kubeconfig:')) ok(); });
    proc!.once('exit', (code) => fail(new Error(`skiff up exited ${code}: ${err}`)));
  });
  const r = await kubectl('1.33', ['wait', '--for=condition=Ready', `node/${NODE}`, '--timeout=60s']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  if (root) {
    await skiff(root, ['down']).catch(() => {});
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('kubectl top pods/nodes, metrics.k8s.io and the agent\'s endpoints show real cgroup figures', async () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', ...burner('burner', { app: 'burner' }) };
  const idle = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'idle', labels: { app: 'idle' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'sleep', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } };
  let r = await kubectl('1.33', ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod, idle] }));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['wait', '--for=condition=Ready', 'pod/burner', 'pod/idle', '--timeout=90s']);
  assert.equal(r.code, 0, r.stderr);

  // kubectl top pod: the CPU a busy loop gets under a 200m CFS quota, over a whole window.
  const top = await until('kubectl top pod burner near its limit', async () => {
    const t = await kubectl('1.33', ['top', 'pod', 'burner', '--no-headers']);
    const m = /^burner\s+(\d+m?)\s+(\d+)Mi\s*$/.exec(t.stdout.trim());
    if (!m) throw new Error(t.stdout + t.stderr);
    // The first window may start before the loop ran: wait for a full one.
    return millis(m[1]) >= 150 ? { cpu: millis(m[1]), mem: Number(m[2]) } : undefined;
  }, 90_000);
  assert.ok(top.cpu <= 230, `CPU ${top.cpu}m within its 200m limit`);
  r = await kubectl('1.27', ['top', 'pods', '-l', 'app=burner']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s*\nburner\s+(1[5-9]\d|2[0-3]\d)m\s+\d+Mi\s*$/);

  // Every namespace, per container (the idle pod too: a little CPU, some memory).
  const all = await until('kubectl top pods -A --containers with both pods', async () => {
    const t = await kubectl('1.33', ['top', 'pods', '-A', '--containers']);
    return /default\s+idle\s+sleep\s+\d+m\s+\d+Mi/.test(t.stdout) ? t.stdout : undefined;
  });
  assert.match(all, /^NAMESPACE\s+POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
  assert.match(all, /default\s+burner\s+burn\s+\d+m\s+\d+Mi/);

  // kubectl top node: the node's usage against its allocatable.
  for (const v of ['1.27', '1.33']) {
    r = await kubectl(v, ['top', 'node']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^NAME\\s+CPU\\(cores\\)\\s+CPU(\\(%\\)|%)\\s+MEMORY\\(bytes\\)\\s+MEMORY(\\(%\\)|%)\\s*\\n${NODE}\\s+(\\d+)m\\s+(\\d+)%\\s+(\\d+)Mi\\s+(\\d+)%`), v);
    const cpu = Number(new RegExp(`${NODE}\\s+(\\d+)m`).exec(r.stdout)![1]);
    assert.ok(cpu >= 150, `node CPU ${cpu}m includes the burner`);
  }

  // The API itself, as kubectl get --raw and Tables show it.
  r = await kubectl('1.33', ['get', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner']);
  const pm = JSON.parse(r.stdout);
  assert.equal(pm.kind, 'PodMetrics');
  assert.deepEqual(pm.metadata.labels, { app: 'burner' });
  assert.match(pm.window, /^\d+(\.\d+)?s$/);
  assert.equal(pm.containers[0].name, 'burn');
  assert.match(pm.containers[0].usage.cpu, /^\d+(n|u|m)?$/);
  assert.match(pm.containers[0].usage.memory, /^\d+(Ki|Mi)?$/);
  r = await kubectl('1.27', ['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes']);
  const nl = JSON.parse(r.stdout);
  assert.equal(nl.kind, 'NodeMetricsList');
  assert.deepEqual(nl.items.map((n: any) => n.metadata.name), [NODE]);
  r = await kubectl('1.33', ['get', '--raw', '/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Didle']);
  assert.deepEqual(JSON.parse(r.stdout).items.map((p: any) => p.metadata.name), ['idle']);
  r = await kubectl('1.33', ['get', 'podmetrics']);
  assert.match(r.stdout, /^NAME\s+CPU\s+MEMORY\s+WINDOW\s*\nburner\s+\d+[num]?\s+\d+(Ki|Mi)?\s+[\d.]+s\s*\nidle\s/, r.stderr);
  r = await kubectl('1.33', ['api-resources', '--api-group=metrics.k8s.io', '--no-headers']);
  assert.match(r.stdout, /^nodes\s+metrics\.k8s\.io\/v1beta1\s+false\s+NodeMetrics\s*\npods\s+metrics\.k8s\.io\/v1beta1\s+true\s+PodMetrics\s*$/);
  r = await kubectl('1.33', ['top', 'pod', 'nope']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /NotFound.*pods "nope" not found/);

  // The agent's endpoints, through the API server's node proxy.
  r = await kubectl('1.33', ['get', '--raw', `/api/v1/nodes/${NODE}/proxy/metrics/resource`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^container_cpu_usage_seconds_total\{container="burn",namespace="default",pod="burner"\} [\d.e+]+ \d{13}$/m);
  assert.match(r.stdout, /^container_memory_working_set_bytes\{container="burn",namespace="default",pod="burner"\} [\d.e+]+ \d{13}$/m);
  assert.match(r.stdout, /^node_cpu_usage_seconds_total [\d.e+]+ \d{13}$/m);
  assert.match(r.stdout, /^node_memory_working_set_bytes [\d.e+]+ \d{13}$/m);
  assert.match(r.stdout, /^pod_cpu_usage_seconds_total\{namespace="default",pod="idle"\} /m);
  assert.match(r.stdout, /^resource_scrape_error 0$/m);
  r = await kubectl('1.33', ['get', '--raw', '/api/v1/nodes/nope/proxy/metrics/resource']);
  assert.match(r.stderr, /NotFound.*nodes "nope" not found/);
  r = await kubectl('1.33', ['get', '--raw', `/api/v1/nodes/${NODE}/proxy/stats/summary`]);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.node.nodeName, NODE);
  const sp = summary.pods.find((p: any) => p.podRef.name === 'burner');
  assert.ok(sp.containers[0].memory.workingSetBytes > 0);
  assert.ok(sp.cpu.usageCoreNanoSeconds > 0);
  r = await kubectl('1.33', ['get', '--raw', `/api/v1/nodes/${NODE}/proxy/metrics`]);
  assert.match(r.stdout, new RegExp(`^kubelet_node_name\\{node="${NODE}"\\} 1$`, 'm'));
  assert.ok(Number(/^kubelet_running_pods (\d+)$/m.exec(r.stdout)![1]) >= 2);
  assert.ok(Number(/^kubelet_running_containers\{container_state="running"\} (\d+)$/m.exec(r.stdout)![1]) >= 2);
  assert.ok(Number(/^kubelet_pod_start_duration_seconds_count (\d+)$/m.exec(r.stdout)![1]) >= 2);
  assert.match(r.stdout, /^kubelet_started_containers_total\{container_type="container"\} [1-9]/m);
  assert.match(r.stdout, /^process_resident_memory_bytes \d+/m);

  // The control plane's /metrics: the API server's, the scheduler's, the controllers' queues, metrics-server's.
  r = await kubectl('1.33', ['get', '--raw', '/metrics']);
  assert.match(r.stdout, /^apiserver_request_total\{verb="LIST",group="metrics.k8s.io",resource="pods",subresource="",code="200"\} \d+/m);
  assert.ok(Number(/^scheduler_schedule_attempts_total\{result="scheduled",profile="default-scheduler"\} (\d+)$/m.exec(r.stdout)![1]) >= 2);
  assert.match(r.stdout, /^scheduler_pod_scheduling_duration_seconds_count\{attempts="1"\} [1-9]/m);
  assert.match(r.stdout, /^scheduler_pending_pods\{queue="active"\} 0$/m);
  assert.match(r.stdout, /^workqueue_adds_total\{name="replicaset"\} \d+$/m);
  assert.match(r.stdout, /^workqueue_depth\{name="deployment"\} \d+$/m);
  assert.match(r.stdout, /^workqueue_work_duration_seconds_count\{name="endpointslice"\} \d+$/m);
  assert.match(r.stdout, /^metrics_server_kubelet_request_total\{success="true"\} [1-9]/m);

  r = await kubectl('1.33', ['delete', 'pod', 'burner', 'idle', '--wait=true']);
  assert.equal(r.code, 0, r.stderr);
});

test('an HPA (autoscaling/v2, CPU utilization) scales a CPU-burning Deployment up on real metrics', async () => {
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'spin' }, spec: { replicas: 1, selector: { matchLabels: { app: 'spin' } }, template: burner('spin', { app: 'spin' }) } };
  delete (deploy.spec.template.metadata as any).name;
  const hpa = {
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'spin' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'spin' }, minReplicas: 1, maxReplicas: 3, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] },
  };
  let r = await kubectl('1.33', ['apply', '-f', '-'], JSON.stringify(deploy));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl('1.33', ['apply', '-f', '-'], JSON.stringify(hpa));
  assert.equal(r.code, 0, r.stderr);
  // ~200% of the 100m request against a 50% target: 4 replicas wanted, 3 allowed.
  await until('the HPA to scale spin to 3', async () => {
    const s = JSON.parse((await kubectl('1.33', ['get', 'hpa', 'spin', '-o', 'json'])).stdout).status;
    return s?.desiredReplicas === 3 ? s : undefined;
  }, 120_000);
  r = await kubectl('1.33', ['rollout', 'status', 'deployment/spin', '--timeout=90s']);
  assert.equal(r.code, 0, r.stderr);
  // The next sync sees the new scale.
  const h = await until('the HPA to see 3 replicas', async () => {
    const x = JSON.parse((await kubectl('1.33', ['get', 'hpa', 'spin', '-o', 'json'])).stdout);
    return x.status?.currentReplicas === 3 ? x : undefined;
  });
  const cond = (t: string) => h.status.conditions.find((c: any) => c.type === t);
  assert.equal(cond('ScalingActive').status, 'True');
  assert.equal(cond('ScalingActive').reason, 'ValidMetricFound');
  assert.ok(h.status.lastScaleTime);
  r = await kubectl('1.33', ['get', 'events', '--field-selector', 'involvedObject.kind=HorizontalPodAutoscaler,reason=SuccessfulRescale', '-o', 'jsonpath={.items[*].message}']);
  assert.match(r.stdout, /New size: 3; reason: cpu resource utilization \(percentage of request\) above target/);
  r = await kubectl('1.27', ['get', 'hpa', 'spin', '--no-headers']);
  assert.match(r.stdout, /^spin\s+Deployment\/spin\s+(cpu: )?\d+%\/50%\s+1\s+3\s+3\s/);
  r = await kubectl('1.33', ['delete', 'hpa/spin', 'deployment/spin']);
  assert.equal(r.code, 0, r.stderr);
});
