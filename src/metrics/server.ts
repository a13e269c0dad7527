/**
 * Skiff's built-in metrics-server: every resolution (15 s by default, metrics-server's
 * --metric-resolution) it scrapes each node agent's `/metrics/resource` over HTTPS — at the
 * node's InternalIP and kubeletEndpoint port, with a client certificate of the cluster CA,
 * as the API server reaches agents for logs and exec — keeps the last two readings
 * (store.ts) and serves metrics.k8s.io/v1beta1 from them (api.ts) once registered with the
 * API server. A node that cannot be scraped loses its figures until the next good scrape, as
 * in metrics-server. Its own metrics (metrics_server_*) go to the registry it is given.
 */
import https from 'node:https';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { KObject } from '../client/client.js';
import { R } from '../client/resources.js';
import type { InformerFactory, Informer } from '../controllers/runtime/informer.js';
import { realClock, type Clock, type TimerHandle } from '../controllers/runtime/clock.js';
import type { Logger } from '../controllers/runtime/controller.js';
import { kubeletEndpoint } from '../core/kubelet.js';
import { parsePrometheusText } from './prometheus.js';
import { MetricsStore, decodeBatch } from './store.js';
import { ResourceMetricsApi } from './api.js';

/** metrics-server's default --metric-resolution. */
export const DEFAULT_RESOLUTION_MS = 15_000;

/** Options of the metrics server. */
export interface MetricsServerOptions {
  informers: InformerFactory;
  /** The client identity node agents accept (O=system:masters of the cluster CA). */
  credentials: { cert: string | Buffer; key: string | Buffer };
  resolutionMs?: number;
  /** Per-scrape timeout (default 90 % of the resolution, at most 10 s). */
  timeoutMs?: number;
  clock?: Clock;
  log?: Logger;
  registry?: Registry;
}

/** Fetches a node agent's /metrics/resource. */
export function fetchResourceMetrics(host: string, port: number, creds: MetricsServerOptions['credentials'], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host, port, path: '/metrics/resource', cert: creds.cert, key: creds.key, rejectUnauthorized: false, timeout: timeoutMs, headers: { Accept: 'text/plain' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`request failed, status: "${res.statusCode} ${res.statusMessage}"`));
        else resolve(body);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Scrapes the nodes and serves the resource metrics API. */
export class MetricsServer {
  /** What the API server serves (register it with ApiServer.aggregate). */
  readonly api: ResourceMetricsApi;
  readonly store: MetricsStore;
  private readonly nodes: Informer;
  private readonly pods: Informer;
  private readonly resolutionMs: number;
  private readonly clock: Clock;
  private timer?: TimerHandle;
  private stopped = false;
  private readonly requests?: Counter;
  private readonly duration?: Histogram;

  constructor(private readonly o: MetricsServerOptions) {
    this.resolutionMs = o.resolutionMs ?? DEFAULT_RESOLUTION_MS;
    this.clock = o.clock ?? realClock;
    this.store = new MetricsStore(this.resolutionMs);
    this.nodes = o.informers.for(R.nodes);
    this.pods = o.informers.for(R.pods);
    this.nodes.on({ delete: (n) => this.store.forget(n.metadata.name!) });
    this.api = new ResourceMetricsApi(this.store, {
      nodes: () => this.nodes.list(),
      node: (name) => this.nodes.get(name),
      pods: (ns) => (ns ? this.pods.byIndex('namespace', ns) : this.pods.list()),
      pod: (ns, name) => this.pods.get(`${ns}/${name}`),
    }, () => this.clock.now());
    if (o.registry) {
      const registers = [o.registry];
      this.requests = new Counter({ name: 'metrics_server_kubelet_request_total', help: 'Number of requests sent to Kubelet API', labelNames: ['success'], registers });
      this.duration = new Histogram({ name: 'metrics_server_kubelet_request_duration_seconds', help: 'Duration of requests to Kubelet API in seconds', labelNames: ['node'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    }
  }

  /** Starts scraping once the caches are filled: at once, then every resolution. */
  run(): this {
    void this.o.informers.synced().then(() => this.tick());
    return this;
  }

  /** Stops scraping. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.scrape().catch((err) => this.o.log?.warn({ err: String(err) }, 'metrics scrape failed'));
    if (!this.stopped) this.timer = this.clock.after(this.resolutionMs, () => { void this.tick(); });
  }

  /** Scrapes every node once and stores what each answered. */
  async scrape(): Promise<void> {
    const timeout = this.o.timeoutMs ?? Math.min(10_000, Math.round(this.resolutionMs * 0.9));
    await Promise.all(this.nodes.list().map((n) => this.scrapeNode(n, timeout)));
  }

  private async scrapeNode(n: KObject, timeoutMs: number): Promise<void> {
    const name = n.metadata.name!;
    const ep = kubeletEndpoint(n);
    if (!ep) { this.store.forget(name); return; }
    const t0 = Date.now();
    try {
      const text = await fetchResourceMetrics(ep.host, ep.port, this.o.credentials, timeoutMs);
      this.store.store(name, decodeBatch(parsePrometheusText(text), this.clock.now()));
      this.requests?.inc({ success: 'true' });
    } catch (err) {
      this.store.forget(name);
      this.requests?.inc({ success: 'false' });
      this.o.log?.warn({ node: name, err: (err as Error).message }, 'failed to scrape node');
    } finally {
      this.duration?.observe({ node: name }, (Date.now() - t0) / 1000);
    }
  }
}
