/**
 * The HorizontalPodAutoscaler's arithmetic, as Kubernetes' replica calculator: for a resource
 * metric with a target average utilization, desired = ceil(current × usage ratio), unchanged
 * when the ratio is within the 10% tolerance; pods without metrics or not yet ready are
 * counted conservatively; the result is clamped to min/max and stabilized (scale-down takes
 * the highest recommendation of the last window, 300 s by default).
 */

/** The tolerance within which no scaling happens. */
export const TOLERANCE = 0.1;

/** One pod's figures for a resource metric. */
export interface PodSample { usage?: number; request: number; ready: boolean }

/** The replica count one utilization metric asks for, and the utilization seen. */
export function replicasForUtilization(current: number, pods: PodSample[], targetPercent: number): { replicas: number; utilization: number } | undefined {
  const measured = pods.filter((p) => p.usage !== undefined && p.ready);
  const requests = measured.reduce((s, p) => s + p.request, 0);
  if (!measured.length || requests <= 0) return undefined;
  const usage = measured.reduce((s, p) => s + (p.usage ?? 0), 0);
  const utilization = Math.round((usage * 100) / requests);
  let ratio = utilization / targetPercent;
  if (Math.abs(1 - ratio) <= TOLERANCE) return { replicas: current, utilization };
  // Missing or unready pods: assume 0% when scaling up and 100% when scaling down (Kubernetes' conservatism).
  const missing = pods.filter((p) => p.usage === undefined || !p.ready);
  if (missing.length) {
    const assumed = ratio > 1 ? 0 : 1;
    const allReq = requests + missing.reduce((s, p) => s + p.request, 0);
    const allUse = usage + missing.reduce((s, p) => s + assumed * p.request, 0);
    ratio = (allUse * 100) / allReq / targetPercent;
    if (Math.abs(1 - ratio) <= TOLERANCE || (ratio > 1) !== (utilization / targetPercent > 1)) return { replicas: current, utilization };
  }
  return { replicas: Math.ceil(ratio * measured.length + (missing.length ? ratio * missing.length : 0)), utilization };
}

/** A recommendation remembered for stabilization. */
export interface Recommendation { at: number; replicas: number }

/** Clamps to [min, max] and applies the scale-down stabilization window. */
export function stabilize(desired: number, min: number, max: number, history: Recommendation[], now: number, downWindowMs: number): { replicas: number; limited?: 'TooFewReplicas' | 'TooManyReplicas' } {
  let replicas = desired;
  let limited: 'TooFewReplicas' | 'TooManyReplicas' | undefined;
  if (replicas < min) { replicas = min; limited = 'TooFewReplicas'; }
  if (replicas > max) { replicas = max; limited = 'TooManyReplicas'; }
  const recent = history.filter((h) => now - h.at <= downWindowMs).map((h) => h.replicas);
  // Scale down only as far as the highest recent recommendation.
  if (recent.length) replicas = Math.max(replicas, Math.min(Math.max(...recent), max));
  return { replicas, limited };
}
