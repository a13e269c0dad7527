/**
 * ControllerRevisions (apps/v1): the history StatefulSets and DaemonSets keep of their pod
 * templates, as Kubernetes' controller history package. One revision per distinct template,
 * named `<owner>-<hash>`, labelled with the template's labels plus `controller-revision-hash`,
 * annotated with the owner's annotations (so `kubectl rollout history` shows change-cause),
 * numbered, and owned by the controller. Its `data` is a strategic merge patch of the owner,
 * `{"spec":{"template":{..., "$patch":"replace"}}}`, which `kubectl rollout undo` applies.
 */
import type { ApiClient, KObject } from '../client/client.js';
import { ApiStatusError } from '../client/client.js';
import { R } from '../client/resources.js';
import { ownerRefTo } from './runtime/owners.js';
import { canonicalJson, templateHash } from './pods.js';

/** The label carrying a pod's (and a revision's) template hash. */
export const REVISION_HASH = 'controller-revision-hash';

/** Names longer than this prefix are cut so `<prefix>-<hash>` stays a valid name (ControllerRevisionName). */
const MAX_PREFIX = 223;

/**
 * The revision data of an owner's current template. Keys are sorted: kubectl compares the
 * bytes of a revision's data with the patch it computes itself (Go marshals maps sorted) to
 * tell "current template already matches revision N".
 */
export function revisionData(owner: KObject): any {
  return JSON.parse(canonicalJson({ spec: { template: { ...structuredClone(owner.spec?.template ?? {}), $patch: 'replace' } } }));
}

/** The pod template a revision records. */
export function templateOf(rev: KObject): any {
  const t = structuredClone(rev.data?.spec?.template ?? {});
  delete t.$patch;
  return t;
}

/** The name of an owner's revision with this hash. */
export function revisionName(owner: string, hash: string): string {
  return `${owner.slice(0, MAX_PREFIX)}-${hash}`;
}

/** True when two revisions record the same data (EqualRevision). */
export function equalRevision(a: KObject, b: KObject): boolean {
  return canonicalJson(a.data ?? null) === canonicalJson(b.data ?? null);
}

/** Revisions oldest first: by number, then creation time, then name (SortControllerRevisions). */
export function sortRevisions(revs: KObject[]): KObject[] {
  return [...revs].sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0)
    || String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? ''))
    || a.metadata.name!.localeCompare(b.metadata.name!));
}

/** One more than the highest revision number, or 1. */
export function nextRevision(revs: KObject[]): number {
  return Math.max(0, ...revs.map((r) => r.revision ?? 0)) + 1;
}

/** A new (not yet created) revision of the owner's template (NewControllerRevision). */
export function newRevision(owner: KObject, kind: string, revision: number, collisionCount: number): KObject {
  const data = revisionData(owner);
  const hash = templateHash(data, collisionCount);
  const annotations = owner.metadata.annotations ? { ...owner.metadata.annotations } : undefined;
  return {
    apiVersion: 'apps/v1', kind: 'ControllerRevision',
    metadata: {
      name: revisionName(owner.metadata.name!, hash), namespace: owner.metadata.namespace,
      labels: { ...(owner.spec?.template?.metadata?.labels ?? {}), [REVISION_HASH]: hash },
      ...(annotations ? { annotations } : {}),
      ownerReferences: [ownerRefTo(owner, 'apps/v1', kind)],
    },
    data, revision,
  };
}

/**
 * Creates a revision; a name taken by a revision with other data is a hash collision, so the
 * collision count goes up and the name is computed again (CreateControllerRevision). A name
 * taken by an equal revision is that revision (created by an earlier sync).
 */
export async function createRevision(client: ApiClient, owner: KObject, kind: string, revision: number, collisionCount: number): Promise<{ rev: KObject; collisionCount: number }> {
  for (let count = collisionCount; ; count++) {
    const rev = newRevision(owner, kind, revision, count);
    try {
      return { rev: await client.create(R.controllerrevisions, owner.metadata.namespace, rev), collisionCount: count };
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 409)) throw err;
      const existing = await client.get(R.controllerrevisions, owner.metadata.namespace, rev.metadata.name!);
      if (equalRevision(existing, rev)) return { rev: existing, collisionCount: count };
    }
  }
}

/** What syncRevisions found or made. */
export interface Revisions {
  /** The revision of status.currentRevision (the update revision when there is none). */
  current: KObject;
  /** The revision of the owner's template now. */
  update: KObject;
  /** Every revision of the owner, the update one included. */
  history: KObject[];
  /** The collision count to write back into the owner's status. */
  collisionCount: number;
}

/**
 * The current and update revisions of an owner (getStatefulSetRevisions): the newest revision
 * when its data equals the template, else an older equal one renumbered to be the newest (a
 * rollback), else a new revision.
 */
export async function syncRevisions(client: ApiClient, owner: KObject, kind: string, owned: KObject[]): Promise<Revisions> {
  let history = sortRevisions(owned);
  let collisionCount = owner.status?.collisionCount ?? 0;
  const want = newRevision(owner, kind, nextRevision(history), collisionCount);
  const equal = history.filter((r) => equalRevision(r, want));
  const newest = history[history.length - 1];
  let update: KObject;
  if (equal.length && newest && equalRevision(newest, equal[equal.length - 1])) {
    update = newest;
  } else if (equal.length) {
    const old = equal[equal.length - 1];
    update = await client.update(R.controllerrevisions, owner.metadata.namespace, { ...old, revision: want.revision });
    history = history.map((r) => (r.metadata.name === old.metadata.name ? update : r));
  } else {
    ({ rev: update, collisionCount } = await createRevision(client, owner, kind, want.revision, collisionCount));
    history = [...history.filter((r) => r.metadata.name !== update.metadata.name), update];
  }
  const current = history.find((r) => r.metadata.name === owner.status?.currentRevision) ?? update;
  return { current, update, history: sortRevisions(history), collisionCount };
}

/**
 * Deletes the oldest revisions no live pod uses (nor `live` names), keeping at most `limit`
 * of them (truncateHistory / cleanupHistory). Returns the names deleted.
 */
export async function truncateHistory(client: ApiClient, history: KObject[], live: Set<string>, limit: number): Promise<string[]> {
  const dead = sortRevisions(history).filter((r) => !live.has(r.metadata.name!));
  const doomed = dead.slice(0, Math.max(0, dead.length - limit));
  for (const r of doomed) {
    await client.delete(R.controllerrevisions, r.metadata.namespace, r.metadata.name!).catch((err) => { if (err?.code !== 404) throw err; });
  }
  return doomed.map((r) => r.metadata.name!);
}

/** The hash label value of a revision (its name's suffix when unlabelled). */
export function hashOf(rev: KObject): string {
  return rev.metadata.labels?.[REVISION_HASH] ?? rev.metadata.name!.slice(rev.metadata.name!.lastIndexOf('-') + 1);
}
