/**
 * PersistentVolumeClaim retention, as the StatefulSetAutoDeletePVC feature (on by default
 * since Kubernetes 1.27): the policy is expressed as owner references on each claim and the
 * garbage collector does the deleting.
 *
 *   whenScaled Retain, whenDeleted Retain   no reference (claims outlive everything)
 *   whenScaled Retain, whenDeleted Delete   a controller reference to the set
 *   whenScaled Delete, whenDeleted Retain   a reference to the pod once it is scaled away
 *   whenScaled Delete, whenDeleted Delete   the set while in range, the pod once scaled away
 *
 * So a scale down with whenScaled=Delete points the claim at its condemned pod before deleting
 * the pod, and the claim goes with it.
 */
import type { KObject } from '../../client/client.js';
import type { OwnerRef } from '../runtime/owners.js';
import { inRange, ordinalOf } from './identity.js';

/** The retention policy with its defaults. */
export function retentionPolicy(set: KObject): { whenDeleted: string; whenScaled: string } {
  const p = set.spec?.persistentVolumeClaimRetentionPolicy ?? {};
  return { whenDeleted: p.whenDeleted ?? 'Retain', whenScaled: p.whenScaled ?? 'Retain' };
}

const ref = (o: KObject, apiVersion: string, kind: string): OwnerRef =>
  ({ apiVersion, kind, name: o.metadata.name!, uid: o.metadata.uid, controller: true, blockOwnerDeletion: true });

/**
 * The owner references a claim should have for this set and pod (updateClaimOwnerRefForSetAndPod):
 * references to anything else are kept; references to the set or the pod follow the policy.
 * A claim controlled by something else is left without ours.
 */
export function desiredClaimOwners(claim: KObject, set: KObject, pod: KObject): OwnerRef[] {
  const refs: OwnerRef[] = claim.metadata.ownerReferences ?? [];
  const ours = (r: OwnerRef) => (r.kind === 'StatefulSet' && r.name === set.metadata.name) || (r.kind === 'Pod' && r.name === pod.metadata.name);
  const kept = refs.filter((r) => !ours(r));
  if (kept.some((r) => r.controller)) return kept;
  const { whenDeleted, whenScaled } = retentionPolicy(set);
  const scaledDown = !inRange(set, ordinalOf(set.metadata.name!, pod.metadata.name!));
  const out = [...kept];
  if (whenScaled === 'Delete' && scaledDown && pod.metadata.uid) out.push(ref(pod, 'v1', 'Pod'));
  if (whenDeleted === 'Delete' && !(whenScaled === 'Delete' && scaledDown)) out.push(ref(set, 'apps/v1', 'StatefulSet'));
  return out;
}

/** True when the claim's references to the set and pod already follow the policy. */
export function claimOwnersUpToDate(claim: KObject, set: KObject, pod: KObject): boolean {
  const key = (rs: OwnerRef[]) => rs.map((r) => `${r.kind}/${r.name}/${r.uid}/${!!r.controller}`).sort().join(',');
  return key(claim.metadata.ownerReferences ?? []) === key(desiredClaimOwners(claim, set, pod));
}

/**
 * True when a claim must not be used for a new pod yet (PodClaimIsStale): it is being deleted,
 * or it still points at an earlier pod of that name, which the garbage collector will take
 * it with.
 */
export function claimIsStale(claim: KObject | undefined, podName: string): boolean {
  if (!claim) return false;
  if (claim.metadata.deletionTimestamp) return true;
  return (claim.metadata.ownerReferences ?? []).some((r: OwnerRef) => r.kind === 'Pod' && r.name === podName);
}
