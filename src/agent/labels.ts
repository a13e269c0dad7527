/**
 * How the node agent names and labels what it makes in the engine, so that everything can be
 * found again from the engine alone (after a restart of the agent): containers and sandboxes
 * carry the pod's uid, namespace and name, containers also their container name, kind (init
 * or app) and attempt number — the labels the kubelet puts on CRI containers, where the
 * attempt stands in for its `io.kubernetes.container.restartCount` annotation.
 */
import type { ContainerRecord } from '../engine/container/state.js';

/** Label keys, as the kubelet names them on CRI objects. */
export const L = {
  podUid: 'io.kubernetes.pod.uid',
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  containerName: 'io.kubernetes.container.name',
  restartCount: 'io.kubernetes.container.restartCount',
  /** `init`, `sidecar` or `app`. */
  containerType: 'io.skiff.container.type',
  /** The image as the pod spec names it (the engine records the resolved image ID). */
  specImage: 'io.skiff.container.image',
  /** What status.imageID shows (repository@manifest-digest), kept for restarts of the agent. */
  imageID: 'io.skiff.container.imageID',
  /** The canonical image name (status.image). */
  imageName: 'io.skiff.container.imageName',
  /** The node agent that made the object (one data root may serve one node only). */
  node: 'io.skiff.node',
  /**
   * The sandbox a container joined. Same key as src/cmd/sandboxes.ts SANDBOX_LABEL, so
   * `skiff pod rm` of a pod's sandbox refuses while the agent's containers are in it.
   */
  sandbox: 'io.skiff.sandbox',
} as const;

/** What kind of container of a pod. */
export type ContainerKind = 'init' | 'sidecar' | 'app';

/** A pod's identity as labels carry it. */
export interface PodRef {
  uid: string;
  namespace: string;
  name: string;
}

/** Engine names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*: keep what fits, replace the rest. */
function safe(s: string): string {
  return s.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** The engine name of a container instance: `k8s_<container>_<pod>_<ns>_<uid>_<attempt>`, as dockershim named them. */
export function containerName(pod: PodRef, container: string, attempt: number): string {
  return safe(`k8s_${container}_${pod.name}_${pod.namespace}_${pod.uid}_${attempt}`);
}

/** The engine name of a pod's sandbox (at most 128 characters: the uid keeps it unique). */
export function sandboxName(pod: PodRef): string {
  const tail = `_${pod.uid}`;
  return safe(`k8s_POD_${pod.name}_${pod.namespace}`).slice(0, 128 - tail.length) + safe(tail);
}

/** The labels of a pod's objects. */
export function podLabels(pod: PodRef, node: string): Record<string, string> {
  return { [L.podUid]: pod.uid, [L.podName]: pod.name, [L.podNamespace]: pod.namespace, [L.node]: node };
}

/** The pod uid a container or sandbox belongs to (undefined: not the agent's). */
export function podUidOf(labels: Record<string, string> | undefined): string | undefined {
  return labels?.[L.podUid];
}

/** A container instance of a pod as the agent sees it in the engine. */
export interface PodContainer {
  rec: ContainerRecord;
  name: string;
  kind: ContainerKind;
  attempt: number;
}

/** Reads the agent's labels off an engine record (undefined when not the agent's). */
export function podContainerOf(rec: ContainerRecord): PodContainer | undefined {
  const l = rec.options.labels ?? {};
  if (!l[L.podUid] || !l[L.containerName]) return undefined;
  return { rec, name: l[L.containerName], kind: (l[L.containerType] as ContainerKind) ?? 'app', attempt: Number(l[L.restartCount] ?? 0) };
}
