/**
 * Composition of the engine's parts for CLI commands: the image store wired to the containers
 * that use its images, and the container engine wired to the pod sandboxes (network) that
 * containers own or join.
 */
import { ImageStore } from '../engine/image/store.js';
import { imagesInUse } from '../engine/container/usage.js';
import type { ContainerEngine } from '../engine/container/engine.js';
import { openSandboxes, SANDBOX_LABEL, SANDBOX_OWNED_LABEL } from './sandboxes.js';

/** The image store of a data root, wired to the containers that use its images. */
export function openImageStore(root: string): ImageStore {
  return new ImageStore(root, { imagesInUse: () => imagesInUse(root) });
}

/** The container engine of a data root; removing a container releases the sandbox it owned. */
export async function openContainerEngine(root: string, opts: { exitCommand?: string[] } = {}): Promise<ContainerEngine> {
  const { ContainerEngine } = await import('../engine/container/engine.js');
  return new ContainerEngine(root, {
    images: openImageStore(root),
    exitCommand: opts.exitCommand,
    onRemoved: async (rec) => {
      const id = rec.options.labels?.[SANDBOX_LABEL];
      if (id && rec.options.labels?.[SANDBOX_OWNED_LABEL] === 'true') {
        await (await openSandboxes(root)).remove(id, { force: true }).catch(() => {});
      }
    },
  });
}
