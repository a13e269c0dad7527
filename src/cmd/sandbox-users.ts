/**
 * Which containers are in a pod sandbox, read from container records (their sandbox label),
 * so `skiff pod rm` and `pod stop` refuse while containers remain.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { listIds } from '../engine/container/state.js';
import { SANDBOX_LABEL, SANDBOX_OWNED_LABEL } from './engine.js';

/** Names of the containers whose records say they joined sandbox `id`. */
export async function listContainersOfSandbox(root: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const cid of await listIds(root)) {
    try {
      const rec = JSON.parse(await fs.readFile(path.join(root, 'containers', cid, 'container.json'), 'utf8')) as { name: string; options?: { labels?: Record<string, string> } };
      const labels = rec.options?.labels ?? {};
      if (labels[SANDBOX_LABEL] === id && labels[SANDBOX_OWNED_LABEL] !== 'true') out.push(rec.name);
    } catch {
      // being created or removed
    }
  }
  return out;
}
