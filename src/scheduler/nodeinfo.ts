/**
 * The scheduler's view of a node: its allocatable resources, what the pods on it request, and
 * those pods, kept incrementally as pods come and go so a filter or score is O(1) in the
 * number of pods for resource checks.
 */
import type { KObject } from '../client/client.js';
import { milli, whole } from '../core/quantity.js';

/** The resources the scheduler counts (cpu in millicores, memory and storage in bytes). */
export interface Resources { cpu: number; memory: number; ephemeral: number; pods: number }

/** Requests the scoring plugins assume for a container that declares none (kube-scheduler's). */
export const DEFAULT_MILLI_CPU = 100;
/** 200 MiB, as kube-scheduler's default memory request for scoring. */
export const DEFAULT_MEMORY = 200 * 1024 * 1024;

const zero = (): Resources => ({ cpu: 0, memory: 0, ephemeral: 0, pods: 0 });

function containerReq(c: any): Resources {
  const r = c?.resources?.requests ?? {};
  return { cpu: milli(r.cpu), memory: whole(r.memory), ephemeral: whole(r['ephemeral-storage']), pods: 0 };
}

/**
 * A pod's effective requests, as Kubernetes computes them: the sum over app containers (and
 * sidecars), or the largest init container if larger, plus the pod overhead.
 */
export function podRequests(pod: KObject): Resources {
  const sum = zero();
  for (const c of pod.spec?.containers ?? []) { const r = containerReq(c); sum.cpu += r.cpu; sum.memory += r.memory; sum.ephemeral += r.ephemeral; }
  // Restartable init containers (sidecars) run alongside the app containers.
  let sidecars = zero();
  const init = zero();
  for (const c of pod.spec?.initContainers ?? []) {
    const r = containerReq(c);
    if (c.restartPolicy === 'Always') { sidecars = { cpu: sidecars.cpu + r.cpu, memory: sidecars.memory + r.memory, ephemeral: sidecars.ephemeral + r.ephemeral, pods: 0 }; continue; }
    init.cpu = Math.max(init.cpu, r.cpu + sidecars.cpu);
    init.memory = Math.max(init.memory, r.memory + sidecars.memory);
    init.ephemeral = Math.max(init.ephemeral, r.ephemeral + sidecars.ephemeral);
  }
  const o = pod.spec?.overhead ?? {};
  return {
    cpu: Math.max(sum.cpu + sidecars.cpu, init.cpu) + milli(o.cpu),
    memory: Math.max(sum.memory + sidecars.memory, init.memory) + whole(o.memory),
    ephemeral: Math.max(sum.ephemeral + sidecars.ephemeral, init.ephemeral) + whole(o['ephemeral-storage']),
    pods: 1,
  };
}

/** Requests with kube-scheduler's non-zero defaults, for scoring. */
export function nonZeroRequests(pod: KObject): Resources {
  let cpu = 0, memory = 0;
  for (const c of pod.spec?.containers ?? []) {
    const r = c?.resources?.requests ?? {};
    cpu += r.cpu !== undefined ? milli(r.cpu) : DEFAULT_MILLI_CPU;
    memory += r.memory !== undefined ? whole(r.memory) : DEFAULT_MEMORY;
  }
  return { cpu, memory, ephemeral: 0, pods: 1 };
}

/** A pod placed on a node, with its requests computed once. */
export interface PodEntry { pod: KObject; req: Resources; nonZero: Resources }

/** True when a pod declares inter-pod (anti-)affinity terms. */
export function hasPodAffinity(pod: KObject): boolean {
  const a = pod.spec?.affinity;
  return !!(a?.podAffinity || a?.podAntiAffinity);
}

/** One node and the pods on it. */
export class NodeInfo {
  readonly pods = new Map<string, PodEntry>();
  requested = zero();
  nonZeroRequested = zero();
  allocatable = zero();
  /** Pods here with inter-pod (anti-)affinity terms. */
  podsWithAffinity = 0;
  /** Image name -> size in bytes, from node.status.images. */
  images = new Map<string, number>();

  constructor(public node: KObject) { this.setNode(node); }

  /** The node's name. */
  get name(): string { return this.node.metadata.name!; }

  /** Replaces the Node object (allocatable, labels, taints, images). */
  setNode(node: KObject): void {
    this.node = node;
    const a = node.status?.allocatable ?? node.status?.capacity ?? {};
    // No pods entry (a node that has not posted its status yet) means room for none, as Kubernetes'.
    this.allocatable = { cpu: milli(a.cpu), memory: whole(a.memory), ephemeral: whole(a['ephemeral-storage']), pods: whole(a.pods) };
    this.images = new Map();
    for (const img of node.status?.images ?? []) for (const n of img.names ?? []) this.images.set(n, img.sizeBytes ?? 0);
  }

  /** Adds (or replaces) a pod by key. */
  addPod(key: string, pod: KObject): void {
    this.removePod(key);
    const e: PodEntry = { pod, req: podRequests(pod), nonZero: nonZeroRequests(pod) };
    this.pods.set(key, e);
    add(this.requested, e.req, 1);
    add(this.nonZeroRequested, e.nonZero, 1);
    if (hasPodAffinity(pod)) this.podsWithAffinity++;
  }

  /** Removes a pod by key (no-op when absent). */
  removePod(key: string): void {
    const e = this.pods.get(key);
    if (!e) return;
    this.pods.delete(key);
    add(this.requested, e.req, -1);
    add(this.nonZeroRequested, e.nonZero, -1);
    if (hasPodAffinity(e.pod)) this.podsWithAffinity--;
  }

  /** A copy whose pods can be changed without touching this one (preemption's what-if). */
  clone(): NodeInfo {
    const c = new NodeInfo(this.node);
    for (const [k, e] of this.pods) { c.pods.set(k, e); }
    c.requested = { ...this.requested };
    c.nonZeroRequested = { ...this.nonZeroRequested };
    c.podsWithAffinity = this.podsWithAffinity;
    return c;
  }
}

function add(t: Resources, r: Resources, sign: number): void {
  t.cpu += sign * r.cpu;
  t.memory += sign * r.memory;
  t.ephemeral += sign * r.ephemeral;
  t.pods += sign * r.pods;
}
