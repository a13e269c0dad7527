/**
 * Health check node ports, as kube-proxy serves them for LoadBalancer Services with
 * externalTrafficPolicy Local: an HTTP server on each Service's healthCheckNodePort answering
 * 200 while this node has ready endpoints of it and 503 otherwise, so an outside load
 * balancer sends traffic only to nodes that keep it local. The body and headers are
 * kube-proxy's: `{"service":{"namespace","name"},"localEndpoints":N,"serviceProxyHealthy":true}`,
 * `X-Load-Balancing-Endpoint-Weight: N`.
 */
import http from 'node:http';

/** What one health check port reports. */
export interface HealthCheck { namespace: string; name: string; localEndpoints: number }

/** The running health check servers, one per port. */
export class HealthCheckServers {
  private readonly servers = new Map<number, { server: http.Server; state: HealthCheck }>();

  constructor(private readonly o: { host?: string; log?: (msg: string) => void } = {}) {}

  /** Serves exactly `want` (port → report): new ports listen, gone ones close, others update. */
  async sync(want: Map<number, HealthCheck>): Promise<void> {
    for (const [port, s] of this.servers) {
      if (!want.has(port)) { s.server.close(); this.servers.delete(port); }
    }
    for (const [port, state] of want) {
      const cur = this.servers.get(port);
      if (cur) { cur.state = state; continue; }
      const entry = { server: http.createServer((_req, res) => this.answer(entry.state, res)), state };
      entry.server.on('error', (err) => this.o.log?.(`health check node port ${port} for ${state.namespace}/${state.name}: ${err.message}`));
      this.servers.set(port, entry);
      await new Promise<void>((ok) => {
        entry.server.once('listening', ok);
        entry.server.once('error', () => { this.servers.delete(port); ok(); });
        entry.server.listen(port, this.o.host ?? '0.0.0.0');
      });
    }
  }

  /** The ports now served (tests). */
  ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  private answer(s: HealthCheck, res: http.ServerResponse): void {
    const body = JSON.stringify({ service: { namespace: s.namespace, name: s.name }, localEndpoints: s.localEndpoints, serviceProxyHealthy: true });
    res.writeHead(s.localEndpoints > 0 ? 200 : 503, {
      'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': String(s.localEndpoints),
    });
    res.end(body);
  }

  /** Closes every server. */
  stop(): void {
    for (const s of this.servers.values()) s.server.close();
    this.servers.clear();
  }
}
