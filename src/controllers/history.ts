/**
 * ControllerRevisions (apps/v1), the history StatefulSets and DaemonSets keep of their pod
 * templates: one revision per distinct template, named `<owner>-<hash>`, numbered, owned by the
 * controller; `kubectl rollout history|undo` read and apply their `data`
 * (`{"spec":{"template":{..., "$patch":"replace"}}}`, a strategic merge patch of the owner).
 */
import type { ApiClient, KObject } from '../client/client.js';
import { R } from '../client/resources.js';
import { ownerRefTo } from './runtime/owners.js';
import { canonicalJson, templateHash } from './pods.js';

/** The label carrying a pod's (and a revision's) template hash. */
export const REVISION_HASH = 'controller-revision-hash';

/** The revision data of an owner's current template. */
export function revisionData(owner: KObject): any {
  return { spec: { template: { ...structuredClone(owner.spec.template), $patch: 'replace' } } };
}

/** The pod template a revision records. */
export function templateOf(rev: KObject): any {
  const t = structuredClone(rev.data?.spec?.template ?? {});
  delete t.$patch;
  return t;
}

/** Ensures a revision for the owner's current template exists and is the newest; returns it and the history. */
export async function syncRevision(client: ApiClient, owner: KObject, kind: string, history: KObject[]): Promise<{ update: KObject; history: KObject[] }> {
  const data = revisionData(owner);
  const want = canonicalJson(data);
  const max = Math.max(0, ...history.map((r) => r.revision ?? 0));
  const equal = history.filter((r) => canonicalJson(r.data) === want).sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  if (equal.length) {
    const last = equal[equal.length - 1];
    if ((last.revision ?? 0) === max) return { update: last, history };
    // A rollback to an older template makes that revision the newest again.
    const bumped = await client.update(R.controllerrevisions, owner.metadata.namespace, { ...last, revision: max + 1 });
    return { update: bumped, history: history.map((r) => (r === last ? bumped : r)) };
  }
  const collisions = owner.status?.collisionCount ?? 0;
  const hash = templateHash(data, collisions);
  const labels = { ...(owner.spec.template?.metadata?.labels ?? {}), [REVISION_HASH]: hash };
  const rev = {
    apiVersion: 'apps/v1', kind: 'ControllerRevision',
    metadata: {
      name: `${owner.metadata.name}-${hash}`, namespace: owner.metadata.namespace, labels,
      ...(owner.metadata.annotations?.['kubernetes.io/change-cause'] ? { annotations: { 'kubernetes.io/change-cause': owner.metadata.annotations['kubernetes.io/change-cause'] } } : {}),
      ownerReferences: [ownerRefTo(owner, 'apps/v1', kind)],
    },
    data, revision: max + 1,
  };
  const created = await client.create(R.controllerrevisions, owner.metadata.namespace, rev);
  return { update: created, history: [...history, created] };
}

/** Deletes revisions beyond `limit` that no live pod and neither current nor update uses, oldest first. */
export async function truncateHistory(client: ApiClient, history: KObject[], inUse: Set<string>, limit: number): Promise<void> {
  const unused = history.filter((r) => !inUse.has(r.metadata.name!)).sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  for (const r of unused.slice(0, Math.max(0, unused.length - limit))) {
    await client.delete(R.controllerrevisions, r.metadata.namespace, r.metadata.name!).catch(() => {});
  }
}

/** The hash label value of a revision (its name's suffix). */
export function hashOf(rev: KObject): string {
  return rev.metadata.labels?.[REVISION_HASH] ?? rev.metadata.name!.slice(rev.metadata.name!.lastIndexOf('-') + 1);
}
