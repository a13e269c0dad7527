/**
 * The data root: where Skiff keeps images, containers, state and certificates.
 * Precedence: an explicit `--root` flag, then `SKIFF_ROOT`, then /var/lib/skiff, so tests
 * can run side by side in temporary roots.
 */
import path from 'node:path';

/** The data root used when neither the flag nor the environment names one. */
export const DEFAULT_ROOT = '/var/lib/skiff';

/** Resolves the data root from a flag value and the environment, as an absolute path. */
export function resolveRoot(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag || env.SKIFF_ROOT || DEFAULT_ROOT;
  return path.resolve(chosen);
}
