/**
 * The HorizontalPodAutoscaler's arithmetic, as Kubernetes' replica calculator
 * (pkg/controller/podautoscaler/replica_calculator.go) for resource metrics:
 * - pods being deleted or failed are ignored; pending pods, and for CPU pods not ready (or
 *   still warming up), are "unready"; pods without a sample are "missing";
 * - utilization = Σ usage × 100 / Σ requests over the pods with samples (integer percent),
 *   ratio = utilization / target (or average usage / target for AverageValue targets);
 * - within the 10% tolerance nothing changes; otherwise, when nothing is missing or unready,
 *   desired = ceil(ratio × ready pods);
 * - else missing pods count as using 100% (at least the target) on a scale-down and 0 on a
 *   scale-up, unready pods as 0 on a scale-up; if that flips the direction or lands within
 *   tolerance nothing changes, else desired = ceil(new ratio × pods counted).
 * All amounts are in thousandths (MilliValue), as Kubernetes reads metrics and requests.
 */

/** The tolerance within which no scaling happens (--horizontal-pod-autoscaler-tolerance). */
export const TOLERANCE = 0.1;
/** CPU samples of a pod this young are trusted only once it has been ready a whole window. */
export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
/** A pod unready this soon after starting is taken as never having been ready. */
export const INITIAL_READINESS_DELAY_MS = 30_000;

/** What the calculator needs of a pod. */
export interface PodInfo {
  name: string;
  phase?: string;
  deleting?: boolean;
  /** The Ready condition: status and when it last changed (ms). */
  ready?: { status: string; since: number };
  /** status.startTime (ms). */
  startTime?: number;
  /** Σ container requests of the resource (thousandths); undefined when a container has none. */
  request?: number;
  /** The container missing a request (for the error message). */
  missingRequestIn?: string;
}

/** One pod's sample from the resource metrics API (thousandths). */
export interface PodMetric { value: number; timestamp: number; windowMs: number }

/** A resource metric's target: a utilization percentage or an average value (thousandths). */
export type Target = { utilization: number } | { averageValue: number };

/** The calculator's answer: replicas, and the figures status.currentMetrics reports. */
export interface Proposal { replicas: number; utilization?: number; averageValue: number }

/** Sorts pods as Kubernetes' groupPods does. */
export function groupPods(pods: PodInfo[], metrics: Map<string, PodMetric>, resource: string, now: number) {
  let ready = 0;
  const unready = new Set<string>(), missing = new Set<string>(), ignored = new Set<string>();
  for (const p of pods) {
    if (p.deleting || p.phase === 'Failed') { ignored.add(p.name); continue; }
    if (p.phase === 'Pending') { unready.add(p.name); continue; }
    const m = metrics.get(p.name);
    if (!m) { missing.add(p.name); continue; }
    if (resource === 'cpu') {
      let isUnready: boolean;
      if (!p.ready || p.startTime === undefined) isUnready = true;
      else if (p.startTime + CPU_INITIALIZATION_PERIOD_MS > now) {
        // Warming up: the sample must cover a whole window after the pod became ready.
        isUnready = p.ready.status === 'False' || m.timestamp < p.ready.since + m.windowMs;
      } else {
        // Unready and never ready since it started.
        isUnready = p.ready.status === 'False' && p.startTime + INITIAL_READINESS_DELAY_MS > p.ready.since;
      }
      if (isUnready) { unready.add(p.name); continue; }
    }
    ready++;
  }
  return { ready, unready, missing, ignored };
}

/** Utilization (integer percent) and average usage of the sampled pods; throws without requests. */
export function utilizationOf(metrics: Map<string, number>, requests: Map<string, number>): { utilization: number; average: number } {
  let used = 0, requested = 0;
  for (const [name, v] of metrics) {
    const r = requests.get(name);
    if (r === undefined) continue;
    used += v;
    requested += r;
  }
  if (requested === 0) throw new Error('no metrics returned matched known pods');
  return { utilization: Math.trunc((used * 100) / requested), average: Math.trunc(used / metrics.size) };
}

/** The replicas a resource metric asks for, or an Error worded as Kubernetes words it. */
export function resourceReplicas(current: number, pods: PodInfo[], sample: Map<string, PodMetric>, resource: string, target: Target, now: number, tolerance = TOLERANCE): Proposal {
  if (!pods.length) throw new Error('no pods returned by selector while calculating replica count');
  const g = groupPods(pods, sample, resource, now);
  const metrics = new Map<string, number>();
  for (const [name, m] of sample) if (!g.ignored.has(name) && !g.unready.has(name) && pods.some((p) => p.name === name)) metrics.set(name, m.value);
  if (!metrics.size) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const requests = new Map<string, number>();
  const byValue = 'averageValue' in target;
  if (!byValue) {
    for (const p of pods) {
      if (p.request === undefined) throw new Error(`missing request for ${resource} in container ${p.missingRequestIn ?? ''} of Pod ${p.name}`);
      requests.set(p.name, p.request);
    }
  }
  const ratioOf = (ms: Map<string, number>) => {
    if (byValue) {
      const avg = [...ms.values()].reduce((a, b) => a + b, 0) / ms.size;
      return { ratio: avg / target.averageValue, utilization: undefined, average: Math.trunc(avg) };
    }
    const u = utilizationOf(ms, requests);
    return { ratio: u.utilization / target.utilization, utilization: u.utilization, average: u.average };
  };
  const first = ratioOf(metrics);
  const out = (replicas: number): Proposal => ({ replicas, utilization: first.utilization, averageValue: first.average });
  const scaleUpWithUnready = g.unready.size > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && !g.missing.size) {
    if (Math.abs(1 - first.ratio) <= tolerance) return out(current);
    return out(Math.ceil(first.ratio * g.ready));
  }
  if (g.missing.size) {
    for (const name of g.missing) {
      if (first.ratio < 1) {
        // On a scale-down a silent pod is taken as busy: its whole request (or the target, if higher).
        metrics.set(name, byValue ? target.averageValue : (requests.get(name)! * Math.max(100, target.utilization)) / 100);
      } else if (first.ratio > 1) metrics.set(name, 0);
    }
  }
  if (scaleUpWithUnready) for (const name of g.unready) metrics.set(name, 0);
  const next = ratioOf(metrics);
  if (Math.abs(1 - next.ratio) <= tolerance || (first.ratio < 1 && next.ratio > 1) || (first.ratio > 1 && next.ratio < 1)) return out(current);
  const replicas = Math.ceil(next.ratio * metrics.size);
  if ((next.ratio < 1 && replicas > current) || (next.ratio > 1 && replicas < current)) return out(current);
  return out(replicas);
}
