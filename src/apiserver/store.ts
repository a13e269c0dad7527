/**
 * Opens the store a server URL names: `sqlite://PATH` (durable, the default, at
 * <root>/server/state.db), `etcd://HOST:PORT` (an etcd 3.4+ reached over its v3 JSON gateway,
 * plain HTTP on loopback) or `memory://` (throwaway). Backends are loaded on demand. SQLite
 * and etcd deployments compact history themselves; `compacts` says whether the server must.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import type { Backend } from '../store/types.js';
import { InvalidArgumentError, UnavailableError } from '../core/errors.js';
import { openMemoryBackend } from './memstore.js';

/** An opened store and whether the server must compact its history. */
export interface OpenedStore { backend: Backend; serverCompacts: boolean }

/** Opens the backend for `url` (default: SQLite under the data root). */
export async function openStore(url: string | undefined, root: string): Promise<OpenedStore> {
  const u = url ?? `sqlite://${path.join(root, 'server', 'state.db')}`;
  if (u === 'memory://' || u === 'memory') return { backend: openMemoryBackend(), serverCompacts: true };
  if (u.startsWith('etcd://')) {
    const spec = '../store/etcd.js';
    const mod = (await import(spec)) as { openEtcdBackend(endpoint: string): Promise<Backend> };
    // etcd keeps every revision until someone compacts it: as with kube-apiserver, we do.
    return { backend: await mod.openEtcdBackend(`http://${u.slice('etcd://'.length)}`), serverCompacts: true };
  }
  if (u.startsWith('sqlite://')) {
    const file = path.resolve(u.slice('sqlite://'.length));
    if (!u.slice('sqlite://'.length)) throw new InvalidArgumentError(`store URL ${u} names no file`);
    const spec = '../store/sqlite.js';
    const mod = (await import(spec).catch((err) => {
      throw new UnavailableError(`the SQLite store is not part of this build (${(err as Error).message.split('\n')[0]}); use --store memory:// for a throwaway cluster`);
    })) as { openSqliteBackend(file: string): Promise<Backend> };
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    return { backend: await mod.openSqliteBackend(file), serverCompacts: false };
  }
  throw new InvalidArgumentError(`unsupported store URL ${JSON.stringify(u)}: use sqlite://PATH, etcd://HOST:PORT or memory://`);
}
