/**
 * Unpacks one image layer (a tar, possibly gzip or zstd compressed) into a directory ready to
 * be an overlayfs lowerdir.
 *
 * Rules, after containerd's archive package (hand-written: no npm tar library converts OCI
 * whiteouts to overlay form or refuses symlink traversal the way a container runtime must):
 * - `.wh.NAME` becomes an overlay whiteout (a 0:0 character device named NAME);
 *   `.wh..wh..opq` marks its directory opaque (xattr trusted.overlay.opaque=y).
 * - Owners, modes (setuid/setgid/sticky too), mtimes, symlinks, hardlinks, device nodes, fifos
 *   and PAX `SCHILY.xattr.*` extended attributes are kept.
 * - An entry that would land outside the target (absolute path, `..`, a path through a
 *   symlink, a hardlink to outside) is refused; the caller unpacks into a fresh temporary
 *   directory and removes it on any error, so a refused layer leaves nothing behind.
 * - The uncompressed stream's sha256 must equal the layer's diffID.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { Decompress as ZstdDecompress } from 'fzstd';
import { setAttribute } from 'fs-xattr';
import { DataLossError, InvalidArgumentError } from '../../core/errors.js';
import type { Compression } from './manifest.js';

const exec = promisify(execFile);

/** Prefix of whiteout entries in OCI/Docker layers. */
export const WHITEOUT_PREFIX = '.wh.';
/** Name of the opaque-directory marker. */
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

/** What unpacking a layer produced. */
export interface UnpackResult {
  /** sha256 of the uncompressed tar (the layer's diffID). */
  diffID: string;
  /** Bytes of regular-file content written. */
  size: number;
}

/** A stream that decompresses according to `compression`. */
export function decompressor(compression: Compression): Transform | undefined {
  if (compression === 'gzip') return createGunzip({ chunkSize: 256 << 10 });
  if (compression === 'zstd') {
    let d: ZstdDecompress;
    const t = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        try {
          d.push(chunk);
          cb();
        } catch (err) {
          cb(new DataLossError(`zstd: ${(err as Error).message}`));
        }
      },
      flush(cb) {
        try {
          d.push(new Uint8Array(0), true);
          cb();
        } catch (err) {
          cb(new DataLossError(`zstd: ${(err as Error).message}`));
        }
      },
    });
    d = new ZstdDecompress((chunk) => { t.push(Buffer.from(chunk)); });
    return t;
  }
  return undefined;
}

/** A pass-through stream that hashes what flows through it. */
export function hashingStream(): Transform & { digest(): string; bytes(): number } {
  const h = createHash('sha256');
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
  }) as Transform & { digest(): string; bytes(): number };
  t.digest = () => 'sha256:' + h.digest('hex');
  t.bytes = () => n;
  return t;
}

/**
 * Resolves a tar entry name to a path inside `root`, refusing absolute paths and `..`.
 * Returns the relative, normalised path ('' for the root itself).
 */
export function safeRelative(name: string): string {
  if (name.startsWith('/')) throw new InvalidArgumentError(`layer entry "${name}" has an absolute path`);
  const norm = path.posix.normalize(name.replace(/^(\.\/)+/, ''));
  if (norm === '..' || norm.startsWith('../')) {
    throw new InvalidArgumentError(`layer entry "${name}" points outside the layer`);
  }
  return norm === '.' ? '' : norm.replace(/\/+$/, '');
}

/**
 * Unpacks `source` (the layer blob) into `target` (an empty directory that already exists).
 * Throws on a digest mismatch, a truncated or corrupt stream, or an escaping entry; the caller
 * removes `target` then.
 */
export async function unpackLayer(
  source: Readable,
  compression: Compression,
  target: string,
  expectedDiffID?: string,
): Promise<UnpackResult> {
  const hasher = hashingStream();
  const extract = tar.extract();
  const dirTimes: Array<[string, Date]> = [];
  let size = 0;
  const root = path.resolve(target);

  // Refuses to create anything whose parent chain inside `root` contains a symlink: writing
  // through it could land anywhere on the host.
  async function ensureParents(rel: string): Promise<string> {
    const parts = rel.split('/');
    parts.pop();
    let cur = root;
    for (const p of parts) {
      cur = path.join(cur, p);
      const st = await fs.lstat(cur).catch(() => undefined);
      if (!st) {
        await fs.mkdir(cur, { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw new InvalidArgumentError(`layer entry "${rel}" passes through a symlink`);
      } else if (!st.isDirectory()) {
        throw new InvalidArgumentError(`layer entry "${rel}" has a non-directory parent`);
      }
    }
    return path.join(root, rel);
  }

  async function removeExisting(abs: string, keepDir: boolean): Promise<void> {
    const st = await fs.lstat(abs).catch(() => undefined);
    if (!st) return;
    if (keepDir && st.isDirectory()) return;
    await fs.rm(abs, { recursive: true, force: true });
  }

  async function applyMeta(abs: string, h: tar.Header, isLink: boolean): Promise<void> {
    await fs.lchown(abs, h.uid ?? 0, h.gid ?? 0);
    if (!isLink) {
      // chown clears setuid/setgid, so the mode goes on after it.
      await fs.chmod(abs, (h.mode ?? 0o644) & 0o7777);
      const pax = (h as { pax?: Record<string, string> }).pax;
      if (pax) {
        for (const [k, v] of Object.entries(pax)) {
          if (k.startsWith('SCHILY.xattr.')) await setAttribute(abs, k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'latin1'));
        }
      }
    }
    const mtime = h.mtime ?? new Date(0);
    await fs.lutimes(abs, mtime, mtime);
  }

  async function handle(h: tar.Header, body: Readable): Promise<void> {
    const rel = safeRelative(h.name);
    const base = path.posix.basename(rel);
    if (rel === '') {
      body.resume();
      if (h.type === 'directory') {
        await fs.lchown(root, h.uid ?? 0, h.gid ?? 0);
        await fs.chmod(root, (h.mode ?? 0o755) & 0o7777);
      }
      return;
    }
    if (base === WHITEOUT_OPAQUE) {
      body.resume();
      const dirRel = path.posix.dirname(rel);
      const dir = dirRel === '.' ? root : await ensureParents(dirRel + '/x').then((p) => path.dirname(p));
      await setAttribute(dir, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      body.resume();
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (!name || name === '.' || name === '..') throw new InvalidArgumentError(`invalid whiteout "${h.name}"`);
      const abs = await ensureParents(path.posix.join(path.posix.dirname(rel), name));
      await removeExisting(abs, false);
      await mknod(abs, 'c', 0, 0);
      return;
    }
    const abs = await ensureParents(rel);
    switch (h.type) {
      case 'directory': {
        body.resume();
        await removeExisting(abs, true);
        await fs.mkdir(abs, { recursive: true });
        await applyMeta(abs, h, false);
        dirTimes.push([abs, h.mtime ?? new Date(0)]);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await removeExisting(abs, false);
        const fh = await fs.open(abs, 'wx', 0o600);
        try {
          for await (const chunk of body) {
            await fh.write(chunk as Buffer);
            size += (chunk as Buffer).length;
          }
        } finally {
          await fh.close();
        }
        await applyMeta(abs, h, false);
        return;
      }
      case 'symlink': {
        body.resume();
        await removeExisting(abs, false);
        await fs.symlink(h.linkname ?? '', abs);
        await applyMeta(abs, h, true);
        return;
      }
      case 'link': {
        body.resume();
        const targetRel = safeRelative(h.linkname ?? '');
        const targetAbs = await ensureParents(targetRel);
        const st = await fs.lstat(targetAbs).catch(() => undefined);
        if (!st) throw new InvalidArgumentError(`hardlink "${h.name}" points at missing "${h.linkname}"`);
        await removeExisting(abs, false);
        await fs.link(targetAbs, abs);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        body.resume();
        await removeExisting(abs, false);
        if (h.type === 'fifo') await exec('mkfifo', [abs]);
        else await mknod(abs, h.type === 'character-device' ? 'c' : 'b', h.devmajor ?? 0, h.devminor ?? 0);
        await applyMeta(abs, h, false);
        return;
      }
      default:
        body.resume();
        // pax global headers and other metadata-only entries carry nothing to write.
        return;
    }
  }

  extract.on('entry', (header, stream, next) => {
    // When the pipeline fails, tar-stream destroys the current entry with the same error after
    // our reader has detached; the pipeline reports it, so swallow the echo.
    stream.on('error', () => {});
    handle(header, stream as unknown as Readable).then(() => next(), (err) => {
      stream.resume();
      next(err);
    });
  });

  const decomp = decompressor(compression);
  try {
    if (decomp) await pipeline(source, decomp, hasher, extract);
    else await pipeline(source, hasher, extract);
  } catch (err) {
    if (err instanceof InvalidArgumentError || err instanceof DataLossError) throw err;
    const msg = (err as Error).message;
    throw new DataLossError(`layer is corrupt or truncated: ${msg}`, { cause: err });
  }
  // Directory mtimes last: writing their children changed them.
  for (const [dir, mtime] of dirTimes.reverse()) await fs.lutimes(dir, mtime, mtime);
  const diffID = hasher.digest();
  if (expectedDiffID && diffID !== expectedDiffID) {
    throw new DataLossError(`layer diffID mismatch: expected ${expectedDiffID}, got ${diffID}`);
  }
  return { diffID, size };
}

/** Node has no mknod(2); the coreutils command makes device nodes and overlay whiteouts. */
async function mknod(abs: string, type: 'c' | 'b', major: number, minor: number): Promise<void> {
  await exec('mknod', [abs, type, String(major), String(minor)]);
}
