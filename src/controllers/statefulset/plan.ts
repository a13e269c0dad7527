/**
 * What a StatefulSet sync does, decided from its pods alone (updateStatefulSet of
 * kube-controller-manager), so the ordering rules are tested as data:
 *
 * 1. Each ordinal in [start, start+replicas), lowest first: a finished pod is deleted (its
 *    successor comes on a later sync, once the name is free); a missing pod is created (claims
 *    first); with OrderedReady the walk stops at the first pod created, terminating, or not
 *    Running+Ready (+ available after minReadySeconds): each pod waits for its predecessors.
 * 2. Claims of condemned pods get the owners their retention policy asks for.
 * 3. Condemned pods (ordinals out of range), highest first: deleted; with OrderedReady one at a
 *    time, and only while every other pod is healthy (the first unhealthy pod may go).
 * 4. RollingUpdate (never OnDelete): from the highest ordinal down to start+partition, the
 *    first pod not at the update revision is deleted (it comes back at the new one) and the
 *    walk stops at any unhealthy pod: one pod at a time, in both pod management policies.
 */
import type { KObject } from '../../client/client.js';
import {
  identityMatches, inRange, isCreated, isFinished, isHealthy, isRunningAndAvailable, isRunningAndReady, isTerminating,
  ordinalOf, ordinalRange, podRevision, startOrdinal,
} from './identity.js';

/** One step of a sync. */
export type StsAction =
  | { op: 'create'; ordinal: number; revision: 'current' | 'update' }
  | { op: 'delete'; pod: KObject; why: 'finished' | 'scale-down' | 'update' }
  /** Put back the identity labels of a pod. */
  | { op: 'relabel'; pod: KObject }
  /** Create missing claims of a pod / give them the owners the retention policy asks for. */
  | { op: 'claims'; pod: KObject };

/** What the planner reads. */
export interface StsInput {
  set: KObject;
  /** The set's pods with a valid ordinal of it. */
  pods: KObject[];
  updateRevision: string;
  /** status.currentReplicas (used only for RollingUpdate without rollingUpdate settings). */
  currentReplicas?: number;
  now: number;
  /** True when the claims of the pod need work (missing, or owners off the policy). */
  claimsNeedWork?(pod: KObject): boolean;
  /** True when a claim of this ordinal still belongs to an earlier pod (PodClaimIsStale). */
  claimStale?(ordinal: number): boolean;
}

/** The steps, in order, and what stopped the walk (for logs and tests). */
export interface StsPlan { actions: StsAction[]; waitingFor?: string }

/** Which revision a new pod at `ord` gets (newVersionedStatefulSetPod). */
export function revisionForOrdinal(set: KObject, ord: number, currentReplicas = 0): 'current' | 'update' {
  const strategy = set.spec?.updateStrategy ?? {};
  const type = strategy.type ?? 'RollingUpdate';
  const start = startOrdinal(set);
  if (strategy.rollingUpdate) return ord < start + (strategy.rollingUpdate.partition ?? 0) ? 'current' : 'update';
  return type === 'RollingUpdate' && ord < start + currentReplicas ? 'current' : 'update';
}

/** Plans one sync of a StatefulSet. */
export function planStatefulSet(input: StsInput): StsPlan {
  const { set, pods, now } = input;
  const name = set.metadata.name!;
  const minReady = set.spec?.minReadySeconds ?? 0;
  const monotonic = (set.spec?.podManagementPolicy ?? 'OrderedReady') !== 'Parallel';
  const claimsNeedWork = input.claimsNeedWork ?? (() => false);
  const ord = (p: KObject) => ordinalOf(name, p.metadata.name!);
  const replicas = new Map<number, KObject>();
  const condemned: KObject[] = [];
  for (const p of pods) {
    const o = ord(p);
    if (o < 0) continue;
    if (inRange(set, o)) replicas.set(o, p); else condemned.push(p);
  }
  condemned.sort((a, b) => ord(b) - ord(a));
  const actions: StsAction[] = [];
  const plan = (waitingFor?: string): StsPlan => (waitingFor ? { actions, waitingFor } : { actions });
  if (set.metadata.deletionTimestamp) return plan('deletion');

  // The lowest-ordinal unhealthy pod (a missing one counts) may be scaled away even when ordered.
  const range = ordinalRange(set);
  let firstUnhealthy: KObject | number | undefined = range.find((o) => !replicas.has(o) || !isHealthy(replicas.get(o)!));
  if (firstUnhealthy !== undefined && replicas.has(firstUnhealthy)) firstUnhealthy = replicas.get(firstUnhealthy);
  if (firstUnhealthy === undefined) firstUnhealthy = [...condemned].reverse().find((p) => !isHealthy(p));

  // 1. Replicas, in ordinal order.
  for (const o of range) {
    const p = replicas.get(o);
    if (p && isFinished(p)) {
      if (!isTerminating(p)) actions.push({ op: 'delete', pod: p, why: 'finished' });
      if (monotonic) return plan(`${p.metadata.name} to be recreated`);
      continue;
    }
    if (!p || !isCreated(p)) {
      if (input.claimStale?.(o)) {
        if (monotonic) return plan(`stale claims of ${name}-${o}`);
        continue;
      }
      actions.push({ op: 'create', ordinal: o, revision: revisionForOrdinal(set, o, input.currentReplicas) });
      if (monotonic) return plan(`${name}-${o} to be Running and Ready`);
      continue;
    }
    if (p.status?.phase === 'Pending' && claimsNeedWork(p)) actions.push({ op: 'claims', pod: p });
    if (monotonic && isTerminating(p)) return plan(`${p.metadata.name} to terminate`);
    if (monotonic && !isRunningAndReady(p)) return plan(`${p.metadata.name} to be Running and Ready`);
    if (monotonic && !isRunningAndAvailable(p, minReady, now)) return plan(`${p.metadata.name} to be available`);
    if (!identityMatches(set, p)) actions.push({ op: 'relabel', pod: p });
    if (p.status?.phase !== 'Pending' && claimsNeedWork(p)) actions.push({ op: 'claims', pod: p });
  }

  // 2. Claims of condemned pods follow the retention policy before the pods go.
  for (const p of condemned) if (claimsNeedWork(p)) actions.push({ op: 'claims', pod: p });

  // 3. Scale down, highest ordinal first.
  for (const p of condemned) {
    if (isTerminating(p)) {
      if (monotonic) return plan(`${p.metadata.name} to terminate`);
      continue;
    }
    if (monotonic && p !== firstUnhealthy && (!isRunningAndReady(p) || !isRunningAndAvailable(p, minReady, now))) {
      return plan(`${p.metadata.name} to be Running and Ready before scale down`);
    }
    actions.push({ op: 'delete', pod: p, why: 'scale-down' });
    if (monotonic) return plan(`${p.metadata.name} to terminate`);
  }

  // 4. Rolling update, highest ordinal first, down to the partition.
  if ((set.spec?.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return plan();
  const floor = startOrdinal(set) + (set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0);
  for (const o of [...range].reverse()) {
    if (o < floor) break;
    const p = replicas.get(o);
    if (!p) return plan(`${name}-${o} to be created`);
    if (podRevision(p) !== input.updateRevision && !isTerminating(p)) {
      actions.push({ op: 'delete', pod: p, why: 'update' });
      return plan(`${p.metadata.name} to be updated`);
    }
    if (!isHealthy(p)) return plan(`${p.metadata.name} to update`);
  }
  return plan();
}

/** The status of a set from its pods (updateStatus + completeRollingUpdate). */
export function statefulSetStatus(set: KObject, pods: KObject[], current: string, update: string, collisionCount: number, now: number): any {
  const minReady = set.spec?.minReadySeconds ?? 0;
  const counted = pods.filter((p) => ordinalOf(set.metadata.name!, p.metadata.name!) >= 0);
  const live = counted.filter((p) => isCreated(p) && !isTerminating(p));
  const status: any = {
    observedGeneration: set.metadata.generation,
    replicas: counted.filter(isCreated).length,
    readyReplicas: counted.filter(isRunningAndReady).length,
    availableReplicas: counted.filter((p) => isRunningAndAvailable(p, minReady, now)).length,
    currentReplicas: live.filter((p) => podRevision(p) === current).length,
    updatedReplicas: live.filter((p) => podRevision(p) === update).length,
    currentRevision: current,
    updateRevision: update,
    collisionCount,
  };
  // A rolling update is complete once every pod is updated and ready: update becomes current.
  if ((set.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate'
    && status.updatedReplicas === status.replicas && status.readyReplicas === status.replicas) {
    status.currentReplicas = status.updatedReplicas;
    status.currentRevision = update;
  }
  return status;
}
