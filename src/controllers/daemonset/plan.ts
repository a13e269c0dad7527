/**
 * What a DaemonSet sync does, decided from nodes and pods alone (manage, rollingUpdate and
 * updateDaemonSetStatus of kube-controller-manager), so the rules are tested as data:
 *
 * - manage: a node that should run the pod and has none gets one; on a node where a pod may
 *   stay, failed pods go (with a per-node backoff) and extra pods beyond the oldest go (with
 *   surge: an old and a new pod may share a node until the new one is available); on a node
 *   where it may not stay, every pod goes; unscheduled pods pinned to a vanished node go
 *   (scheduled ones are the pod garbage collector's).
 * - rollingUpdate (only when manage had nothing to do): without surge, old pods are deleted so
 *   that at most maxUnavailable nodes lack an available pod (an old pod already unavailable is
 *   replaced at once); with surge, a new pod starts beside an old one on up to maxSurge nodes
 *   at a time, and the old one goes once the new one is available.
 */
import type { KObject } from '../../client/client.js';
import { isPodAvailable, isPodReady } from '../pods.js';
import { resolveIntOrPercent } from '../deployment/rolling.js';
import { REVISION_HASH } from '../history.js';
import { nodeOfPod, nodeShouldRunDaemonPod } from './nodes.js';

/** The deprecated label of the template generation a pod was made from. */
export const TEMPLATE_GENERATION = 'pod-template-generation';

/** What the planner reads. */
export interface DsInput {
  ds: KObject;
  nodes: KObject[];
  /** The pods the set controls. */
  pods: KObject[];
  /** The hash of the current template's revision. */
  hash: string;
  now: number;
  /** Milliseconds left before the failed pods of this node may be deleted again (0: now). */
  failedBackoffMs?(node: string): number;
}

/** The pods to create (by node) and delete, and when to look again. */
export interface DsPlan {
  create: string[];
  remove: KObject[];
  /** Failed pods among `remove` (each gets a FailedDaemonPod event and restarts its node's backoff). */
  failed: KObject[];
  requeueAfterMs?: number;
}

/** The set's template generation (the deprecated annotation), when the API server keeps it. */
export function templateGeneration(ds: KObject): string | undefined {
  return ds.metadata.annotations?.['deprecated.daemonset.template.generation'];
}

/** Is the pod of the current template (by revision hash, or by template generation)? (IsPodUpdated) */
export function isPodUpdated(ds: KObject, p: KObject, hash: string): boolean {
  const gen = templateGeneration(ds);
  return (!!hash && p.metadata.labels?.[REVISION_HASH] === hash) || (gen !== undefined && p.metadata.labels?.[TEMPLATE_GENERATION] === gen);
}

/** Scheduled pods first, then oldest first, then by name (podByCreationTimestampAndPhase). */
export function byAge(a: KObject, b: KObject): number {
  const sa = a.spec?.nodeName ? 0 : 1, sb = b.spec?.nodeName ? 0 : 1;
  if (sa !== sb) return sa - sb;
  const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0, tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  return ta - tb || a.metadata.name!.localeCompare(b.metadata.name!);
}

/** Pods by the node they are for, finished pods being deleted left out (getNodesToDaemonPods). */
export function podsByNode(pods: KObject[]): Map<string, KObject[]> {
  const out = new Map<string, KObject[]>();
  for (const p of pods) {
    const finished = p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';
    if (finished && p.metadata.deletionTimestamp) continue;
    const n = nodeOfPod(p);
    if (n) (out.get(n) ?? out.set(n, []).get(n)!).push(p);
  }
  return out;
}

/** maxSurge and maxUnavailable against the number of nodes that should run the pod (both zero: one unavailable). */
export function surgeAndUnavailable(ds: KObject, desired: number): { maxSurge: number; maxUnavailable: number } {
  const ru = ds.spec?.updateStrategy?.rollingUpdate ?? {};
  const maxSurge = resolveIntOrPercent(ru.maxSurge, desired, true, '0');
  let maxUnavailable = resolveIntOrPercent(ru.maxUnavailable, desired, true, '1');
  if (desired > 0 && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

/** True when a rolling update may surge (AllowsSurge: any maxSurge above zero, a percentage of one node rounding up). */
export function allowsSurge(ds: KObject): boolean {
  return (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && surgeAndUnavailable(ds, 1).maxSurge > 0;
}

/** Plans the pods of one sync: manage, then (if it found nothing to do) the rolling update. */
export function planDaemonSet(input: DsInput): DsPlan {
  const m = manage(input);
  if (m.create.length || m.remove.length) return m;
  if ((input.ds.spec?.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return m;
  return { ...rollingUpdate(input), ...(m.requeueAfterMs !== undefined ? { requeueAfterMs: m.requeueAfterMs } : {}) };
}

/** The pods each node should have (manage / podsShouldBeOnNode). */
export function manage(input: DsInput): DsPlan {
  const { ds, nodes, hash, now } = input;
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const surge = allowsSurge(ds);
  const byNode = podsByNode(input.pods);
  const plan: DsPlan = { create: [], remove: [], failed: [] };
  for (const node of nodes) {
    const name = node.metadata.name!;
    const fit = nodeShouldRunDaemonPod(ds.spec?.template, node);
    const pods = byNode.get(name);
    if (fit.shouldRun && !pods) { plan.create.push(name); continue; }
    if (!pods) continue;
    if (!fit.shouldContinueRunning) {
      plan.remove.push(...pods.filter((p) => !p.metadata.deletionTimestamp));
      continue;
    }
    const running: KObject[] = [];
    for (const p of pods) {
      if (p.metadata.deletionTimestamp) continue;
      if (p.status?.phase === 'Failed') {
        // The kubelet may keep rejecting the pod: back off instead of hot-looping.
        const wait = input.failedBackoffMs?.(name) ?? 0;
        if (wait > 0) { plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? Infinity, wait); continue; }
        plan.remove.push(p);
        plan.failed.push(p);
      } else if (p.status?.phase === 'Succeeded') {
        plan.remove.push(p);
      } else {
        running.push(p);
      }
    }
    running.sort(byAge);
    if (!surge) {
      plan.remove.push(...running.slice(1));
      continue;
    }
    if (running.length === 0) { if (fit.shouldRun) plan.create.push(name); continue; }
    if (running.length === 1) continue;
    // Surge: keep the oldest new pod, and the oldest old pod until the new one is available.
    let oldestNew: KObject | undefined, oldestOld: KObject | undefined;
    for (const p of running) {
      if (isPodUpdated(ds, p, hash)) { if (!oldestNew) { oldestNew = p; continue; } }
      else if (!oldestOld) { oldestOld = p; continue; }
      plan.remove.push(p);
    }
    if (oldestNew && oldestOld && (!isPodReady(oldestOld) || isPodAvailable(oldestNew, minReady, now))) plan.remove.push(oldestOld);
  }
  // Unscheduled pods pinned to nodes that no longer exist would never be scheduled.
  const names = new Set(nodes.map((n) => n.metadata.name));
  for (const [n, pods] of byNode) {
    if (!names.has(n)) plan.remove.push(...pods.filter((p) => !p.spec?.nodeName && !p.metadata.deletionTimestamp));
  }
  return plan;
}

/** The one old and one new live pod of a node; undefined when there are more (manage prunes first). */
function oldAndNew(ds: KObject, pods: KObject[], hash: string): { oldPod?: KObject; newPod?: KObject } | undefined {
  let oldPod: KObject | undefined, newPod: KObject | undefined;
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    if (isPodUpdated(ds, p, hash)) { if (newPod) return undefined; newPod = p; } else { if (oldPod) return undefined; oldPod = p; }
  }
  return { oldPod, newPod };
}

/** The rolling update step (rollingUpdate). */
export function rollingUpdate(input: DsInput): DsPlan {
  const { ds, nodes, hash, now } = input;
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const available = (p: KObject) => isPodAvailable(p, minReady, now);
  const byNode = podsByNode(input.pods);
  const nodeByName = new Map(nodes.map((n) => [n.metadata.name!, n]));
  let desired = 0;
  for (const n of nodes) {
    if (!nodeShouldRunDaemonPod(ds.spec?.template, n).shouldRun) continue;
    desired++;
    if (!byNode.has(n.metadata.name!)) byNode.set(n.metadata.name!, []);
  }
  const { maxSurge, maxUnavailable } = surgeAndUnavailable(ds, desired);
  const plan: DsPlan = { create: [], remove: [], failed: [] };
  if (maxSurge === 0) {
    let unavailable = 0;
    const replace: KObject[] = [], candidates: KObject[] = [];
    for (const pods of byNode.values()) {
      const on = oldAndNew(ds, pods, hash);
      if (!on) { unavailable++; continue; }
      const { oldPod, newPod } = on;
      if ((!oldPod && !newPod) || (oldPod && newPod)) unavailable++;
      else if (newPod) { if (!available(newPod)) unavailable++; }
      else if (!available(oldPod!)) { replace.push(oldPod!); unavailable++; }
      else if (unavailable < maxUnavailable) candidates.push(oldPod!);
    }
    const room = Math.max(0, Math.min(maxUnavailable - unavailable, candidates.length));
    plan.remove = [...replace, ...candidates.slice(0, room)];
    return plan;
  }
  let surged = 0, availableCount = 0;
  const allowedNew: string[] = [], candidateNew: string[] = [], shouldNotRun: KObject[] = [];
  for (const [name, pods] of byNode) {
    const on = oldAndNew(ds, pods, hash);
    if (!on) { surged++; continue; }
    const { oldPod, newPod } = on;
    const counted = newPod ?? oldPod;
    if (counted && available(counted)) availableCount++;
    const node = nodeByName.get(name);
    if (!node || !nodeShouldRunDaemonPod(ds.spec?.template, node).shouldRun) {
      shouldNotRun.push(...[oldPod, newPod].filter((p): p is KObject => !!p));
      continue;
    }
    if (!oldPod) continue;
    if (!newPod) {
      if (!available(oldPod)) allowedNew.push(name);
      else if (surged < maxSurge) candidateNew.push(name);
      continue;
    }
    if (!available(newPod)) { surged++; continue; }
    plan.remove.push(oldPod);
  }
  // With surge the owner expects full availability: pods off their nodes go only when others have taken over.
  const deletable = Math.min(availableCount - desired, shouldNotRun.length);
  if (deletable > 0) plan.remove.push(...shouldNotRun.slice(0, deletable));
  const room = Math.max(0, Math.min(maxSurge - surged, candidateNew.length));
  plan.create = [...allowedNew, ...candidateNew.slice(0, room)];
  return plan;
}

/** The status of a set (updateDaemonSetStatus), without observedGeneration. */
export function daemonSetStatus(ds: KObject, nodes: KObject[], pods: KObject[], hash: string, now: number): Record<string, number> {
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const byNode = podsByNode(pods);
  const s = { desiredNumberScheduled: 0, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0, numberAvailable: 0, updatedNumberScheduled: 0, numberUnavailable: 0 };
  for (const node of nodes) {
    const shouldRun = nodeShouldRunDaemonPod(ds.spec?.template, node).shouldRun;
    const here = [...(byNode.get(node.metadata.name!) ?? [])].sort(byAge);
    if (!shouldRun) { if (here.length) s.numberMisscheduled++; continue; }
    s.desiredNumberScheduled++;
    if (!here.length) continue;
    s.currentNumberScheduled++;
    const p = here[0];
    if (isPodReady(p)) {
      s.numberReady++;
      if (isPodAvailable(p, minReady, now)) s.numberAvailable++;
    }
    if (isPodUpdated(ds, p, hash)) s.updatedNumberScheduled++;
  }
  s.numberUnavailable = s.desiredNumberScheduled - s.numberAvailable;
  return s;
}
