/**
 * Crash-safe file writes: write a temporary file beside the target, fsync it, rename it over
 * the target, and fsync the directory, so a crash leaves either the old file or the new one,
 * never a half-written one.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** A temporary name in the same directory as `target` (same filesystem, so rename is atomic). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
}

/** fsyncs a directory so that a rename inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** How a write must survive a crash. */
export interface AtomicOptions {
  /**
   * Also fsync the directory, so the rename itself survives a power loss (default true).
   * Without it a crash still leaves the old file or the new one whole (the data is synced
   * before the rename); only which of the two is not promised.
   */
  durable?: boolean;
}

/** Writes `data` to `target` atomically and durably, with the given mode (default 0644). */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: AtomicOptions = {},
): Promise<void> {
  const tmp = tempPathFor(target);
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed the mode given to open
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  if (opts.durable !== false) await fsyncDir(path.dirname(target));
}

/** Writes `value` as pretty JSON to `target` atomically. */
export async function writeJsonAtomic(target: string, value: unknown, mode = 0o644, opts: AtomicOptions = {}): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n', mode, opts);
}

/** Reads and parses a JSON file; returns undefined when it does not exist. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
