/**
 * Pod-level cgroups, as the kubelet makes them with `cgroupsPerQOS` (its cgroupfs driver):
 *
 *   <root>                        the node's pods (kubelet: /kubepods); Guaranteed pods directly
 *   <root>/burstable              Burstable pods
 *   <root>/besteffort             BestEffort pods (cpu.shares 2)
 *   <root>/<qos>/pod<uid>         one pod: every container of it is below (`cgroupParent`)
 *
 * The pod cgroup gets the kubelet's ResourceConfigForPod: cpu.shares from the pod's requests;
 * the CFS quota from the sum of CPU limits and the memory limit from the sum of memory limits
 * when every container has one (always for Guaranteed; BestEffort only cpu.shares 2). The root
 * is Skiff's own (`/skiff/kubepods-<hash of the data root>`), so it never meets a real
 * kubelet's /kubepods nor another Skiff data root's on the same machine. The engine makes and
 * removes the cgroups by path; what they mean is decided here.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { KObject } from '../client/client.js';
import { milli, whole } from '../core/quantity.js';
import { cgroupChildren, ensureCgroup, removeCgroupTree, type CgroupLimits } from '../engine/container/cgroups.js';
import { cpuShares } from './spec.js';
import { qosClass } from './status.js';

/** The kubelet's CFS period (100 ms) and smallest quota (1 ms), microseconds. */
const QUOTA_PERIOD = 100_000;
const MIN_QUOTA = 1000;

/** The QoS-level cgroups, by class (Guaranteed pods sit in the root itself). */
const QOS_DIRS: Record<string, string> = { Guaranteed: '', Burstable: 'burstable', BestEffort: 'besteffort' };

/** The pod cgroups' root for a data root: `/skiff/kubepods-<first 8 hex of sha256(absolute root)>`. */
export function podCgroupRoot(dataRoot: string): string {
  return `/skiff/kubepods-${createHash('sha256').update(path.resolve(dataRoot)).digest('hex').slice(0, 8)}`;
}

/**
 * A pod's effective amount of one resource, as Kubernetes' PodRequests/PodLimits add it up:
 * the sum over app containers and sidecars, or the largest init container (with the sidecars
 * started before it) when that is larger, plus the pod overhead.
 */
export function podTotal(pod: KObject, amount: (c: any) => number, overhead = 0): number {
  const spec = pod.spec ?? {};
  let sum = 0;
  for (const c of spec.containers ?? []) sum += amount(c);
  let sidecars = 0;
  let init = 0;
  for (const c of spec.initContainers ?? []) {
    if (c?.restartPolicy === 'Always') sidecars += amount(c);
    else init = Math.max(init, amount(c) + sidecars);
  }
  return Math.max(sum + sidecars, init) + overhead;
}

/** The kubelet's CFS quota for a CPU limit in millicores (0: none). */
export function cpuQuota(milliCpu: number): number {
  if (!milliCpu) return 0;
  return Math.max(MIN_QUOTA, Math.floor((milliCpu * QUOTA_PERIOD) / 1000));
}

/** The pod cgroup's limits, as the kubelet's ResourceConfigForPod computes them. */
export function podCgroupLimits(pod: KObject): CgroupLimits {
  const spec = pod.spec ?? {};
  const qos = pod.status?.qosClass ?? qosClass(spec);
  if (qos === 'BestEffort') return { cpuShares: 2 };
  const all = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  const req = (c: any) => milli(c?.resources?.requests?.cpu ?? c?.resources?.limits?.cpu ?? 0);
  const cpuLimit = podTotal(pod, (c) => milli(c?.resources?.limits?.cpu ?? 0), milli(spec.overhead?.cpu ?? 0));
  const memLimit = podTotal(pod, (c) => whole(c?.resources?.limits?.memory ?? 0), whole(spec.overhead?.memory ?? 0));
  const out: CgroupLimits = { cpuShares: cpuShares(podTotal(pod, req, milli(spec.overhead?.cpu ?? 0))) };
  const everyCpu = all.every((c) => milli(c?.resources?.limits?.cpu ?? 0) > 0);
  const everyMem = all.every((c) => whole(c?.resources?.limits?.memory ?? 0) > 0);
  if (qos === 'Guaranteed' || everyCpu) {
    out.cpuQuota = cpuQuota(cpuLimit) || undefined;
    out.cpuPeriod = QUOTA_PERIOD;
  }
  if ((qos === 'Guaranteed' || everyMem) && memLimit > 0) out.memory = memLimit;
  return out;
}

/** The cgroup operations the manager uses (the engine's; stand-ins in tests). */
export interface CgroupOps {
  ensure(cg: string, limits?: CgroupLimits): Promise<void>;
  removeTree(cg: string): Promise<boolean>;
  children(cg: string): Promise<string[]>;
}

const engineOps: CgroupOps = { ensure: ensureCgroup, removeTree: removeCgroupTree, children: cgroupChildren };

/** Makes, finds and removes the pod cgroups under one root. */
export class PodCgroups {
  private qosReady = false;

  constructor(readonly root: string, private readonly ops: CgroupOps = engineOps) {}

  /** The cgroup of a pod (by its QoS class). */
  path(pod: KObject): string {
    const qos = pod.status?.qosClass ?? qosClass(pod.spec ?? {});
    return path.posix.join(this.root, QOS_DIRS[qos] ?? 'burstable', `pod${pod.metadata.uid}`);
  }

  /** Makes the QoS cgroups (once) and the pod's, with its limits; returns the pod's path. */
  async ensure(pod: KObject): Promise<string> {
    if (!this.qosReady) {
      await this.ops.ensure(this.root);
      await this.ops.ensure(path.posix.join(this.root, 'burstable'));
      await this.ops.ensure(path.posix.join(this.root, 'besteffort'), { cpuShares: 2 });
      this.qosReady = true;
    }
    const cg = this.path(pod);
    await this.ops.ensure(cg, podCgroupLimits(pod));
    return cg;
  }

  /** The pod cgroups that exist, by pod uid. */
  async list(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const dir of Object.values(QOS_DIRS)) {
      const parent = path.posix.join(this.root, dir);
      for (const name of await this.ops.children(parent)) {
        if (name.startsWith('pod')) out.set(name.slice(3), path.posix.join(parent, name));
      }
    }
    return out;
  }

  /** Removes a pod's cgroup (after its containers are gone); false when something still runs in it. */
  async remove(uid: string): Promise<boolean> {
    let gone = true;
    for (const dir of Object.values(QOS_DIRS)) {
      if (!(await this.ops.removeTree(path.posix.join(this.root, dir, `pod${uid}`)))) gone = false;
    }
    return gone;
  }

  /** Removes the cgroups of pods not in `live` (deleted while the agent was away, or a crash); returns their uids. */
  async removeOrphans(live: Set<string>): Promise<string[]> {
    const out: string[] = [];
    for (const uid of (await this.list()).keys()) {
      if (!live.has(uid) && (await this.remove(uid))) out.push(uid);
    }
    return out;
  }

  /**
   * Removes the hierarchy: every cgroup of it that is empty, deepest first (those holding
   * processes stay, with their parents); true when all went. `skiff down` (nothing runs any
   * more) and the agent's stop (running pods keep theirs; the next start makes the rest again).
   */
  async removeAll(): Promise<boolean> {
    this.qosReady = false;
    return this.ops.removeTree(this.root);
  }
}
