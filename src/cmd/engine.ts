/**
 * Composition of the engine's parts for CLI commands: the image store wired to the containers
 * that use its images, and the container engine wired to the pod sandboxes (network) that
 * containers own or join.
 */
import { ImageStore } from '../engine/image/store.js';
import { imagesInUse } from '../engine/container/usage.js';
import type { ContainerEngine } from '../engine/container/engine.js';
import type { SandboxManager } from '../engine/network/sandbox.js';

/** The label naming the pod sandbox whose namespaces a container joined. */
export const SANDBOX_LABEL = 'io.skiff.sandbox';
/** The label marking a sandbox made for the container alone (removed with it). */
export const SANDBOX_OWNED_LABEL = 'io.skiff.sandbox.owned';

/** The image store of a data root, wired to the containers that use its images. */
export function openImageStore(root: string): ImageStore {
  return new ImageStore(root, { imagesInUse: () => imagesInUse(root) });
}

/** The sandboxes of a data root; pods refuse removal while containers are in them. */
export async function openSandboxes(root: string): Promise<SandboxManager> {
  const { SandboxManager } = await import('../engine/network/sandbox.js');
  const { listContainersOfSandbox } = await import('./sandbox-users.js');
  return new SandboxManager(root, { containersOf: (id) => listContainersOfSandbox(root, id) });
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
