/**
 * Unit tests of the built-in metrics-server: the Prometheus text reader, a scrape decoded into
 * readings (incomplete ones dropped), rates between scrapes with metrics-server's rules
 * (restarts, fresh containers, counters going down, stale readings), quantities and windows as
 * Go prints them, and the metrics.k8s.io answers (list, get, selectors, NotFound, Table).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText, parseLine } from './prometheus.js';
import { MetricsStore, decodeBatch, usageBetween, type Batch, type Point } from './store.js';
import { formatBytes, formatNanoCores, goDurationString } from './format.js';
import { ResourceMetricsApi } from './api.js';
import { renderResourceMetrics } from '../agent/metrics/resource.js';

test('Prometheus text: names, labels with escapes, Go floats, timestamps; comments skipped; errors name the line', () => {
  const samples = parsePrometheusText([
    '# HELP x_total a counter', '# TYPE x_total counter',
    'x_total{a="1",b="q\\"uo\\\\te\\nnl"} 1.5e+09 1700000000123',
    'plain 42', 'inf +Inf', 'nan NaN', '', 'spaced { a = "x" , } 1',
  ].join('\n').replace('spaced { a = "x" , } 1', 'spaced{a="x",} 1'));
  assert.deepEqual(samples[0], { name: 'x_total', labels: { a: '1', b: 'q"uo\\te\nnl' }, value: 1.5e9, timestamp: 1_700_000_000_123 });
  assert.deepEqual(samples[1], { name: 'plain', labels: {}, value: 42 });
  assert.equal(samples[2].value, Infinity);
  assert.ok(Number.isNaN(samples[3].value));
  assert.deepEqual(samples[4].labels, { a: 'x' });
  assert.throws(() => parsePrometheusText('ok 1\nbad{a=1} 2'), /line 2: expected ="..." after label a/);
  assert.throws(() => parseLine('x{a="1"}'), /expected a value/);
  assert.throws(() => parseLine('x 1 12.5'), /bad timestamp/);
});

const T0 = 1_700_000_000_000;

/** What an agent would serve: a node and pods with cumulative CPU seconds and working sets. */
function scrape(t: number, nodeCpu: number, containers: { ns: string; pod: string; name: string; cpu: number; mem: number; start: number }[]): Batch {
  const pods = new Map<string, any>();
  for (const c of containers) {
    const p = pods.get(`${c.ns}/${c.pod}`) ?? { namespace: c.ns, name: c.pod, uid: c.pod, startTime: c.start, time: t, cpuNs: 0, workingSet: 0, usage: 0, rss: 0, pageFaults: 0, majorPageFaults: 0, containers: [] };
    p.containers.push({ name: c.name, startTime: c.start, time: t, cpuNs: c.cpu * 1e9, workingSet: c.mem, usage: c.mem, rss: 0, pageFaults: 0, majorPageFaults: 0 });
    p.cpuNs += c.cpu * 1e9;
    p.workingSet += c.mem;
    pods.set(`${c.ns}/${c.pod}`, p);
  }
  const text = renderResourceMetrics({ node: { time: t, cpuNs: nodeCpu * 1e9, workingSet: 5e8, usage: 6e8, rss: 0, pageFaults: 0, majorPageFaults: 0, startTime: 0 }, pods: [...pods.values()] });
  return decodeBatch(parsePrometheusText(text), t);
}

test('a scrape decodes to readings: the agent\'s text round-trips; incomplete nodes and pods are dropped', () => {
  const b = scrape(T0, 100, [{ ns: 'a', pod: 'p', name: 'c', cpu: 2, mem: 1000, start: T0 - 60_000 }]);
  assert.deepEqual(b.node, { startTime: 0, timestamp: T0, cpuNs: 100e9, memory: 5e8 });
  assert.deepEqual(b.pods.get('a/p')!.get('c'), { startTime: T0 - 60_000, timestamp: T0, cpuNs: 2e9, memory: 1000 });
  const partial = decodeBatch(parsePrometheusText([
    'node_cpu_usage_seconds_total 5 1000',
    'container_cpu_usage_seconds_total{container="c",namespace="a",pod="p"} 1 1000',
    'container_cpu_usage_seconds_total{container="d",namespace="a",pod="p"} 1 1000',
    'container_memory_working_set_bytes{container="c",namespace="a",pod="p"} 10 1000',
  ].join('\n')), 0);
  assert.equal(partial.node, undefined, 'no node memory: no node');
  assert.equal(partial.pods.size, 0, 'container d has no memory: the pod is dropped');
});

test('rates: CPU between the last two scrapes, memory the latest; window is their distance', () => {
  const store = new MetricsStore(15_000);
  const c = (t: number, cpu: number, mem: number) => [{ ns: 'a', pod: 'p', name: 'c', cpu, mem, start: T0 - 600_000 }];
  store.store('n1', scrape(T0, 100, c(T0, 10, 1000)));
  assert.equal(store.node('n1'), undefined, 'one reading: no rate yet');
  assert.equal(store.pod('a', 'p'), undefined);
  store.store('n1', scrape(T0 + 15_000, 115, c(T0 + 15_000, 13, 2048)));
  assert.deepEqual(store.node('n1'), { nanoCores: 1e9, memory: 5e8, timestamp: T0 + 15_000, windowMs: 15_000 });
  assert.deepEqual(store.pod('a', 'p'), { timestamp: T0 + 15_000, windowMs: 15_000, containers: [{ name: 'c', usage: { nanoCores: 2e8, memory: 2048, timestamp: T0 + 15_000, windowMs: 15_000 } }] });
  // A reading no newer than the last keeps the stored pair.
  store.store('n1', scrape(T0 + 15_000, 115, c(T0 + 15_000, 13, 2048)));
  assert.equal(store.pod('a', 'p')!.containers[0].usage.nanoCores, 2e8);
  // The pod gone from the node's scrape: gone from the API.
  store.store('n1', scrape(T0 + 30_000, 130, []));
  assert.equal(store.pod('a', 'p'), undefined);
  store.forget('n1');
  assert.equal(store.node('n1'), undefined);
});

test('a restarted container starts over; a counter going down gives nothing', () => {
  const store = new MetricsStore(15_000);
  store.store('n1', scrape(T0, 1, [{ ns: 'a', pod: 'p', name: 'c', cpu: 50, mem: 10, start: T0 - 600_000 }]));
  store.store('n1', scrape(T0 + 15_000, 2, [{ ns: 'a', pod: 'p', name: 'c', cpu: 0.5, mem: 10, start: T0 + 12_000 }]));
  assert.equal(store.pod('a', 'p'), undefined, 'started after the last reading (3 s before this one): no previous');
  const last: Point = { startTime: 0, timestamp: 2000, cpuNs: 5, memory: 1 };
  assert.equal(usageBetween(last, { ...last, timestamp: 1000, cpuNs: 9 }), undefined);
  assert.equal(usageBetween(last, { ...last }), undefined);
});

test('a fresh container (started 10 s to one resolution before) counts from its start with 0 CPU', () => {
  const store = new MetricsStore(60_000);
  store.store('n1', scrape(T0, 1, [
    { ns: 'a', pod: 'fresh', name: 'c', cpu: 4, mem: 10, start: T0 - 20_000 },
    { ns: 'a', pod: 'tooyoung', name: 'c', cpu: 1, mem: 10, start: T0 - 5_000 },
  ]));
  assert.deepEqual(store.pod('a', 'fresh'), { timestamp: T0, windowMs: 20_000, containers: [{ name: 'c', usage: { nanoCores: 2e8, memory: 10, timestamp: T0, windowMs: 20_000 } }] });
  assert.equal(store.pod('a', 'tooyoung'), undefined);
});

test('quantities and windows as Go prints them', () => {
  const cpu: [number, string][] = [[0, '0'], [1, '1n'], [1000, '1u'], [250_000_000, '250m'], [1_500_000_000, '1500m'], [2e9, '2'], [123_456_789, '123456789n'], [12_345_000, '12345u']];
  for (const [n, want] of cpu) assert.equal(formatNanoCores(n), want, String(n));
  const mem: [number, string][] = [[0, '0'], [512, '512'], [1024, '1Ki'], [1536, '1536'], [64 * 2 ** 20, '64Mi'], [3 * 2 ** 30, '3Gi'], [225_280, '220Ki']];
  for (const [n, want] of mem) assert.equal(formatBytes(n), want, String(n));
  const dur: [number, string][] = [[0, '0s'], [500, '500ms'], [15_000, '15s'], [15_002, '15.002s'], [60_000, '1m0s'], [75_500, '1m15.5s'], [3_600_000, '1h0m0s'], [0.5, '500µs']];
  for (const [n, want] of dur) assert.equal(goDurationString(n), want, String(n));
});

function api() {
  const store = new MetricsStore(15_000);
  const pods = [
    { metadata: { name: 'web-1', namespace: 'prod', labels: { app: 'web' } } },
    { metadata: { name: 'web-2', namespace: 'prod', labels: { app: 'web' } } },
    { metadata: { name: 'db', namespace: 'prod', labels: { app: 'db' } } },
    { metadata: { name: 'new', namespace: 'dev', labels: { app: 'web' } } },
  ];
  const nodes = [{ metadata: { name: 'n1', labels: { zone: 'a' } } }, { metadata: { name: 'n2', labels: { zone: 'b' } } }];
  const cs = (t: number, k: number) => ['web-1', 'web-2', 'db'].flatMap((pod) => [
    { ns: 'prod', pod, name: 'app', cpu: k * 2, mem: 2 ** 20, start: T0 - 600_000 },
    { ns: 'prod', pod, name: 'side', cpu: k, mem: 2 ** 20, start: T0 - 600_000 },
  ]);
  store.store('n1', scrape(T0, 100, cs(T0, 1)));
  store.store('n1', scrape(T0 + 10_000, 110, cs(T0 + 10_000, 2)));
  store.store('n2', scrape(T0, 100, []));
  const a = new ResourceMetricsApi(store, {
    nodes: () => nodes, node: (n) => nodes.find((x) => x.metadata.name === n),
    pods: (ns) => pods.filter((p) => !ns || p.metadata.namespace === ns), pod: (ns, n) => pods.find((p) => p.metadata.namespace === ns && p.metadata.name === n),
  }, () => T0 + 11_000);
  const get = (resource: string, o: { namespace?: string; name?: string; query?: string; method?: string; table?: string } = {}) =>
    a.serve({ method: o.method ?? 'GET', resource, namespace: o.namespace, name: o.name, query: new URLSearchParams(o.query ?? ''), table: o.table }) as Promise<{ code: number; body: any }>;
  return { get };
}

test('metrics.k8s.io: PodMetrics and NodeMetrics lists, gets, selectors', async () => {
  const { get } = api();
  let r = await get('pods', { namespace: 'prod' });
  assert.equal(r.code, 200);
  assert.equal(r.body.kind, 'PodMetricsList');
  assert.equal(r.body.apiVersion, 'metrics.k8s.io/v1beta1');
  assert.deepEqual(r.body.items.map((i: any) => i.metadata.name), ['db', 'web-1', 'web-2']);
  const web1 = r.body.items[1];
  assert.deepEqual(web1.metadata, { name: 'web-1', namespace: 'prod', creationTimestamp: '2023-11-14T22:13:31Z', labels: { app: 'web' } });
  assert.equal(web1.timestamp, '2023-11-14T22:13:30Z');
  assert.equal(web1.window, '10s');
  assert.deepEqual(web1.containers, [{ name: 'app', usage: { cpu: '200m', memory: '1Mi' } }, { name: 'side', usage: { cpu: '100m', memory: '1Mi' } }]);
  r = await get('pods', { namespace: 'prod', query: 'labelSelector=app%3Dweb' });
  assert.deepEqual(r.body.items.map((i: any) => i.metadata.name), ['web-1', 'web-2']);
  r = await get('pods', { query: 'fieldSelector=metadata.name%3Ddb' });
  assert.deepEqual(r.body.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`), ['prod/db']);
  r = await get('pods', { namespace: 'dev' });
  assert.deepEqual(r.body.items, [], 'a pod without readings is left out');
  r = await get('pods', { namespace: 'prod', name: 'web-2' });
  assert.equal(r.body.kind, 'PodMetrics');
  r = await get('nodes');
  assert.deepEqual(r.body.items.map((i: any) => [i.metadata.name, i.usage.cpu, i.usage.memory, i.window]), [['n1', '1', '500000000', '10s']]);
  r = await get('nodes', { name: 'n1' });
  assert.equal(r.body.kind, 'NodeMetrics');
  assert.deepEqual(r.body.metadata.labels, { zone: 'a' });
  r = await get('nodes', { query: 'labelSelector=zone%3Db' });
  assert.deepEqual(r.body.items, []);
});

test('metrics.k8s.io errors are metrics-server\'s: NotFound wording, bad selectors, no writes or watches', async () => {
  const { get } = api();
  let r = await get('pods', { namespace: 'dev', name: 'new' });
  assert.equal(r.code, 404);
  assert.equal(r.body.message, 'podmetrics.metrics.k8s.io "dev/new" not found');
  assert.equal(r.body.reason, 'NotFound');
  r = await get('pods', { namespace: 'dev', name: 'nope' });
  assert.equal(r.body.message, 'pods "nope" not found');
  r = await get('nodes', { name: 'n2' });
  assert.equal(r.body.message, 'nodemetrics.metrics.k8s.io "n2" not found');
  r = await get('nodes', { name: 'n9' });
  assert.equal(r.body.message, 'node "n9" not found');
  r = await get('pods', { query: 'labelSelector=a%20in%20(' });
  assert.equal(r.code, 400);
  r = await get('pods', { namespace: 'prod', method: 'POST' });
  assert.equal(r.code, 405);
  r = await get('pods', { namespace: 'prod', query: 'watch=true' });
  assert.equal(r.code, 405);
  r = await get('services');
  assert.equal(r.code, 404);
});

test('metrics.k8s.io as a Table: metrics-server\'s columns, pod usage summed over containers', async () => {
  const { get } = api();
  const r = await get('pods', { namespace: 'prod', table: 'v1' });
  assert.equal(r.body.kind, 'Table');
  assert.deepEqual(r.body.columnDefinitions.map((c: any) => c.name), ['Name', 'cpu', 'memory', 'Window']);
  assert.deepEqual(r.body.rows[1].cells, ['web-1', '300m', '2Mi', '10s']);
  assert.equal(r.body.rows[1].object.kind, 'PartialObjectMetadata');
});
