/**
 * The identity of a StatefulSet's pods, as Kubernetes' stateful_set_utils: a pod's name is
 * `<set>-<ordinal>` (ordinals from spec.ordinals.start), its claims `<template>-<set>-<ordinal>`,
 * its hostname its name and its subdomain the governing service; it carries the labels
 * statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index and
 * controller-revision-hash (the revision's name). Pure functions over objects.
 */
import type { KObject } from '../../client/client.js';
import { isPodAvailable, isPodReady, podFromTemplate } from '../pods.js';
import { ownerRefTo } from '../runtime/owners.js';
import { REVISION_HASH } from '../history.js';

/** The label naming a StatefulSet pod (for per-pod Services). */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
/** The label carrying a StatefulSet pod's ordinal. */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

/** The ordinal of a pod named `<sts>-<n>`, or -1 when the name is not of that set. */
export function ordinalOf(sts: string, pod: string): number {
  const i = pod.lastIndexOf('-');
  if (i < 0 || pod.slice(0, i) !== sts) return -1;
  const digits = pod.slice(i + 1);
  return /^[0-9]+$/.test(digits) && Number(digits) <= 0x7fffffff ? Number(digits) : -1;
}

/** spec.ordinals.start (0 when unset). */
export const startOrdinal = (set: KObject): number => set.spec?.ordinals?.start ?? 0;
/** spec.replicas (1 when unset). */
export const replicasOf = (set: KObject): number => set.spec?.replicas ?? 1;
/** The ordinals a set should have: [start, start + replicas). */
export function ordinalRange(set: KObject): number[] {
  return Array.from({ length: replicasOf(set) }, (_, i) => startOrdinal(set) + i);
}
/** True when an ordinal is inside the set's range (podInOrdinalRange). */
export function inRange(set: KObject, ord: number): boolean {
  return ord >= startOrdinal(set) && ord < startOrdinal(set) + replicasOf(set);
}

/** The name of the set's pod with this ordinal. */
export const podName = (set: KObject, ord: number): string => `${set.metadata.name}-${ord}`;
/** The name of the claim of a volumeClaimTemplate for an ordinal. */
export const claimName = (set: KObject, template: string, ord: number): string => `${template}-${set.metadata.name}-${ord}`;

/** The pod's revision (its controller-revision-hash label). */
export const podRevision = (p: KObject): string | undefined => p.metadata.labels?.[REVISION_HASH];

// Pod states as the StatefulSet controller reads them.
/** Has the API server created it (it has a phase)? */
export const isCreated = (p: KObject): boolean => !!p.status?.phase;
/** Is it being deleted? */
export const isTerminating = (p: KObject): boolean => !!p.metadata.deletionTimestamp;
/** Running with its Ready condition True. */
export const isRunningAndReady = (p: KObject): boolean => p.status?.phase === 'Running' && isPodReady(p);
/** Running and ready for minReadySeconds. */
export const isRunningAndAvailable = (p: KObject, minReadySeconds: number, now: number): boolean =>
  p.status?.phase === 'Running' && isPodAvailable(p, minReadySeconds, now);
/** Running, ready and not being deleted. */
export const isHealthy = (p: KObject): boolean => isRunningAndReady(p) && !isTerminating(p);
/** Finished (Failed or Succeeded): a StatefulSet pod is recreated under the same name. */
export const isFinished = (p: KObject): boolean => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';

/** The claims of the pod with this ordinal, from the set's volumeClaimTemplates (getPersistentVolumeClaims). */
export function claimsFor(set: KObject, ord: number): KObject[] {
  return (set.spec?.volumeClaimTemplates ?? []).map((t: any) => ({
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: {
      ...structuredClone(t.metadata ?? {}),
      name: claimName(set, t.metadata.name, ord), namespace: set.metadata.namespace,
      // The selector's labels are added so the claims can be found by the set's selector.
      labels: { ...(t.metadata?.labels ?? {}), ...(set.spec?.selector?.matchLabels ?? {}) },
    },
    spec: structuredClone(t.spec ?? {}),
  }));
}

/**
 * A new pod of the set at `ord` from `template` (a revision's), labelled with `revision`
 * (newStatefulSetPod + setPodRevision): identity, then storage (claim volumes replace any
 * template volume of the same name).
 */
export function newPod(set: KObject, template: any, ord: number, revision: string): KObject {
  const name = podName(set, ord);
  const pod = podFromTemplate(template, set.metadata.namespace!, ownerRefTo(set, 'apps/v1', 'StatefulSet'), { name }, {
    [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ord), [REVISION_HASH]: revision,
  });
  pod.spec.hostname = name;
  if (set.spec?.serviceName) pod.spec.subdomain = set.spec.serviceName;
  const claims = (set.spec?.volumeClaimTemplates ?? []).map((t: any) => ({ name: t.metadata.name, persistentVolumeClaim: { claimName: claimName(set, t.metadata.name, ord) } }));
  const volumes = [...claims, ...(pod.spec.volumes ?? []).filter((v: any) => !claims.some((c: any) => c.name === v.name))];
  if (volumes.length) pod.spec.volumes = volumes;
  return pod;
}

/** Does the pod carry the identity labels of its ordinal (identityMatches, labels part)? */
export function identityMatches(set: KObject, p: KObject): boolean {
  const ord = ordinalOf(set.metadata.name!, p.metadata.name!);
  return ord >= 0 && p.metadata.namespace === set.metadata.namespace && p.metadata.labels?.[POD_NAME_LABEL] === p.metadata.name
    && p.metadata.labels?.[POD_INDEX_LABEL] === String(ord);
}

/** Does the pod mount every claim of its ordinal (storageMatches)? */
export function storageMatches(set: KObject, p: KObject): boolean {
  const ord = ordinalOf(set.metadata.name!, p.metadata.name!);
  if (ord < 0) return false;
  return (set.spec?.volumeClaimTemplates ?? []).every((t: any) => (p.spec?.volumes ?? [])
    .some((v: any) => v.name === t.metadata.name && v.persistentVolumeClaim?.claimName === claimName(set, t.metadata.name, ord)));
}
