/**
 * The metrics endpoints the agent's HTTPS server serves, at the kubelet's paths:
 * `/metrics/resource` (resource metrics, Prometheus text), `/stats/summary` (Summary API JSON)
 * and `/metrics` (the agent's own Prometheus metrics).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { PROMETHEUS_TEXT, renderResourceMetrics } from './resource.js';
import { summary } from './summary.js';
import type { StatsProvider, StatsSnapshot } from './stats.js';

/** A GET handler of the agent's server. */
export type AgentRoute = (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => Promise<void>;

/** The metrics routes by path. */
export function metricsRoutes(o: { nodeName: string; stats: StatsProvider; registry: Registry; log?: (msg: string) => void }): Record<string, AgentRoute> {
  const snapshot = async (): Promise<StatsSnapshot | undefined> => {
    try {
      return await o.stats.snapshot();
    } catch (err) {
      o.log?.(`reading resource statistics: ${(err as Error).message}`);
      return undefined;
    }
  };
  return {
    '/metrics/resource': async (_req, res) => {
      const s = await snapshot();
      const body = s ? renderResourceMetrics(s) : renderResourceMetrics({ node: { time: 0, cpuNs: 0, workingSet: 0, usage: 0, rss: 0, pageFaults: 0, majorPageFaults: 0, startTime: 0 }, pods: [] }, true);
      res.writeHead(200, { 'Content-Type': PROMETHEUS_TEXT });
      res.end(body);
    },
    '/stats/summary': async (_req, res) => {
      const s = await o.stats.snapshot();
      const body = JSON.stringify(summary(s, o.nodeName));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
    },
    '/metrics': async (_req, res) => {
      const body = await o.registry.metrics();
      res.writeHead(200, { 'Content-Type': o.registry.contentType });
      res.end(body);
    },
  };
}
