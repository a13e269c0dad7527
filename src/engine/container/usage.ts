/**
 * Which images the containers under a data root use, read from their records, so the image
 * store can refuse to remove (or collect) what a container still needs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isENOENT } from '../../core/errors.js';

/** The image IDs referenced by container records under `<root>/containers/<id>/container.json`. */
export async function imagesInUse(root: string): Promise<Set<string>> {
  const dir = path.join(root, 'containers');
  const ids = new Set<string>();
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (isENOENT(err)) return ids;
    throw err;
  }
  for (const n of names) {
    try {
      const rec = JSON.parse(await fs.readFile(path.join(dir, n, 'container.json'), 'utf8')) as { imageId?: string };
      if (rec.imageId) ids.add(rec.imageId);
    } catch {
      // A container being created or removed has no complete record: not using anything yet.
    }
  }
  return ids;
}
