/**
 * Which images the containers under a data root use, read from their records, so the image
 * store can refuse to remove (or collect) what a container still needs. Kept apart from the
 * engine so that image commands need not load it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { listIds } from './state.js';

/** The image IDs referenced by container records under `<root>/containers/<id>/container.json`. */
export async function imagesInUse(root: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const id of await listIds(root)) {
    try {
      const rec = JSON.parse(await fs.readFile(path.join(root, 'containers', id, 'container.json'), 'utf8')) as { imageId?: string };
      if (rec.imageId) ids.add(rec.imageId);
    } catch {
      // A container being created or removed has no complete record: not using anything yet.
    }
  }
  return ids;
}
