/**
 * The resource metrics API, metrics.k8s.io/v1beta1, as metrics-server serves it: NodeMetrics
 * (`nodes`, cluster-scoped) and PodMetrics (`pods`, namespaced), get and list with label and
 * field (metadata.name, metadata.namespace) selectors, as objects or meta.k8s.io Tables. Which
 * nodes and pods exist comes from informers; their usage from the store (the CPU rate between
 * the last two scrapes, the latest working set). Objects without two readings are left out of
 * lists; getting one is a NotFound, worded as metrics-server words it.
 */
import type { AggregatedApi, AggregatedRequest, AggregatedResponse } from '../core/aggregated.js';
import type { KObject } from '../client/client.js';
import { parseLabelSelector, test, type Req } from '../core/labels.js';
import { formatBytes, formatNanoCores, goDurationString } from './format.js';
import type { MetricsStore } from './store.js';

/** The group and version served. */
export const GROUP = 'metrics.k8s.io';
export const VERSION = 'v1beta1';
const API_VERSION = `${GROUP}/${VERSION}`;

/** Where the API reads the cluster's nodes and pods (informer caches). */
export interface MetricsListers {
  nodes(): KObject[];
  node(name: string): KObject | undefined;
  /** Pods of a namespace (every namespace when undefined). */
  pods(namespace?: string): KObject[];
  pod(namespace: string, name: string): KObject | undefined;
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): AggregatedResponse {
  return { code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code } };
}

const notFound = (group: string, resource: string, name: string) =>
  status(404, 'NotFound', `${group ? `${resource}.${group}` : resource} "${name}" not found`, { name, ...(group ? { group } : {}), kind: resource });

/** Thrown for a request the API refuses; becomes its Status. */
class Refused extends Error { constructor(readonly response: AggregatedResponse) { super(String((response.body as any).message)); } }

function selectors(q: URLSearchParams): { labels: Req[]; fields: Req[] } {
  try {
    const fields = parseLabelSelector(q.get('fieldSelector'));
    for (const f of fields) if (f.op !== 'eq' && f.op !== 'ne') throw new Error(`invalid field selector: "${q.get('fieldSelector')}"`);
    return { labels: parseLabelSelector(q.get('labelSelector')), fields };
  } catch (err) {
    throw new Refused(status(400, 'BadRequest', (err as Error).message));
  }
}

function matches(o: KObject, s: { labels: Req[]; fields: Req[] }): boolean {
  return test(s.labels, (k) => o.metadata.labels?.[k])
    && test(s.fields, (k) => (k === 'metadata.name' ? o.metadata.name : k === 'metadata.namespace' ? o.metadata.namespace ?? '' : undefined));
}

function meta(o: KObject, now: number) {
  return {
    name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    creationTimestamp: rfc3339(now), ...(o.metadata.labels ? { labels: o.metadata.labels } : {}),
  };
}

/** A metrics object and its total usage (for tables). */
interface Entry { obj: KObject; total: { nanoCores: number; memory: number } }

const usageList = (u: { nanoCores: number; memory: number }) => ({ cpu: formatNanoCores(u.nanoCores), memory: formatBytes(u.memory) });

/** The metrics.k8s.io API over a store. */
export class ResourceMetricsApi implements AggregatedApi {
  readonly group = GROUP;
  readonly version = VERSION;
  readonly resources = [
    { name: 'nodes', kind: 'NodeMetrics', namespaced: false, verbs: ['get', 'list'], singularName: '' },
    { name: 'pods', kind: 'PodMetrics', namespaced: true, verbs: ['get', 'list'], singularName: '' },
  ];

  constructor(private readonly store: MetricsStore, private readonly listers: MetricsListers, private readonly now: () => number = Date.now) {}

  /** A node's NodeMetrics, when it has usage. */
  nodeMetrics(node: KObject): Entry | undefined {
    const u = this.store.node(node.metadata.name!);
    if (!u) return undefined;
    return { total: u, obj: { kind: 'NodeMetrics', apiVersion: API_VERSION, metadata: meta(node, this.now()), timestamp: rfc3339(u.timestamp), window: goDurationString(u.windowMs), usage: usageList(u) } };
  }

  /** A pod's PodMetrics, when some container has usage. */
  podMetrics(pod: KObject): Entry | undefined {
    const u = this.store.pod(pod.metadata.namespace!, pod.metadata.name!);
    if (!u) return undefined;
    const total = { nanoCores: 0, memory: 0 };
    for (const c of u.containers) { total.nanoCores += c.usage.nanoCores; total.memory += c.usage.memory; }
    return {
      total, obj: {
        kind: 'PodMetrics', apiVersion: API_VERSION, metadata: meta(pod, this.now()), timestamp: rfc3339(u.timestamp), window: goDurationString(u.windowMs),
        containers: u.containers.map((c) => ({ name: c.name, usage: usageList(c.usage) })),
      },
    };
  }

  async serve(r: AggregatedRequest): Promise<AggregatedResponse> {
    try {
      return this.answer(r);
    } catch (err) {
      if (err instanceof Refused) return err.response;
      throw err;
    }
  }

  private answer(r: AggregatedRequest): AggregatedResponse {
    const res = this.resources.find((x) => x.name === r.resource);
    if (!res || r.subresource || (res.namespaced === false && r.namespace)) return status(404, 'NotFound', 'the server could not find the requested resource');
    if (r.method !== 'GET' || r.query.get('watch') === 'true' || r.query.get('watch') === '1') {
      return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    const nodes = res.name === 'nodes';
    let items: Entry[];
    if (r.name) {
      const obj = nodes ? this.listers.node(r.name) : this.listers.pod(r.namespace ?? 'default', r.name);
      if (!obj) return nodes ? notFound('', 'node', r.name) : notFound('', 'pods', r.name);
      const m = nodes ? this.nodeMetrics(obj) : this.podMetrics(obj);
      if (!m) return nodes ? notFound(GROUP, 'nodemetrics', r.name) : notFound(GROUP, 'podmetrics', `${r.namespace}/${r.name}`);
      items = [m];
    } else {
      const sel = selectors(r.query);
      const objs = (nodes ? this.listers.nodes() : this.listers.pods(r.namespace)).filter((o) => matches(o, sel));
      items = objs.map((o) => (nodes ? this.nodeMetrics(o) : this.podMetrics(o))).filter((m): m is Entry => !!m)
        .sort((a, b) => (a.obj.metadata.namespace ?? '').localeCompare(b.obj.metadata.namespace ?? '') || a.obj.metadata.name!.localeCompare(b.obj.metadata.name!));
    }
    if (r.table) return { code: 200, body: table(items, r.table, r.query.get('includeObject') ?? 'Metadata') };
    if (r.name) return { code: 200, body: items[0].obj };
    return { code: 200, body: { kind: nodes ? 'NodeMetricsList' : 'PodMetricsList', apiVersion: API_VERSION, metadata: {}, items: items.map((e) => e.obj) } };
  }
}

/** The meta.k8s.io Table of metrics objects, with metrics-server's columns. */
function table(items: Entry[], version: string, include: string) {
  return {
    kind: 'Table', apiVersion: `meta.k8s.io/${version}`, metadata: {},
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name of the resource', priority: 0 },
      { name: 'cpu', type: 'string', format: 'quantity', description: '', priority: 0 },
      { name: 'memory', type: 'string', format: 'quantity', description: '', priority: 0 },
      { name: 'Window', type: 'string', format: 'duration', description: '', priority: 0 },
    ],
    rows: items.map(({ obj: m, total: t }) => {
      const object = include === 'None' ? undefined : include === 'Object' ? m : { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: m.metadata };
      return { cells: [m.metadata.name, formatNanoCores(t.nanoCores), formatBytes(t.memory), m.window], ...(object ? { object } : {}) };
    }),
  };
}
