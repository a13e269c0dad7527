/**
 * Which containers are in a pod sandbox, read from container records (their sandbox label),
 * so `skiff pod rm` and `pod stop` refuse while containers remain.
 */
import { ContainerPaths, listIds, readRecord } from '../engine/container/state.js';
import { SANDBOX_LABEL, SANDBOX_OWNED_LABEL } from './sandboxes.js';

/** Names of the containers whose records say they joined sandbox `id`. */
export async function listContainersOfSandbox(root: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const cid of await listIds(root)) {
    const rec = await readRecord(new ContainerPaths(root, cid)); // absent while being created or removed
    const labels = rec?.options.labels ?? {};
    if (rec && labels[SANDBOX_LABEL] === id && labels[SANDBOX_OWNED_LABEL] !== 'true') out.push(rec.name);
  }
  return out;
}
