/**
 * Claiming, as Kubernetes' ControllerRefManager: a controller owns the objects whose controller
 * reference names it and that its selector still matches; it adopts matching orphans and
 * releases owned objects that stopped matching, by patching their ownerReferences (strategic
 * merge keyed by uid, with the owner's uid as a precondition against races).
 */
import type { ApiClient, KObject, ResourceRef } from '../../client/client.js';
import { controllerRef, ownerRefTo } from './owners.js';

/** The result of claiming: the objects the owner controls after adoption and release. */
export async function claim(client: ApiClient, r: ResourceRef, owner: KObject, ownerApiVersion: string, ownerKind: string,
  candidates: KObject[], matches: (o: KObject) => boolean): Promise<KObject[]> {
  const uid = owner.metadata.uid;
  const mine: KObject[] = [];
  for (const o of candidates) {
    const ref = controllerRef(o);
    if (ref && ref.uid !== uid) continue;
    if (ref) {
      if (matches(o) || owner.metadata.deletionTimestamp) { mine.push(o); continue; }
      // Release: the selector no longer matches.
      await client.patch(r, o.metadata.namespace, o.metadata.name!, { metadata: { uid: o.metadata.uid, ownerReferences: [{ $patch: 'delete', uid }] } }, 'strategic').catch(() => {});
      continue;
    }
    if (!matches(o) || owner.metadata.deletionTimestamp || o.metadata.deletionTimestamp) continue;
    try {
      const adopted = await client.patch(r, o.metadata.namespace, o.metadata.name!, { metadata: { uid: o.metadata.uid, ownerReferences: [ownerRefTo(owner, ownerApiVersion, ownerKind)] } }, 'strategic');
      mine.push(adopted);
    } catch { /* gone or changed: the next sync decides */ }
  }
  return mine;
}
