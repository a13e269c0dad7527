/**
 * Aggregated APIs, as kube-aggregator serves APIServices: a component (metrics-server's
 * metrics.k8s.io) registers a group-version with the running server; its resources join
 * discovery (legacy and aggregated), and authenticated requests under /apis/<group>/<version>/
 * are handed to it with the client's wish for a Table or YAML already read from Accept.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AggregatedApi } from '../core/aggregated.js';
import type { Catalog } from './catalog.js';
import type { ResourceInfo } from './resources.js';
import { groupVersion } from './resources.js';
import { negotiate, send, type ResourcePath } from './request.js';

/** What discovery reads of the served resources. */
export type DiscoveryCatalog = Pick<Catalog, 'all' | 'byGroupVersion'>;

/** The aggregated APIs of one server. */
export class AggregatedApis {
  private apis: AggregatedApi[] = [];

  /** Registers an API; the returned function removes it. A group-version served twice is refused. */
  add(api: AggregatedApi): () => void {
    if (this.find(api.group, api.version)) throw new Error(`${api.group}/${api.version} is served already`);
    this.apis.push(api);
    return () => { this.apis = this.apis.filter((a) => a !== api); };
  }

  /** The API serving a group-version, if any. */
  find(group: string, version: string): AggregatedApi | undefined {
    return this.apis.find((a) => a.group === group && a.version === version);
  }

  /** The catalog as discovery shows it: its resources, then the aggregated ones. */
  view(catalog: Catalog): DiscoveryCatalog {
    if (!this.apis.length) return catalog;
    const rows: ResourceInfo[] = this.apis.flatMap((a) => a.resources.map((r) => ({
      group: a.group, version: a.version, resource: r.name, kind: r.kind, singular: r.singularName ?? '', namespaced: r.namespaced, verbs: r.verbs,
    })));
    const all = [...catalog.all(), ...rows];
    return {
      all: () => all,
      byGroupVersion: () => {
        const m = new Map(catalog.byGroupVersion());
        for (const r of rows) m.set(groupVersion(r), [...(m.get(groupVersion(r)) ?? []), r]);
        return m;
      },
    };
  }

  /** Hands a request to `api` and sends its answer. */
  async serve(req: IncomingMessage, res: ServerResponse, api: AggregatedApi, r: ResourcePath, query: URLSearchParams): Promise<void> {
    const want = negotiate(req.headers.accept);
    const out = await api.serve({
      method: req.method ?? 'GET', resource: r.resource, namespace: r.namespace, name: r.name, subresource: r.subresource, query,
      ...(want.as === 'Table' ? { table: want.version } : {}),
    });
    send(res, out.code, out.body, want.as === 'yaml');
  }
}
