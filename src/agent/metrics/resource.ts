/**
 * The kubelet's resource metrics endpoint (`/metrics/resource`) in the Prometheus text format:
 * node, pod and container CPU (cumulative core-seconds) and working-set memory, with the time
 * of each reading as the sample's timestamp (metrics-server computes rates from them), the
 * containers' start times, and `resource_scrape_error`. Names, help texts, labels and order are
 * the kubelet's (families sorted by name, as the Go client writes them).
 */
import type { StatsSnapshot } from './stats.js';

/** The text exposition format's content type. */
export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** A float as Go's strconv 'g' with the shortest precision writes it (Prometheus' Go client). */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return '0';
  const [mant, e] = v.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(v);
}

/** A label value escaped for the text format. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

interface Family { name: string; help: string; type: 'counter' | 'gauge'; samples: string[] }

function sample(name: string, labels: [string, string][], value: number, time?: number): string {
  const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
  return `${name}${l} ${goFloat(value)}${time !== undefined ? ` ${Math.round(time)}` : ''}`;
}

/** Renders a snapshot as the kubelet's /metrics/resource. */
export function renderResourceMetrics(s: StatsSnapshot, scrapeError = false): string {
  const fam = (name: string, help: string, type: Family['type'], stable = true): Family => ({ name, help: `[${stable ? 'STABLE' : 'ALPHA'}] ${help}`, type, samples: [] });
  const f = {
    cCpu: fam('container_cpu_usage_seconds_total', 'Cumulative cpu time consumed by the container in core-seconds', 'counter'),
    cMem: fam('container_memory_working_set_bytes', 'Current working set of the container in bytes', 'gauge'),
    cStart: fam('container_start_time_seconds', 'Start time of the container since unix epoch in seconds', 'gauge'),
    nCpu: fam('node_cpu_usage_seconds_total', 'Cumulative cpu time consumed by the node in core-seconds', 'counter'),
    nMem: fam('node_memory_working_set_bytes', 'Current working set of the node in bytes', 'gauge'),
    pCpu: fam('pod_cpu_usage_seconds_total', 'Cumulative cpu time consumed by the pod in core-seconds', 'counter'),
    pMem: fam('pod_memory_working_set_bytes', 'Current working set of the pod in bytes', 'gauge'),
    err: fam('resource_scrape_error', '1 if there was an error while getting container metrics, 0 otherwise', 'gauge'),
    err2: fam('scrape_error', '1 if there was an error while getting container metrics, 0 otherwise', 'gauge', false),
  };
  if (!scrapeError) {
    f.nCpu.samples.push(sample(f.nCpu.name, [], s.node.cpuNs / 1e9, s.node.time));
    f.nMem.samples.push(sample(f.nMem.name, [], s.node.workingSet, s.node.time));
    for (const p of s.pods) {
      const pl: [string, string][] = [['namespace', p.namespace], ['pod', p.name]];
      for (const c of p.containers) {
        const cl: [string, string][] = [['container', c.name], ...pl];
        f.cStart.samples.push(sample(f.cStart.name, cl, c.startTime / 1000));
        f.cCpu.samples.push(sample(f.cCpu.name, cl, c.cpuNs / 1e9, c.time));
        f.cMem.samples.push(sample(f.cMem.name, cl, c.workingSet, c.time));
      }
      f.pCpu.samples.push(sample(f.pCpu.name, pl, p.cpuNs / 1e9, p.time));
      f.pMem.samples.push(sample(f.pMem.name, pl, p.workingSet, p.time));
    }
  }
  f.err.samples.push(sample(f.err.name, [], scrapeError ? 1 : 0));
  f.err2.samples.push(sample(f.err2.name, [], scrapeError ? 1 : 0));
  return Object.values(f).sort((a, b) => a.name.localeCompare(b.name))
    .map((x) => `# HELP ${x.name} ${x.help}\n# TYPE ${x.name} ${x.type}\n${x.samples.sort().map((l) => `${l}\n`).join('')}`).join('');
}
