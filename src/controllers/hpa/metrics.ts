/**
 * Where the autoscaler gets resource usage: the resource metrics API (metrics.k8s.io/v1beta1
 * PodMetrics, served by metrics-server in a real cluster) through `ApiMetricsReader`, or any
 * other `MetricsReader` (tests). A pod's sample is the sum over its containers (or the named
 * container for ContainerResource metrics), in thousandths as Kubernetes' MilliValue.
 */
import type { ApiClient } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { milli } from '../../core/quantity.js';
import type { PodMetric } from './replicas.js';

/** Reads per-pod samples of a resource for the pods a selector picks. */
export interface MetricsReader {
  /** Samples by pod name; throws (with Kubernetes' wording) when the metrics API cannot answer. */
  podMetrics(namespace: string, selector: string, resource: string, container?: string): Promise<Map<string, PodMetric>>;
}

/** Parses "30s" / "1m0s"-style durations of PodMetrics.window (ms). */
export function durationMs(d: string | undefined): number {
  if (!d) return 0;
  let ms = 0;
  for (const [, n, u] of d.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) ms += Number(n) * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as Record<string, number>)[u];
  return ms;
}

/** PodMetrics items to samples (a pod lacking the resource in a container is left out). */
export function samplesOf(items: any[], resource: string, container?: string): Map<string, PodMetric> {
  const out = new Map<string, PodMetric>();
  for (const pm of items) {
    const cs = (pm.containers ?? []).filter((c: any) => !container || c.name === container);
    if (!cs.length || cs.some((c: any) => c.usage?.[resource] === undefined)) continue;
    out.set(pm.metadata.name, {
      value: cs.reduce((s: number, c: any) => s + milli(c.usage[resource]), 0),
      timestamp: Date.parse(pm.timestamp ?? '') || 0,
      windowMs: durationMs(pm.window),
    });
  }
  return out;
}

/** The resource metrics API through the API server. */
export class ApiMetricsReader implements MetricsReader {
  constructor(private readonly client: ApiClient) {}

  async podMetrics(namespace: string, selector: string, resource: string, container?: string): Promise<Map<string, PodMetric>> {
    let items: any[];
    try {
      items = (await this.client.list(R.podmetrics, namespace, { labelSelector: selector })).items;
    } catch (err) {
      const why = err instanceof ApiStatusError && err.code === 404 ? 'the server could not find the requested resource (get pods.metrics.k8s.io)' : (err as Error).message;
      throw new Error(`unable to fetch metrics from resource metrics API: ${why}`);
    }
    if (!items.length) throw new Error('no metrics returned from resource metrics API');
    return samplesOf(items, resource, container);
  }
}
