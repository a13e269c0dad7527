/**
 * Prometheus metrics at `/metrics` (authenticated, as on the real server), named as
 * kube-apiserver names them: request counts and latencies by verb, group, resource and code,
 * and the number of open watches; plus whatever registries the composition adds (the
 * scheduler's and controllers' metrics when they run in the same process).
 */
import { Registry, Counter, Histogram, Gauge } from 'prom-client';

/** The server's metrics. */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'apiserver_request_total', help: 'Counter of apiserver requests broken out for each verb, group, resource and HTTP response code.', labelNames: ['verb', 'group', 'resource', 'subresource', 'code'], registers: [this.registry] });
  private readonly latency = new Histogram({ name: 'apiserver_request_duration_seconds', help: 'Response latency distribution in seconds for each verb, group and resource.', labelNames: ['verb', 'group', 'resource', 'subresource'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60], registers: [this.registry] });
  private readonly watches = new Gauge({ name: 'apiserver_longrunning_requests', help: 'Gauge of all active long-running apiserver requests (watches).', labelNames: ['verb'], registers: [this.registry] });

  /** Records one finished request (watches are counted when they end). */
  observe(l: { verb: string; group: string; resource: string; subresource: string }, code: number, seconds: number): void {
    this.requests.inc({ ...l, code: String(code) });
    if (l.verb !== 'WATCH') this.latency.observe(l, seconds);
  }

  /** A watch started (+1) or ended (-1). */
  watch(delta: number): void { this.watches.inc({ verb: 'WATCH' }, delta); }

  /** `extra`: more registries to serve with the server's own. */
  constructor(private readonly extra: Registry[] = []) {}

  /** The text exposition. */
  async text(): Promise<{ body: string; contentType: string }> {
    const all = this.extra.length ? Registry.merge([this.registry, ...this.extra]) : this.registry;
    return { body: await all.metrics(), contentType: this.registry.contentType };
  }
}

/** Kubernetes' verb name for a request (LIST/WATCH/GET/POST/PUT/PATCH/DELETE/DELETECOLLECTION...). */
export function verbOf(method: string, named: boolean, watch: boolean): string {
  if (method === 'GET') return watch ? 'WATCH' : named ? 'GET' : 'LIST';
  if (method === 'DELETE' && !named) return 'DELETECOLLECTION';
  if (method === 'PUT') return 'PUT';
  return method;
}
