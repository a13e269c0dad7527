/**
 * Inter-process locks on paths under the data root, so concurrent `skiff` commands are safe.
 * Backed by proper-lockfile (an mkdir lock refreshed while held and reclaimed when stale), so a
 * `skiff` process killed while holding a lock does not wedge the next one.
 */
import fs from 'node:fs/promises';
import lockfile from 'proper-lockfile';

/** How long a holder may go silent before its lock is considered abandoned. */
const STALE_MS = 10_000;

/**
 * Runs `fn` while holding the lock for `file` (the file need not exist; its lock is
 * `file + '.lock'`). Waits for other holders with backoff, up to about a minute.
 */
export async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(parentDir(file), { recursive: true });
  const release = await lockfile.lock(file, {
    realpath: false,
    stale: STALE_MS,
    retries: { retries: 600, factor: 1.2, minTimeout: 5, maxTimeout: 100 },
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}

function parentDir(file: string): string {
  const i = file.lastIndexOf('/');
  return i <= 0 ? '/' : file.slice(0, i);
}
