/**
 * `skiff image import`: makes a one-layer OCI image from a root filesystem, given as a
 * directory or a tarball (plain, gzip or zstd), like `docker import`. `--change` takes the
 * Dockerfile instructions docker import accepts (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL,
 * EXPOSE, STOPSIGNAL, VOLUME).
 */
import fs from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import type { Descriptor } from './content.js';
import { type ImageConfig, type Manifest, MediaType, hostPlatform } from './manifest.js';
import type { ImageRecord, ImageStore } from './store.js';
import { decompressor, hashingStream } from './unpack.js';

/** Options of an import. */
export interface ImportOptions {
  /** Dockerfile instructions applied to the config (`CMD ["sh"]`, `ENV A=b`, ...). */
  changes?: string[];
  /** Recorded in the image history. */
  message?: string;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Imports `src` (directory or tarball) as image `name`. */
export async function importRootfs(store: ImageStore, src: string, name: string, opts: ImportOptions = {}): Promise<ImageRecord> {
  const st = await fs.stat(src).catch(() => undefined);
  if (!st) throw new NotFoundError(`import source not found: ${src}`);
  const config: ImageConfig = {
    created: new Date().toISOString(),
    architecture: hostPlatform().architecture,
    os: 'linux',
    config: { Env: [DEFAULT_PATH] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  for (const c of opts.changes ?? []) applyChange(config, c);

  const tarStream: Readable = st.isDirectory() ? packDirectory(src) : await openTarball(src);
  const diff = hashingStream();
  const gz = createGzip({ level: 6 });
  const out = new PassThrough();
  const [layer] = await Promise.all([
    store.content.putUnknown(out),
    pipeline(tarStream, diff, gz, out),
  ]);
  config.rootfs.diff_ids.push(diff.digest());
  config.history!.push({ created: config.created, created_by: opts.message ?? `skiff image import ${path.basename(src)}`, comment: 'Imported from ' + (st.isDirectory() ? 'directory' : 'tarball') });

  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await store.content.put(configBytes);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const target: Descriptor = { mediaType: MediaType.OciManifest, digest: await store.content.put(manifestBytes), size: manifestBytes.length };
  return store.tag(name, target);
}

async function openTarball(file: string): Promise<Readable> {
  const fh = await fs.open(file, 'r');
  const head = Buffer.alloc(4);
  await fh.read(head, 0, 4, 0);
  await fh.close();
  const raw = createReadStream(file);
  if (head[0] === 0x1f && head[1] === 0x8b) return raw.pipe(decompressor('gzip')!);
  if (head.readUInt32LE(0) === 0xfd2fb528) return raw.pipe(decompressor('zstd')!);
  return raw;
}

/**
 * A tar stream of a directory tree, with owners, modes, mtimes, symlinks and hardlinks, in
 * a stable order (sorted names) so the same tree gives the same layer digest.
 */
export function packDirectory(root: string): Readable {
  const pack = tar.pack();
  const inodes = new Map<string, string>();
  const add = (h: Partial<tar.Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((resolve, reject) => { pack.entry(h as tar.Header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())); });
  const walk = async (rel: string): Promise<void> => {
    const names = (await fs.readdir(path.join(root, rel))).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const abs = path.join(root, r);
      const st = await fs.lstat(abs);
      const base = { name: r, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        await add({ ...base, name: r + '/', type: 'directory' });
        await walk(r);
      } else if (st.isSymbolicLink()) {
        await add({ ...base, type: 'symlink', linkname: await fs.readlink(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          await add({ ...base, type: 'link', linkname: first });
          continue;
        }
        if (st.nlink > 1) inodes.set(key, r);
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ ...base, type: 'file', size: st.size } as tar.Header, (err) => (err ? reject(err) : resolve()));
          createReadStream(abs).on('error', reject).pipe(entry);
        });
      } else if (st.isFIFO()) {
        await add({ ...base, type: 'fifo' });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await add({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: Math.floor(st.rdev / 256), devminor: st.rdev % 256 });
      }
      // Sockets are skipped, as docker does.
    }
  };
  walk('').then(() => pack.finalize(), (err) => pack.destroy(err));
  return pack as unknown as Readable;
}

/** Applies one Dockerfile-style instruction to an image config. */
export function applyChange(config: ImageConfig, change: string): void {
  const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(change);
  if (!m) throw new InvalidArgumentError(`invalid --change "${change}": expected INSTRUCTION ARGS`);
  const instr = m[1].toUpperCase();
  const arg = m[2].trim();
  const c = (config.config ??= {});
  const execForm = (): string[] => {
    if (arg.startsWith('[')) {
      let v: unknown;
      try { v = JSON.parse(arg); } catch { throw new InvalidArgumentError(`invalid --change "${change}": malformed JSON array`); }
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InvalidArgumentError(`invalid --change "${change}": expected a JSON array of strings`);
      return v;
    }
    return ['/bin/sh', '-c', arg];
  };
  const pairs = (): Array<[string, string]> => {
    if (!arg.includes('=')) {
      const sp = arg.indexOf(' ');
      if (sp < 0) throw new InvalidArgumentError(`invalid --change "${change}": expected KEY=VALUE`);
      return [[arg.slice(0, sp), arg.slice(sp + 1).trim()]];
    }
    return arg.split(/\s+(?=[^=\s]+=)/).map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 1).replace(/^"(.*)"$/, '$1')];
    });
  };
  switch (instr) {
    case 'CMD': c.Cmd = execForm(); break;
    case 'ENTRYPOINT': c.Entrypoint = execForm(); break;
    case 'WORKDIR': c.WorkingDir = arg; break;
    case 'USER': c.User = arg; break;
    case 'STOPSIGNAL': c.StopSignal = arg; break;
    case 'ENV':
      for (const [k, v] of pairs()) {
        c.Env = (c.Env ?? []).filter((e) => !e.startsWith(k + '='));
        c.Env.push(`${k}=${v}`);
      }
      break;
    case 'LABEL':
      for (const [k, v] of pairs()) (c.Labels ??= {})[k] = v;
      break;
    case 'EXPOSE':
      for (const p of arg.split(/\s+/)) {
        if (!/^\d+(\/(tcp|udp|sctp))?$/.test(p)) throw new InvalidArgumentError(`invalid --change "${change}": bad port "${p}"`);
        (c.ExposedPorts ??= {})[p.includes('/') ? p : `${p}/tcp`] = {};
      }
      break;
    case 'VOLUME':
      for (const v of arg.startsWith('[') ? execForm() : arg.split(/\s+/)) (c.Volumes ??= {})[v] = {};
      break;
    default:
      throw new InvalidArgumentError(`invalid --change "${change}": ${instr} is not supported by import`);
  }
}
