/**
 * A Deployment's ReplicaSets as revisions of its pod template, as Kubernetes' deployment
 * utilities keep them: which ReplicaSet is "new" (its template equals the Deployment's, the
 * pod-template-hash label aside), the ReplicaSet made for a new template
 * (`<deployment>-<pod-template-hash>`), the annotations copied onto it (the Deployment's own,
 * the revision number, the revisions it had before a rollback brought it back, the replica
 * counts it was sized for), and which old ReplicaSets revisionHistoryLimit lets go.
 */
import type { KObject } from '../../client/client.js';
import { canonicalJson, templateHash } from '../pods.js';
import type { OwnerRef } from '../runtime/owners.js';

/** The label tying a ReplicaSet and its pods to one template. */
export const HASH_LABEL = 'pod-template-hash';
/** The revision number of a ReplicaSet, and the Deployment's current one. */
export const REVISION = 'deployment.kubernetes.io/revision';
/** Earlier revision numbers of a ReplicaSet that rollbacks made current again. */
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
/** spec.replicas of the Deployment when the ReplicaSet was last sized. */
export const DESIRED = 'deployment.kubernetes.io/desired-replicas';
/** spec.replicas + maxSurge of the Deployment when the ReplicaSet was last sized. */
export const MAX = 'deployment.kubernetes.io/max-replicas';
/** Why a revision was made; `kubectl rollout history` shows it. */
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';

// Annotations of a Deployment that are not copied onto its ReplicaSets (annotationsToSkip).
const SKIP = new Set(['kubectl.kubernetes.io/last-applied-configuration', REVISION, REVISION_HISTORY, DESIRED, MAX, 'deprecated.deployment.rollback.to']);
// Kubernetes bounds the revision-history annotation to this many characters.
const HISTORY_CHARS = 2000;

/** A ReplicaSet's revision number (0 when unset or not a number). */
export const revisionOf = (rs: KObject): number => Number(rs.metadata.annotations?.[REVISION] ?? 0) || 0;
const created = (o: KObject) => Date.parse(o.metadata.creationTimestamp ?? '') || 0;
/** Oldest first, names breaking ties (ReplicaSetsByCreationTimestamp). */
export const byCreation = (a: KObject, b: KObject): number => (created(a) - created(b)) || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0);

/**
 * A template as compared for equality (EqualIgnoreHash): nulls, empty maps and empty lists
 * dropped (Go clients such as `kubectl rollout undo` send `creationTimestamp: null` and
 * `resources: {}` that mean the same as nothing), and without the pod-template-hash label.
 */
export function comparable(template: any): string {
  const prune = (v: any): any => {
    if (Array.isArray(v)) { const a = v.map(prune).filter((x) => x !== undefined); return a.length ? a : undefined; }
    if (v && typeof v === 'object') {
      const o: any = {};
      for (const [k, x] of Object.entries(v)) { const p = prune(x); if (p !== undefined) o[k] = p; }
      return Object.keys(o).length ? o : undefined;
    }
    return v === null ? undefined : v;
  };
  const t = structuredClone(template ?? {});
  if (t.metadata?.labels) delete t.metadata.labels[HASH_LABEL];
  return canonicalJson(prune(t) ?? {});
}

/** The ReplicaSet whose template is the Deployment's (the oldest such, as FindNewReplicaSet). */
export function findNewReplicaSet(d: KObject, rss: KObject[]): KObject | undefined {
  const want = comparable(d.spec?.template);
  return [...rss].sort(byCreation).find((rs) => comparable(rs.spec?.template) === want);
}

/**
 * The annotations the new ReplicaSet should carry (SetNewReplicaSetAnnotations), or undefined
 * when it already carries them: the Deployment's annotations (but its own bookkeeping ones),
 * `revision` when higher than the one it has (the earlier one appended to revision-history, as
 * after a rollback), and for a ReplicaSet about to be created the replica counts.
 */
export function newReplicaSetAnnotations(d: KObject, rs: KObject, revision: number, exists: boolean, surge: number): Record<string, string> | undefined {
  const ann: Record<string, string> = { ...(rs.metadata.annotations ?? {}) };
  let changed = false;
  for (const [k, v] of Object.entries<string>(d.metadata.annotations ?? {})) {
    if (SKIP.has(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  const had = ann[REVISION];
  const old = had === undefined || had === '' ? 0 : Number(had);
  if (Number.isInteger(old) && old < revision) {
    ann[REVISION] = String(revision);
    changed = true;
    if (had !== undefined && had !== '') {
      const prev = ann[REVISION_HISTORY] ? ann[REVISION_HISTORY].split(',') : [];
      prev.push(had);
      // Drop the oldest entries until the list fits.
      while (prev.join(',').length > HISTORY_CHARS && prev.length > 1) prev.shift();
      ann[REVISION_HISTORY] = prev.join(',');
    }
  }
  if (!exists) {
    const replicas = d.spec?.replicas ?? 1;
    if (ann[DESIRED] !== String(replicas) || ann[MAX] !== String(replicas + surge)) {
      ann[DESIRED] = String(replicas);
      ann[MAX] = String(replicas + surge);
      changed = true;
    }
  }
  return changed ? ann : undefined;
}

/**
 * The ReplicaSet for the Deployment's current template: named `<deployment>-<hash>` (the hash
 * of the template and collisionCount), the hash as a label on it, its template and selector.
 */
export function newReplicaSet(d: KObject, owner: OwnerRef, replicas: number, revision: number, surge: number): KObject {
  const hash = templateHash(d.spec.template, d.status?.collisionCount ?? 0);
  const template = structuredClone(d.spec.template ?? {});
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash } };
  const rs: KObject = {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace,
      labels: { ...template.metadata.labels }, ownerReferences: [owner],
    },
    spec: {
      replicas, minReadySeconds: d.spec?.minReadySeconds ?? 0, template,
      selector: { ...d.spec.selector, matchLabels: { ...(d.spec.selector?.matchLabels ?? {}), [HASH_LABEL]: hash } },
    },
  };
  rs.metadata.annotations = newReplicaSetAnnotations(d, rs, revision, false, surge);
  return rs;
}

/**
 * The old ReplicaSets revisionHistoryLimit lets go (cleanupDeployment): of those not being
 * deleted, as many as exceed the limit, lowest revision first, skipping any that still has
 * pods, replicas, or a spec change its controller has not seen yet.
 */
export function historyToDelete(olds: KObject[], limit: number): KObject[] {
  const alive = olds.filter((rs) => !rs.metadata.deletionTimestamp);
  const diff = alive.length - limit;
  if (diff <= 0) return [];
  const sorted = [...alive].sort((a, b) => (revisionOf(a) - revisionOf(b)) || byCreation(a, b));
  return sorted.slice(0, diff).filter((rs) => (rs.status?.replicas ?? 0) === 0 && (rs.spec?.replicas ?? 0) === 0
    && (rs.metadata.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}
