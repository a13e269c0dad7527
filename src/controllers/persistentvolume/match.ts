/**
 * Matching PersistentVolumes to claims, as Kubernetes' findMatchingVolume (shared by the
 * binder and the scheduler's volume binding): a volume pre-bound to the claim (claimRef)
 * comes first; otherwise the smallest available volume of the claim's class whose access
 * modes, volume mode, capacity, labels (the claim's selector) and — when a node is given —
 * node affinity fit. With delayed binding (WaitForFirstConsumer) and no node, only pre-bound
 * volumes qualify: the scheduler chooses the others.
 */
import type { KObject } from '../../client/client.js';
import { parseQuantity } from '../../core/quantity.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { termMatches } from '../../scheduler/plugins/nodeaffinity.js';

/** Annotations of the binding protocol, as Kubernetes names them. */
export const ANN = {
  bindCompleted: 'pv.kubernetes.io/bind-completed',
  boundByController: 'pv.kubernetes.io/bound-by-controller',
  provisionedBy: 'pv.kubernetes.io/provisioned-by',
  storageProvisioner: 'volume.kubernetes.io/storage-provisioner',
  betaStorageProvisioner: 'volume.beta.kubernetes.io/storage-provisioner',
  selectedNode: 'volume.kubernetes.io/selected-node',
  betaClass: 'volume.beta.kubernetes.io/storage-class',
} as const;

/** The class a claim asks for ("" for none). */
export function claimClass(pvc: KObject): string {
  return pvc.spec?.storageClassName ?? pvc.metadata.annotations?.[ANN.betaClass] ?? '';
}

/** The class of a volume ("" for none). */
export function volumeClass(pv: KObject): string {
  return pv.spec?.storageClassName ?? pv.metadata.annotations?.[ANN.betaClass] ?? '';
}

/** Whether `pv`'s claimRef names this claim (and, when it carries a uid, this very claim). */
export function isBoundTo(pv: KObject, pvc: KObject): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref || ref.name !== pvc.metadata.name || ref.namespace !== pvc.metadata.namespace) return false;
  return !ref.uid || ref.uid === pvc.metadata.uid;
}

/** Whether a volume's required node affinity admits `node` (no affinity admits every node). */
export function volumeFitsNode(pv: KObject, node: KObject | undefined): boolean {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms) return true;
  return !!node && terms.some((t: any) => termMatches(t, node));
}

/** Whether `pv` can satisfy `pvc` (class, modes, size, selector, node), ignoring who holds it. */
export function volumeSatisfies(pv: KObject, pvc: KObject, node?: KObject): boolean {
  if (volumeClass(pv) !== claimClass(pvc)) return false;
  if ((pv.spec?.volumeMode ?? 'Filesystem') !== (pvc.spec?.volumeMode ?? 'Filesystem')) return false;
  const modes: string[] = pv.spec?.accessModes ?? [];
  if (!(pvc.spec?.accessModes ?? []).every((m: string) => modes.includes(m))) return false;
  const want = parseQuantity(pvc.spec?.resources?.requests?.storage ?? '0');
  if (parseQuantity(pv.spec?.capacity?.storage ?? '0') < want) return false;
  if (pvc.spec?.selector && !selectorObjectMatcher(pvc.spec.selector)(pv.metadata.labels ?? {})) return false;
  if (node && !volumeFitsNode(pv, node)) return false;
  return true;
}

/**
 * The volume to bind `pvc` to: pre-bound ones first, else the smallest fitting available one.
 * `delayBinding` without a node (the binder, for a WaitForFirstConsumer class) considers
 * pre-bound volumes only.
 */
export function findBestMatch(pvc: KObject, volumes: KObject[], o: { delayBinding?: boolean; node?: KObject } = {}): KObject | undefined {
  let best: KObject | undefined;
  for (const pv of volumes) {
    if (pv.metadata.deletionTimestamp) continue;
    const ref = pv.spec?.claimRef;
    if (ref) {
      if (isBoundTo(pv, pvc) && volumeSatisfies(pv, pvc, o.node)) return pv;
      continue;
    }
    if (o.delayBinding && !o.node) continue;
    if (pv.status?.phase && pv.status.phase !== 'Available' && pv.status.phase !== 'Pending') continue;
    if (!volumeSatisfies(pv, pvc, o.node)) continue;
    if (!best || parseQuantity(pv.spec?.capacity?.storage ?? '0') < parseQuantity(best.spec?.capacity?.storage ?? '0')) best = pv;
  }
  return best;
}
