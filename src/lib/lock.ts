/**
 * Inter-process locks on paths under the data root, so concurrent `skiff` commands are safe.
 * Backed by proper-lockfile (an mkdir lock refreshed while held and reclaimed when stale), so a
 * `skiff` process killed while holding a lock does not wedge the next one.
 */
import fs from 'node:fs/promises';
import lockfile from 'proper-lockfile';

/** How long a holder may go silent before its lock is considered abandoned. */
const STALE_MS = 10_000;

/** Per path, the tail of this process' queue of holders and waiters. */
const queues = new Map<string, Promise<void>>();

/**
 * Runs `fn` while holding the lock for `file` (the file need not exist; its lock is
 * `file + '.lock'`). Waits for other holders with backoff, up to about a minute. Not
 * re-entrant. Waiters of one process queue in memory first and only the head polls the file
 * lock: 30 pods starting at once in the node agent otherwise all polled with backoff (up to
 * 100 ms between tries) and the lock sat free between holders.
 */
export async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  let done!: () => void;
  const tail = prev.then(() => new Promise<void>((r) => { done = r; }));
  queues.set(file, tail);
  await prev;
  try {
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
  } finally {
    // `done` is set once `prev` settled, which it has by now.
    done();
    if (queues.get(file) === tail) queues.delete(file);
  }
}

function parentDir(file: string): string {
  const i = file.lastIndexOf('/');
  return i <= 0 ? '/' : file.slice(0, i);
}
