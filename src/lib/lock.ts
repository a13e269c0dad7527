/**
 * Inter-process locks on paths under the data root, so concurrent `skiff` commands are safe.
 *
 * The protocol is proper-lockfile's (the lock of `file` is the directory `file.lock`: mkdir is
 * atomic; its holder refreshes its mtime while it holds it; a lock not refreshed for STALE_MS
 * was left by a killed process and is taken over), so a `skiff` killed while holding a lock
 * does not wedge the next one. It is written out here because proper-lockfile, with the
 * graceful-fs, retry and signal-exit it loads, took ~10 ms of every short `skiff` command's
 * start (a sixth of a `skiff ps`). As with proper-lockfile, locks still held when the process
 * exits, or is ended by SIGINT, SIGTERM or SIGHUP, are removed on the way out.
 */
import fs from 'node:fs/promises';
import { rmdirSync, statSync } from 'node:fs';

/** How long a holder may go silent before its lock is considered abandoned. */
const STALE_MS = 10_000;
/** How often a holder refreshes its lock's mtime. */
const REFRESH_MS = STALE_MS / 2;
/** Waits between attempts: 5 ms growing by 1.2x up to 100 ms, about a minute in all. */
const RETRIES = 600;

/** The locks this process holds, by lock directory, with the mtime it last gave each. */
const held = new Map<string, number>();

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
    const dir = `${file}.lock`;
    await fs.mkdir(parentDir(file), { recursive: true });
    await acquire(dir);
    guardExit();
    held.set(dir, (await fs.stat(dir)).mtimeMs);
    const refresh = setInterval(() => void touch(dir), REFRESH_MS);
    refresh.unref(); // a held lock must not keep the process alive; exit removes it
    try {
      return await fn();
    } finally {
      clearInterval(refresh);
      await release(dir);
    }
  } finally {
    // `done` is set once `prev` settled, which it has by now.
    done();
    if (queues.get(file) === tail) queues.delete(file);
  }
}

async function acquire(dir: string): Promise<void> {
  let delay = 5;
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.mkdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = await fs.stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined; // released meanwhile: try again at once
      throw err;
    });
    if (!st) continue;
    if (st.mtimeMs < Date.now() - STALE_MS) {
      // Its holder died without removing it.
      await fs.rmdir(dir).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
      continue;
    }
    if (attempt >= RETRIES) throw Object.assign(new Error(`lock ${dir} is already being held`), { code: 'ELOCKED' });
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(100, delay * 1.2);
  }
}

/** Refreshes a held lock's mtime, unless another process took it over (we stalled too long). */
async function touch(dir: string): Promise<void> {
  const mine = held.get(dir);
  if (mine === undefined) return;
  try {
    if ((await fs.stat(dir)).mtimeMs !== mine) return void held.delete(dir);
    const now = new Date();
    await fs.utimes(dir, now, now);
    if (held.has(dir)) held.set(dir, (await fs.stat(dir)).mtimeMs);
  } catch {
    held.delete(dir); // gone: not ours any more
  }
}

/** Removes a lock this process holds; one another process took over is left to it. */
async function release(dir: string): Promise<void> {
  const mine = held.get(dir);
  held.delete(dir);
  if (mine === undefined) return;
  const st = await fs.stat(dir).catch(() => undefined);
  if (st?.mtimeMs === mine) await fs.rmdir(dir).catch(() => {});
}

/**
 * Removes held locks at exit, and on the signals that would end the process without an exit
 * event. Installed when this module loads, as signal-exit did for proper-lockfile: its signal
 * listeners come before those a command adds later (`skiff up` stops gracefully on SIGTERM and
 * removes its listener while the signal is being delivered), so "no other listener" reliably
 * means the signal's default action, ending the process, is due.
 */
function guardExit(): void {
  // Installed with the first lock, not at import: importing this module changes no signal's
  // handling (and leaves no handle in a startup snapshot).
  if (guarded) return;
  guarded = true;
  const releaseAll = () => {
    for (const [dir, mine] of held) {
      try {
        if (statSync(dir).mtimeMs === mine) rmdirSync(dir);
      } catch {
        // already gone
      }
    }
    held.clear();
  };
  process.on('exit', releaseAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      // Only when nothing else handles the signal: release, then end the process by the same
      // signal, as its default action would have.
      if (process.listenerCount(sig) > 1) return;
      releaseAll();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

let guarded = false;

function parentDir(file: string): string {
  const i = file.lastIndexOf('/');
  return i <= 0 ? '/' : file.slice(0, i);
}
