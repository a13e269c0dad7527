/**
 * Opens the store a server URL names: `sqlite://PATH` (durable, the default, at
 * <root>/server/state.db) or `memory://` (throwaway). The SQLite backend is loaded on demand.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import type { Backend } from '../store/types.js';
import { InvalidArgumentError, UnavailableError } from '../core/errors.js';
import { openMemoryBackend } from './memstore.js';

/** Opens the backend for `url` (default: SQLite under the data root). */
export async function openStore(url: string | undefined, root: string): Promise<Backend> {
  const u = url ?? `sqlite://${path.join(root, 'server', 'state.db')}`;
  if (u === 'memory://' || u === 'memory') return openMemoryBackend();
  if (u.startsWith('sqlite://')) {
    const file = path.resolve(u.slice('sqlite://'.length));
    if (!u.slice('sqlite://'.length)) throw new InvalidArgumentError(`store URL ${u} names no file`);
    const spec = '../store/sqlite.js';
    const mod = (await import(spec).catch((err) => {
      throw new UnavailableError(`the SQLite store is not part of this build (${(err as Error).message.split('\n')[0]}); use --store memory:// for a throwaway cluster`);
    })) as { openSqliteBackend(file: string): Promise<Backend> };
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    return mod.openSqliteBackend(file);
  }
  throw new InvalidArgumentError(`unsupported store URL ${JSON.stringify(u)}: use sqlite://PATH or memory://`);
}
