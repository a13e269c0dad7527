/**
 * Which images the containers under a data root use, read from their records, so the image
 * store can refuse to remove (or collect) what a container still needs. Kept apart from the
 * engine so that image commands need not load it.
 */
import { ContainerPaths, listIds, readRecord } from './state.js';

/** The image IDs referenced by the container records under a data root. */
export async function imagesInUse(root: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const id of await listIds(root)) {
    // A container being created or removed may have no complete record: it uses nothing yet.
    const rec = await readRecord(new ContainerPaths(root, id));
    if (rec?.imageId) ids.add(rec.imageId);
  }
  return ids;
}
