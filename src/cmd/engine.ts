/**
 * Composition of the engine's stores for CLI commands: one place that knows how the image
 * store learns which images containers use.
 */
import { ImageStore } from '../engine/image/store.js';
import { imagesInUse } from '../engine/container/usage.js';

/** The image store of a data root, wired to the containers that use its images. */
export function openImageStore(root: string): ImageStore {
  return new ImageStore(root, { imagesInUse: () => imagesInUse(root) });
}
