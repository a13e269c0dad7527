/**
 * A ReplicaSet's status as kube-controller-manager computes it from the active pods it owns:
 * replicas, fullyLabeledReplicas (pods carrying every template label), readyReplicas,
 * availableReplicas (ready for minReadySeconds), observedGeneration, and the ReplicaFailure
 * condition while creating or deleting pods fails.
 */
import type { KObject } from '../../client/client.js';
import { rfc3339 } from '../runtime/clock.js';
import { isPodAvailable, isPodReady } from '../pods.js';

/** What went wrong managing replicas in this sync, if anything. */
export interface ManageError { message: string }

/**
 * The status to write, and (when some ready pods are not yet available) how long until the
 * first of them is, so the controller looks again then.
 */
export function replicaSetStatus(rs: KObject, active: KObject[], nowMs: number, err?: ManageError): { status: any; requeueAfterMs?: number } {
  const minReady = rs.spec?.minReadySeconds ?? 0;
  const tmplLabels: Record<string, string> = rs.spec?.template?.metadata?.labels ?? {};
  let fullyLabeled = 0, ready = 0, available = 0;
  let nextAvailable = Infinity;
  for (const p of active) {
    if (Object.entries(tmplLabels).every(([k, v]) => p.metadata.labels?.[k] === v)) fullyLabeled++;
    if (!isPodReady(p)) continue;
    ready++;
    if (isPodAvailable(p, minReady, nowMs)) { available++; continue; }
    const c = p.status.conditions.find((x: any) => x.type === 'Ready' && x.status === 'True');
    const since = Date.parse(c?.lastTransitionTime ?? '');
    if (Number.isFinite(since)) nextAvailable = Math.min(nextAvailable, since + minReady * 1000 - nowMs);
  }
  let conditions: any[] = [...(rs.status?.conditions ?? [])];
  const failure = conditions.find((c) => c.type === 'ReplicaFailure');
  if (err && !failure) {
    // The reason says which way the count was off when the error happened.
    const diff = active.length - (rs.spec?.replicas ?? 1);
    const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
    conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: rfc3339(nowMs), reason, message: err.message });
  } else if (!err && failure) {
    conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
  }
  const status: any = { replicas: active.length };
  // Zero counts are omitted, as Kubernetes' JSON (omitempty) does.
  if (fullyLabeled) status.fullyLabeledReplicas = fullyLabeled;
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  if (rs.metadata.generation !== undefined) status.observedGeneration = rs.metadata.generation;
  if (conditions.length) status.conditions = conditions;
  // Kubernetes checks a little after minReadySeconds; a second's slack absorbs clock rounding.
  return { status, ...(Number.isFinite(nextAvailable) ? { requeueAfterMs: Math.max(0, nextAvailable) + 1000 } : {}) };
}
