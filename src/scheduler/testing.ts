/**
 * Fixtures for the scheduler's unit tests: Node and Pod objects in a line, and a Snapshot of
 * NodeInfos with pods placed on them. Test support only; the scheduler never imports it.
 */
import type { KObject } from '../client/client.js';
import { NodeInfo } from './nodeinfo.js';
import type { Plugin, Snapshot, Status } from './framework.js';

/** The shape of a test node. */
export interface NodeShape { labels?: Record<string, string>; taints?: any[]; cpu?: string; memory?: string; pods?: string; storage?: string; unschedulable?: boolean; images?: { names: string[]; sizeBytes: number }[] }

/** A Node with allocatable resources (4 CPU, 8 GiB, 110 pods by default) and a hostname label. */
export function mkNode(name: string, o: NodeShape = {}): KObject {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110', ...(o.storage ? { 'ephemeral-storage': o.storage } : {}) },
      images: o.images ?? [],
    },
  };
}

/** A pod in `ns` with one container (requests `req`, image `image`) and the given spec fields. */
export function mkPod(name: string, spec: any = {}, labels: Record<string, string> = {}, o: { req?: Record<string, string>; ns?: string; image?: string; priority?: number } = {}): KObject {
  return {
    metadata: { name, namespace: o.ns ?? 'default', labels, uid: `uid-${name}` },
    spec: {
      containers: [{ name: 'c', image: o.image ?? 'x', ...(o.req ? { resources: { requests: o.req } } : {}) }],
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...spec,
    },
  };
}

/** A snapshot of `nodes` with `placed` pods ([node name, pod]) added. */
export function mkSnapshot(nodes: KObject[], placed: [string, KObject][] = []): Snapshot {
  const infos = new Map(nodes.map((n) => [n.metadata.name!, new NodeInfo(n)]));
  placed.forEach(([n, p]) => infos.get(n)!.addPod(`${p.metadata.namespace}/${p.metadata.name}`, { ...p, spec: { ...p.spec, nodeName: n } }));
  const list = [...infos.values()];
  return { nodes: list, get: (n) => infos.get(n), havePodsWithAffinity: list.filter((x) => x.podsWithAffinity > 0) };
}

/** Each node's filter status from one plugin (after its preFilter, when it has one). */
export function filterAll(plugin: Plugin, pod: KObject, snap: Snapshot): Map<string, Status> {
  const state = new Map();
  const pre = plugin.preFilter?.(state, pod, snap);
  const out = new Map<string, Status>();
  for (const n of snap.nodes) out.set(n.name, pre && pre.code !== 'Success' ? pre : plugin.filter?.(state, pod, n, snap) ?? { code: 'Success', reasons: [] });
  return out;
}

/** The names of the nodes a plugin lets the pod onto. */
export function feasibleNodes(plugin: Plugin, pod: KObject, snap: Snapshot): string[] {
  return [...filterAll(plugin, pod, snap)].filter(([, s]) => s.code === 'Success').map(([n]) => n);
}

/** A plugin's normalized scores (preScore, score, normalize) over every node of the snapshot. */
export function scoreAll(plugin: Plugin, pod: KObject, snap: Snapshot): Record<string, number> {
  const state = new Map();
  plugin.preScore?.(state, pod, snap.nodes, snap);
  const scores = new Map<string, number>();
  for (const n of snap.nodes) scores.set(n.name, plugin.score!(state, pod, n, snap));
  plugin.normalize?.(state, pod, scores);
  return Object.fromEntries(scores);
}
