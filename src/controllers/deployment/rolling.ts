/**
 * Deployment arithmetic, as Kubernetes' deployment utilities: maxSurge and maxUnavailable
 * from ints or percentages (surge rounds up, unavailable rounds down; both zero means one
 * unavailable), how far the new ReplicaSet may grow, how far the old ones may shrink, and
 * proportional scaling of a rollout in flight.
 */

/** An int-or-percent value resolved against `total`. */
export function resolveIntOrPercent(v: number | string | undefined, total: number, roundUp: boolean, dflt: string): number {
  const x = v ?? dflt;
  if (typeof x === 'number') return x;
  const m = /^(\d+)%$/.exec(x);
  if (!m) return Number(x) || 0;
  const f = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(f) : Math.floor(f);
}

/** maxSurge and maxUnavailable of a RollingUpdate deployment. */
export function surgeAndUnavailable(d: any): { surge: number; unavailable: number } {
  const replicas = d.spec?.replicas ?? 1;
  if ((d.spec?.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return { surge: 0, unavailable: 0 };
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  const surge = resolveIntOrPercent(ru.maxSurge, replicas, true, '25%');
  let unavailable = resolveIntOrPercent(ru.maxUnavailable, replicas, false, '25%');
  // Both zero would deadlock a rollout: Kubernetes then allows one unavailable.
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable: Math.min(unavailable, replicas) };
}

/** The replicas the new ReplicaSet may have now (NewRSNewReplicas for RollingUpdate). */
export function newReplicasForRollingUpdate(replicas: number, surge: number, newRsReplicas: number, totalReplicas: number): number {
  const maxTotal = replicas + surge;
  if (totalReplicas >= maxTotal) return newRsReplicas;
  return newRsReplicas + Math.max(0, Math.min(maxTotal - totalReplicas, replicas - newRsReplicas));
}

/**
 * How many old pods may go now: every pod above the minimum available, minus the new
 * ReplicaSet's pods that are not available yet (they may never become so).
 */
export function maxScaleDown(replicas: number, unavailable: number, totalReplicas: number, newRsReplicas: number, newRsAvailable: number): number {
  return totalReplicas - (replicas - unavailable) - (newRsReplicas - newRsAvailable);
}

/**
 * Splits `delta` replicas (positive or negative) across ReplicaSets proportionally to their
 * sizes, the remainder going to the largest (scaling up) or the smallest... as Kubernetes:
 * the leftover goes to the first in order (newest first when growing, oldest when shrinking).
 */
export function proportionalShares(sizes: number[], delta: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const out = sizes.map(() => 0);
  if (!delta) return out;
  let given = 0;
  sizes.forEach((s, i) => {
    const share = total ? Math.trunc((s * delta) / total) : 0;
    const capped = delta < 0 ? Math.max(share, -s) : share;
    out[i] = capped || 0; // no -0
    given += capped;
  });
  let left = delta - given;
  for (let i = 0; left !== 0 && i < sizes.length * 2; i++) {
    const j = i % sizes.length;
    if (left > 0) { out[j]++; left--; } else if (sizes[j] + out[j] > 0) { out[j]--; left++; }
  }
  return out;
}
