/**
 * Unit tests of the agent's resource statistics against fixture trees (the engine's
 * testdata/: cgroup v1 and v2, /proc): the node from the root cgroup or /proc, pods and
 * containers from their cgroups, rates between readings, and the kubelet's /metrics/resource
 * text and Summary API from a snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StatsProvider, cpuRate, nodeUsage, procStatCpuNs, procStatBootTime, type StatsSnapshot } from './stats.js';
import { goFloat, renderResourceMetrics } from './resource.js';
import { summary } from './summary.js';
import { L } from '../labels.js';
import type { PodRuntimeState } from '../runtime.js';

const TESTDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../src/engine/container/testdata');
const proc = path.join(TESTDATA, 'proc');

test('node: the root cgroup (v1) for CPU and working set; boot time and MemAvailable from /proc', async () => {
  const n = await nodeUsage({ cgroupRoot: path.join(TESTDATA, 'v1'), cgroupMode: 'v1', procRoot: proc }, 1000);
  assert.equal(n.time, 1000);
  assert.equal(n.cpuNs, 370_973_014_639);
  assert.equal(n.workingSet, 1_079_037_952 - 592_580_608);
  assert.equal(n.startTime, 1_796_217_361_000);
  assert.ok(n.memoryAvailable! > 0);
});

test('node: without root cgroup files (v2 kernels without root cpu.stat/memory.stat), /proc/stat and /proc/meminfo', async () => {
  const n = await nodeUsage({ cgroupRoot: path.join(TESTDATA, 'absent'), cgroupMode: 'v2', procRoot: proc });
  // user + nice + system + irq + softirq + steal ticks, at 100 a second.
  assert.equal(n.cpuNs, (37565 + 0 + 8490 + 0 + 228 + 17) * 1e7);
  assert.equal(procStatCpuNs('intr 1 2\n'), undefined);
  assert.equal(procStatBootTime('cpu 1 2\nbtime 10\n'), 10_000);
  assert.ok(n.usage > 0 && n.workingSet > 0 && n.workingSet <= n.usage);
});

test('rates: nanocores between two readings; none without time passing or after a counter reset', () => {
  assert.equal(cpuRate({ time: 0, cpuNs: 0 }, { time: 2000, cpuNs: 1e9 }), 500_000_000);
  assert.equal(cpuRate(undefined, { time: 1, cpuNs: 1 }), undefined);
  assert.equal(cpuRate({ time: 5, cpuNs: 1 }, { time: 5, cpuNs: 2 }), undefined);
  assert.equal(cpuRate({ time: 0, cpuNs: 9 }, { time: 1000, cpuNs: 2 }), undefined);
});

/** A PodRuntime whose relist shows one pod with a running container c1 (fixture cgroup) and an exited one. */
function fakeRuntime(): { relist(): Promise<Map<string, PodRuntimeState>> } {
  const rec = (id: string, name: string, status: string) => ({
    rec: { id, status, startedAt: '2026-01-01T00:00:00Z', createdAt: '2026-01-01T00:00:00Z', options: { labels: { [L.podUid]: 'u1', [L.podName]: 'web', [L.podNamespace]: 'prod', [L.containerName]: name } } },
    name, kind: 'app', attempt: 0,
  });
  return {
    async relist() {
      return new Map([['u1', { containers: [rec('c1', 'app', 'running'), rec('old', 'app', 'exited')], sandboxes: [{ createdAt: '2025-12-31T23:59:59Z' }] } as any]]);
    },
  };
}

test('pods: each running container from its cgroup, the pod as their sum; the second snapshot has rates', async () => {
  const p = new StatsProvider(fakeRuntime(), { cgroupRoot: path.join(TESTDATA, 'v1'), cgroupMode: 'v1', procRoot: proc });
  const s = await p.snapshot();
  assert.equal(s.pods.length, 1);
  const [pod] = s.pods;
  assert.deepEqual([pod.namespace, pod.name, pod.uid, pod.startTime], ['prod', 'web', 'u1', Date.parse('2025-12-31T23:59:59Z')]);
  assert.deepEqual(pod.containers.map((c) => [c.name, c.cpuNs, c.workingSet, c.startTime]), [['app', 2_500_000_000, 10_485_760 - 2_097_152, Date.parse('2026-01-01T00:00:00Z')]]);
  assert.equal(pod.cpuNs, 2_500_000_000);
  assert.equal(pod.containers[0].nanoCores, undefined, 'no rate from a single reading');
});

const snap: StatsSnapshot = {
  node: { time: 1_700_000_000_123, cpuNs: 6_197_005_020_909, workingSet: 1_137_475_584, usage: 2e9, rss: 1e8, pageFaults: 10, majorPageFaults: 1, startTime: 1_600_000_000_000, memoryAvailable: 5e9 },
  pods: [{
    namespace: 'default', name: 'web-1', uid: 'u1', startTime: 1_699_999_000_000, time: 1_700_000_000_200, cpuNs: 35_062_000, workingSet: 225_280, usage: 3e5, rss: 2e5, pageFaults: 3, majorPageFaults: 0,
    containers: [{ name: 'c"x', startTime: 1_699_999_001_500, time: 1_700_000_000_200, cpuNs: 35_062_000, nanoCores: 12_345, workingSet: 225_280, usage: 3e5, rss: 2e5, pageFaults: 3, majorPageFaults: 0 }],
  }],
};

test('/metrics/resource: the kubelet\'s families, help texts, labels, values and timestamps', () => {
  const text = renderResourceMetrics(snap);
  assert.equal(text, [
    '# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds',
    '# TYPE container_cpu_usage_seconds_total counter',
    'container_cpu_usage_seconds_total{container="c\\"x",namespace="default",pod="web-1"} 0.035062 1700000000200',
    '# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes',
    '# TYPE container_memory_working_set_bytes gauge',
    'container_memory_working_set_bytes{container="c\\"x",namespace="default",pod="web-1"} 225280 1700000000200',
    '# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds',
    '# TYPE container_start_time_seconds gauge',
    'container_start_time_seconds{container="c\\"x",namespace="default",pod="web-1"} 1.6999990015e+09',
    '# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds',
    '# TYPE node_cpu_usage_seconds_total counter',
    'node_cpu_usage_seconds_total 6197.005020909 1700000000123',
    '# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes',
    '# TYPE node_memory_working_set_bytes gauge',
    'node_memory_working_set_bytes 1.137475584e+09 1700000000123',
    '# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds',
    '# TYPE pod_cpu_usage_seconds_total counter',
    'pod_cpu_usage_seconds_total{namespace="default",pod="web-1"} 0.035062 1700000000200',
    '# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes',
    '# TYPE pod_memory_working_set_bytes gauge',
    'pod_memory_working_set_bytes{namespace="default",pod="web-1"} 225280 1700000000200',
    '# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise',
    '# TYPE resource_scrape_error gauge',
    'resource_scrape_error 0',
    '# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise',
    '# TYPE scrape_error gauge',
    'scrape_error 0',
    '',
  ].join('\n'));
  assert.match(renderResourceMetrics(snap, true), /^resource_scrape_error 1$/m);
  assert.doesNotMatch(renderResourceMetrics(snap, true), /^node_cpu/m);
});

test('numbers as Go\'s shortest %g writes them', () => {
  const cases: [number, string][] = [[0, '0'], [1, '1'], [0.5, '0.5'], [123456, '123456'], [1234567, '1.234567e+06'], [1e21, '1e+21'], [0.0001, '0.0001'], [0.00001, '1e-05'], [-2.5e7, '-2.5e+07'], [Infinity, '+Inf'], [NaN, 'NaN']];
  for (const [v, want] of cases) assert.equal(goFloat(v), want, String(v));
});

test('/stats/summary: node and pods with CPU (rate when known) and memory, times in RFC 3339', () => {
  const s = summary(snap, 'n1') as any;
  assert.equal(s.node.nodeName, 'n1');
  assert.deepEqual(s.node.cpu, { time: '2023-11-14T22:13:20Z', usageCoreNanoSeconds: 6_197_005_020_909 });
  assert.equal(s.node.memory.availableBytes, 5e9);
  assert.equal(s.node.memory.workingSetBytes, 1_137_475_584);
  assert.deepEqual(s.pods[0].podRef, { name: 'web-1', namespace: 'default', uid: 'u1' });
  assert.equal(s.pods[0].containers[0].cpu.usageNanoCores, 12_345);
  assert.equal(s.pods[0].containers[0].memory.workingSetBytes, 225_280);
});
