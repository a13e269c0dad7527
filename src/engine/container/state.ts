/**
 * Container records: `<root>/containers/<id>/container.json`, written atomically. A record is
 * made (status `creating`, with the creating process's pid) before anything else exists, so a
 * crash at any later step leaves a record that `recover()` can find and undo.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../../lib/atomic.js';
import { isENOENT } from '../../core/errors.js';
import type { ContainerOptions } from './spec.js';

/** Where a container is in its life. */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'exited';

/** What Skiff keeps about a container. */
export interface ContainerRecord {
  id: string;
  name: string;
  /** The image as the user named it, and its ID (config digest). */
  image: string;
  imageId: string;
  options: ContainerOptions;
  /** The command line actually run. */
  command: string[];
  status: ContainerStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  /** Why the container could not run, when it could not. */
  error?: string;
  /** The container's init process on the host. */
  pid?: number;
  /** The supervising conmon (absent for interactive runs supervised by `skiff` itself). */
  conmonPid?: number;
  /** The `skiff` process running the container in the foreground, which records its exit. */
  ownerPid?: number;
  /** The `skiff` process that is creating the container (only while `creating`). */
  creatorPid?: number;
  runtime: string;
  /** Lower directories (image snapshots), top first, for the overlay mount. */
  lowerDirs: string[];
}

/** Paths of a container's files. */
export class ContainerPaths {
  constructor(readonly root: string, readonly id: string) {}
  get dir(): string { return path.join(this.root, 'containers', this.id); }
  get record(): string { return path.join(this.dir, 'container.json'); }
  get bundle(): string { return path.join(this.dir, 'bundle'); }
  get rootfs(): string { return path.join(this.dir, 'bundle', 'rootfs'); }
  get upper(): string { return path.join(this.dir, 'upper'); }
  get work(): string { return path.join(this.dir, 'work'); }
  get log(): string { return path.join(this.dir, 'ctr.log'); }
  get exitDir(): string { return path.join(this.dir, 'exits'); }
  get exitFile(): string { return path.join(this.dir, 'exits', this.id); }
  get pidFile(): string { return path.join(this.dir, 'pidfile'); }
  get conmonPidFile(): string { return path.join(this.dir, 'conmon.pid'); }
  get etc(): string { return path.join(this.dir, 'etc'); }
}

/** Reads a record; undefined when there is none (or it is being written for the first time). */
export async function readRecord(p: ContainerPaths): Promise<ContainerRecord | undefined> {
  try {
    return await readJsonIfExists<ContainerRecord>(p.record);
  } catch {
    return undefined; // a torn record cannot exist (atomic writes); unreadable means gone
  }
}

/**
 * Writes a record atomically, readable by root only (options may carry secrets in env). Not
 * durably: a record is rewritten at every step of a container's life (five times for a
 * `run --rm`), and after a power loss no container runs, so the older record that a lost
 * rename leaves is as good as the newer one for `recover()`.
 */
export async function writeRecord(p: ContainerPaths, rec: ContainerRecord): Promise<void> {
  await writeJsonAtomic(p.record, rec, 0o600, { durable: false });
}

/** Every container id with a directory under the data root. */
export async function listIds(root: string): Promise<string[]> {
  try {
    return (await fs.readdir(path.join(root, 'containers'))).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch (err) {
    if (isENOENT(err)) return [];
    throw err;
  }
}
