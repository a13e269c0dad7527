/**
 * How far and how fast an autoscaler may move, as Kubernetes' HPA controller normalizes a
 * recommendation: stabilization (over the window, a scale-up takes the lowest recent
 * recommendation, a scale-down the highest; scale-down's window is 300 s unless the HPA says
 * otherwise), rate policies over past scale events (defaults: up by max(4 pods, 100%) per
 * 15 s, down by 100% per 15 s; selectPolicy Max/Min/Disabled), then min/max replicas. The
 * reasons are the ScalingLimited/AbleToScale condition reasons Kubernetes sets.
 */

/** One scaling policy (autoscaling/v2 HPAScalingPolicy). */
export interface Policy { type: 'Pods' | 'Percent'; value: number; periodSeconds: number }
/** One direction's rules (HPAScalingRules). */
export interface Rules { stabilizationWindowSeconds: number; selectPolicy: 'Max' | 'Min' | 'Disabled'; policies: Policy[] }
/** A remembered recommendation or scale event (ms). */
export interface Timed { at: number; replicas: number }

/** Behavior with Kubernetes' defaults filled in (GenerateHPAScaleUpRules/ScaleDownRules). */
export function withDefaults(b: any, downscaleWindowSeconds = 300): { scaleUp: Rules; scaleDown: Rules } {
  const up = b?.scaleUp ?? {}, down = b?.scaleDown ?? {};
  return {
    scaleUp: {
      stabilizationWindowSeconds: up.stabilizationWindowSeconds ?? 0,
      selectPolicy: up.selectPolicy ?? 'Max',
      policies: up.policies ?? [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: down.stabilizationWindowSeconds ?? downscaleWindowSeconds,
      selectPolicy: down.selectPolicy ?? 'Max',
      policies: down.policies ?? [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
  };
}

/** Replicas added (or removed) by the events within `periodSeconds` before `now`. */
function changedWithin(events: Timed[], periodSeconds: number, now: number): number {
  return events.filter((e) => e.at > now - periodSeconds * 1000).reduce((s, e) => s + e.replicas, 0);
}

/** The most replicas the scale-up policies allow now. */
export function scaleUpLimit(current: number, ups: Timed[], downs: Timed[], r: Rules, now: number): number {
  if (r.selectPolicy === 'Disabled') return current;
  let result = r.selectPolicy === 'Min' ? Infinity : -Infinity;
  for (const p of r.policies) {
    const start = current - changedWithin(ups, p.periodSeconds, now) + changedWithin(downs, p.periodSeconds, now);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = r.selectPolicy === 'Min' ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** The fewest replicas the scale-down policies allow now. */
export function scaleDownLimit(current: number, ups: Timed[], downs: Timed[], r: Rules, now: number): number {
  if (r.selectPolicy === 'Disabled') return current;
  let result = r.selectPolicy === 'Min' ? -Infinity : Infinity;
  for (const p of r.policies) {
    const start = current - changedWithin(ups, p.periodSeconds, now) + changedWithin(downs, p.periodSeconds, now);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = r.selectPolicy === 'Min' ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/** What one autoscaler remembers between syncs. */
export interface Memory { recommendations: Timed[]; ups: Timed[]; downs: Timed[] }

/** A normalized recommendation and the conditions that explain it. */
export interface Normalized {
  replicas: number;
  /** AbleToScale: ScaleUpStabilized / ScaleDownStabilized / ReadyForNewScale. */
  stabilized: { reason: string; message: string };
  /** ScalingLimited (status True when limited). */
  limited: { status: 'True' | 'False'; reason: string; message: string };
}

/**
 * Stabilizes `desired`, then bounds it by the rate policies and min/max; records the raw
 * recommendation in `mem` (normalizeDesiredReplicasWithBehaviors).
 */
export function normalize(mem: Memory, current: number, desired: number, min: number, max: number, b: { scaleUp: Rules; scaleDown: Rules }, now: number): Normalized {
  if (!mem.recommendations.length) mem.recommendations.push({ at: now, replicas: current }); // a fresh controller does not scale down at once
  const up = desired >= current;
  const window = (up ? b.scaleUp : b.scaleDown).stabilizationWindowSeconds;
  const longest = Math.max(b.scaleUp.stabilizationWindowSeconds, b.scaleDown.stabilizationWindowSeconds);
  let rec = desired;
  for (const r of mem.recommendations) if (r.at > now - window * 1000) rec = up ? Math.min(rec, r.replicas) : Math.max(rec, r.replicas);
  mem.recommendations = mem.recommendations.filter((r) => r.at >= now - longest * 1000);
  mem.recommendations.push({ at: now, replicas: desired });
  const stabilized = rec !== desired
    ? up ? { reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' }
      : { reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' }
    : { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
  let replicas = rec, reason = 'DesiredWithinRange', message = 'the desired count is within the acceptable range';
  if (rec > current) {
    const limit = Math.max(current, scaleUpLimit(current, mem.ups, mem.downs, b.scaleUp, now));
    const [cap, r, m] = max > limit ? [limit, 'ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate']
      : [max, 'TooManyReplicas', 'the desired replica count is more than the maximum replica count'];
    if (rec > cap) [replicas, reason, message] = [cap, r, m];
  } else if (rec < current) {
    const limit = Math.min(current, scaleDownLimit(current, mem.ups, mem.downs, b.scaleDown, now));
    const [floor, r, m] = min < limit ? [limit, 'ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate']
      : [min, 'TooFewReplicas', 'the desired replica count is less than the minimum replica count'];
    if (rec < floor) [replicas, reason, message] = [floor, r, m];
  }
  return { replicas, stabilized, limited: { status: replicas === rec ? 'False' : 'True', reason, message } };
}

/** Records a rescale for the rate policies, forgetting events older than every period. */
export function recordScale(mem: Memory, b: { scaleUp: Rules; scaleDown: Rules }, from: number, to: number, now: number): void {
  const longest = (r: Rules) => Math.max(0, ...r.policies.map((p) => p.periodSeconds)) * 1000;
  mem.ups = mem.ups.filter((e) => e.at > now - longest(b.scaleUp));
  mem.downs = mem.downs.filter((e) => e.at > now - longest(b.scaleDown));
  if (to > from) mem.ups.push({ at: now, replicas: to - from });
  else if (to < from) mem.downs.push({ at: now, replicas: from - to });
}

/**
 * The rules of an HPA without spec.behavior (normalizeDesiredReplicas): scale-down takes the
 * highest recommendation of the downscale window, scale-up at most to max(2 × current, 4)
 * per sync, then min/max.
 */
export function normalizeLegacy(mem: Memory, current: number, desired: number, min: number, max: number, windowMs: number, now: number): Normalized {
  let rec = desired;
  for (const r of mem.recommendations) if (r.at >= now - windowMs && r.replicas > rec) rec = r.replicas;
  mem.recommendations = mem.recommendations.filter((r) => r.at >= now - windowMs);
  mem.recommendations.push({ at: now, replicas: desired });
  const stabilized = rec !== desired
    ? { reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' }
    : { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
  const upLimit = Math.max(2 * current, 4);
  const [cap, capReason, capMessage] = max > upLimit ? [upLimit, 'ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate']
    : [max, 'TooManyReplicas', 'the desired replica count is more than the maximum replica count'];
  let replicas = rec, reason = 'DesiredWithinRange', message = 'the desired count is within the acceptable range';
  if (rec < min) [replicas, reason, message] = [min, 'TooFewReplicas', 'the desired replica count is less than the minimum replica count'];
  else if (rec > cap) [replicas, reason, message] = [cap, capReason, capMessage];
  return { replicas, stabilized, limited: { status: replicas === rec ? 'False' : 'True', reason, message } };
}
