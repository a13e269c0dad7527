/**
 * Deployment arithmetic, as Kubernetes' deployment utilities: maxSurge and maxUnavailable
 * from ints or percentages (surge rounds up, unavailable rounds down; both zero means one
 * unavailable), how far the new ReplicaSet may grow, how far the old ones may shrink, and
 * proportional scaling of a rollout in flight. Pure functions over numbers, so they are tested
 * table by table.
 */

/** An int-or-percent value resolved against `total` (a percentage rounds up or down). */
export function resolveIntOrPercent(v: number | string | undefined, total: number, roundUp: boolean, dflt: string): number {
  const x = v ?? dflt;
  if (typeof x === 'number') return x;
  const m = /^(\d+)%$/.exec(x);
  if (!m) return Number(x) || 0;
  const f = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(f) : Math.floor(f);
}

/** True for the RollingUpdate strategy (the default). */
export const isRollingUpdate = (d: any): boolean => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/**
 * maxSurge and maxUnavailable of a Deployment (ResolveFenceposts, MaxSurge, MaxUnavailable):
 * zero for Recreate; maxUnavailable never above replicas, and zero for zero replicas.
 */
export function surgeAndUnavailable(d: any): { surge: number; unavailable: number } {
  const replicas = d.spec?.replicas ?? 1;
  if (!isRollingUpdate(d)) return { surge: 0, unavailable: 0 };
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  const surge = resolveIntOrPercent(ru.maxSurge, replicas, true, '25%');
  let unavailable = resolveIntOrPercent(ru.maxUnavailable, replicas, false, '25%');
  // Both zero would deadlock a rollout: Kubernetes then allows one unavailable.
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable: Math.min(unavailable, replicas) };
}

/**
 * The replicas the new ReplicaSet may have now (NewRSNewReplicas for RollingUpdate): grow by
 * what the surge leaves room for (counting every ReplicaSet's spec.replicas), never past
 * `replicas`.
 */
export function newReplicasForRollingUpdate(replicas: number, surge: number, newRsReplicas: number, totalReplicas: number): number {
  const maxTotal = replicas + surge;
  if (totalReplicas >= maxTotal) return newRsReplicas;
  return newRsReplicas + Math.max(0, Math.min(maxTotal - totalReplicas, replicas - newRsReplicas));
}

/**
 * How many old pods may go now (reconcileOldReplicaSets' maxScaledDown): every pod above the
 * minimum available, minus the new ReplicaSet's pods that are not available yet (they may
 * never become so, and must not be counted on).
 */
export function maxScaleDown(replicas: number, unavailable: number, totalReplicas: number, newRsReplicas: number, newRsAvailable: number): number {
  return totalReplicas - (replicas - unavailable) - (newRsReplicas - newRsAvailable);
}

/** What proportional scaling needs to know of one active ReplicaSet. */
export interface ScaleInput {
  /** spec.replicas */
  replicas: number;
  /** deployment.kubernetes.io/max-replicas: the Deployment's replicas + surge when last sized. */
  maxReplicas?: number;
  /** Creation time (ms) and name: the tie-breakers. */
  created: number;
  name: string;
}

/**
 * Proportional scaling (DeploymentController.scale with GetReplicaSetProportion): when a
 * Deployment is resized during a rollout, each active ReplicaSet gets its share of the new
 * maximum (replicas + surge) in proportion to its size against the maximum it was sized for
 * (the max-replicas annotation, else the Deployment's status.replicas), rounded; the
 * ReplicaSets are visited largest first (newer first among equals when growing, older first
 * when shrinking) and the first one takes what rounding left over. Returns the new sizes, in
 * the order given.
 */
export function proportionalScale(sets: ScaleInput[], replicas: number, surge: number, statusReplicas: number): number[] {
  const allowed = replicas > 0 ? replicas + surge : 0;
  const current = sets.reduce((s, x) => s + x.replicas, 0);
  const toAdd = allowed - current;
  const sizes = sets.map((x) => x.replicas);
  if (toAdd === 0 || !sets.length) return sizes;
  const byAge = (a: ScaleInput, b: ScaleInput) => (a.created - b.created) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const order = sets.map((_, i) => i).sort((i, j) => (sets[j].replicas - sets[i].replicas) || (toAdd > 0 ? byAge(sets[j], sets[i]) : byAge(sets[i], sets[j])));
  let added = 0;
  for (const i of order) {
    const rs = sets[i];
    if (rs.replicas === 0 || toAdd === added) continue;
    let fraction: number;
    if (replicas === 0) fraction = -rs.replicas;
    else {
      const before = rs.maxReplicas || statusReplicas;
      // Without a size to compare against there is no proportion; the leftover goes to the first.
      fraction = before ? Math.round((rs.replicas * allowed) / before) - rs.replicas : 0;
    }
    const left = toAdd - added;
    const share = toAdd > 0 ? Math.min(fraction, left) : Math.max(fraction, left);
    sizes[i] += share;
    added += share;
  }
  sizes[order[0]] = Math.max(0, sizes[order[0]] + (toAdd - added));
  return sizes;
}

/**
 * Which ReplicaSet a plain resize goes to (FindActiveOrLatest): the only one with replicas,
 * or, when none has any, the new one (else the newest old one); undefined when several are
 * active (then proportional scaling applies).
 */
export function activeOrLatest<T extends { replicas: number; created: number }>(newRs: T | undefined, olds: T[]): T | undefined {
  const all = [...(newRs ? [newRs] : []), ...olds];
  const active = all.filter((x) => x.replicas > 0);
  if (active.length === 1) return active[0];
  if (active.length > 1) return undefined;
  return newRs ?? [...olds].sort((a, b) => b.created - a.created)[0];
}
