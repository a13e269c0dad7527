/**
 * Composition of the pod sandboxes for CLI commands, kept apart from engine.ts so that
 * `skiff pod …` loads the network engine alone: the image store and the container engine
 * cost every short command several milliseconds of module loading.
 */
import type { SandboxManager } from '../engine/network/sandbox.js';

/** The label naming the pod sandbox whose namespaces a container joined. */
export const SANDBOX_LABEL = 'io.skiff.sandbox';
/** The label marking a sandbox made for the container alone (removed with it). */
export const SANDBOX_OWNED_LABEL = 'io.skiff.sandbox.owned';

/**
 * The sandboxes of a data root; pods refuse removal while containers are in them. The
 * container records are read (and their module loaded) only when a pod is stopped or removed.
 */
export async function openSandboxes(root: string): Promise<SandboxManager> {
  const { SandboxManager } = await import('../engine/network/sandbox.js');
  return new SandboxManager(root, {
    containersOf: async (id) => (await import('./sandbox-users.js')).listContainersOfSandbox(root, id),
  });
}
