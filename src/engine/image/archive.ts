/**
 * `skiff image load` and `skiff image save`: OCI image layouts (a directory or a tar of one)
 * and `docker save` tarballs.
 *
 * Save writes what Docker 25+ writes: one tar that is at the same time an OCI image layout
 * (oci-layout, index.json, blobs/sha256/…) and a docker-archive (manifest.json and
 * repositories pointing at the same blobs), so `docker load`, `podman load` and skopeo's
 * `oci-archive:` and `docker-archive:` transports all read it.
 *
 * Load reads either format. Every blob under blobs/sha256/ is verified against its name as it
 * is stored; legacy docker-archive files (`<id>/layer.tar`, `<id>.json`) are hashed on the way
 * in. Tar entries that would leave the archive (absolute, `..`) are refused.
 */
import fs from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { DataLossError, InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import type { Descriptor } from './content.js';
import { type Index, type Manifest, MediaType, isIndexType, isManifestType } from './manifest.js';
import { familiarName, formatReference, parseReference } from './reference.js';
import type { ImageRecord, ImageStore } from './store.js';
import { decompressor, safeRelative } from './unpack.js';
import { writeFileAtomic } from '../../lib/atomic.js';

/** What a load did: names tagged and IDs of images loaded without a name. */
export interface LoadResult {
  tagged: ImageRecord[];
  untagged: string[];
}

const SMALL_FILE = 4 << 20;

/** Loads an OCI layout (dir or tar, optionally gzip) or a docker-save tar into the store. */
export async function loadImages(store: ImageStore, src: string | Readable): Promise<LoadResult> {
  const files = new Map<string, Buffer>(); // small metadata files by path
  const blobOf = new Map<string, string>(); // archive path -> stored digest
  const put = async (rel: string, size: number, body: AsyncIterable<Uint8Array>) => {
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(rel);
    if (m) {
      await store.content.putStream(`sha256:${m[1]}`, body, size);
      blobOf.set(rel, `sha256:${m[1]}`);
    } else if (size <= SMALL_FILE && (rel.endsWith('.json') || rel === 'oci-layout' || rel === 'repositories')) {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(Buffer.from(c));
      files.set(rel, Buffer.concat(chunks));
    } else if (/(^|\/)(layer\.tar|[0-9a-f]{64}\.tar(\.gz)?)$/.test(rel)) {
      // A legacy docker-archive layer: hashed on the way in.
      blobOf.set(rel, (await store.content.putUnknown(body)).digest);
    } else {
      for await (const _ of body) { /* VERSION, json and other legacy files: not needed */ }
    }
  };

  if (typeof src === 'string' && (await fs.stat(src).catch(() => undefined))?.isDirectory()) {
    await walkDir(src, '', put);
  } else {
    const input = typeof src === 'string' ? await openMaybeCompressed(src) : src;
    const extract = tar.extract();
    extract.on('entry', (h, body, next) => {
      body.on('error', () => {}); // reported by the pipeline; see unpack.ts
      (async () => {
        if (h.type !== 'file' && h.type !== 'contiguous-file') { body.resume(); return; }
        await put(safeRelative(h.name), h.size ?? 0, body as unknown as AsyncIterable<Uint8Array>);
      })().then(() => next(), (err) => { body.resume(); next(err); });
    });
    try {
      await pipeline(input, extract);
    } catch (err) {
      if (err instanceof InvalidArgumentError || err instanceof DataLossError || err instanceof NotFoundError) throw err;
      throw new DataLossError(`archive is corrupt or truncated: ${(err as Error).message}`, { cause: err });
    }
  }

  const result: LoadResult = { tagged: [], untagged: [] };
  const dockerManifest = files.get('manifest.json');
  if (dockerManifest) {
    await loadDockerArchive(store, parseJson(dockerManifest, 'manifest.json'), blobOf, files, result);
  } else if (files.has('index.json')) {
    await loadOciLayout(store, parseJson<Index>(files.get('index.json')!, 'index.json'), result);
  } else {
    throw new InvalidArgumentError('not an image archive: neither index.json (OCI layout) nor manifest.json (docker save) found');
  }
  return result;
}

async function loadOciLayout(store: ImageStore, index: Index, result: LoadResult): Promise<void> {
  if (!Array.isArray(index.manifests)) throw new InvalidArgumentError('index.json has no manifests');
  for (const desc of index.manifests) {
    if (!isManifestType(desc.mediaType) && !isIndexType(desc.mediaType)) {
      throw new InvalidArgumentError(`unsupported manifest media type "${desc.mediaType}"`);
    }
    if (!(await store.content.has(desc.digest))) throw new DataLossError(`archive lacks blob ${desc.digest} named by index.json`);
    const target: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    await checkBlobs(store, target);
    const name = desc.annotations?.['io.containerd.image.name'] ?? fullRefName(desc.annotations?.['org.opencontainers.image.ref.name']);
    if (name) result.tagged.push(await store.tag(name, target));
    else result.untagged.push(await danglingId(store, target));
  }
}

/** A ref.name annotation is a full reference only when it names a repository, not just a tag. */
function fullRefName(refName: string | undefined): string | undefined {
  if (!refName || !/[/:]/.test(refName)) return undefined;
  try {
    parseReference(refName);
    return refName;
  } catch {
    return undefined;
  }
}

interface DockerEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

async function loadDockerArchive(store: ImageStore, entries: DockerEntry[], blobOf: Map<string, string>, files: Map<string, Buffer>, result: LoadResult): Promise<void> {
  if (!Array.isArray(entries)) throw new InvalidArgumentError('manifest.json is not a list');
  for (const e of entries) {
    const legacyConfig = files.get(e.Config);
    const cfgDigest = blobOf.get(e.Config) ?? (legacyConfig ? await store.content.put(legacyConfig) : undefined);
    if (!cfgDigest) throw new DataLossError(`archive lacks config ${e.Config} named by manifest.json`);
    const cfgSize = await store.content.size(cfgDigest);
    const layers: Descriptor[] = [];
    for (const l of e.Layers ?? []) {
      const d = blobOf.get(l);
      if (!d) throw new DataLossError(`archive lacks layer ${l} named by manifest.json`);
      layers.push({ mediaType: await layerMediaType(store, d), digest: d, size: await store.content.size(d) });
    }
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfgDigest, size: cfgSize },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const target: Descriptor = { mediaType: MediaType.OciManifest, digest: await store.content.put(bytes), size: bytes.length };
    const tags = e.RepoTags ?? [];
    if (!tags.length) result.untagged.push(await danglingId(store, target));
    for (const t of tags) result.tagged.push(await store.tag(t, target));
  }
}

async function layerMediaType(store: ImageStore, digest: string): Promise<string> {
  const fh = await fs.open(store.content.path(digest), 'r');
  const head = Buffer.alloc(4);
  await fh.read(head, 0, 4, 0);
  await fh.close();
  if (head[0] === 0x1f && head[1] === 0x8b) return MediaType.OciLayerGzip;
  if (head.readUInt32LE(0) === 0xfd2fb528) return MediaType.OciLayerZstd;
  return MediaType.OciLayer;
}

/** Verifies that every blob an image needs is present (resolving it reads manifest and config). */
async function checkBlobs(store: ImageStore, target: Descriptor): Promise<void> {
  if (isIndexType(target.mediaType)) return; // per-platform manifests are checked when resolved
  const m = await store.content.readJson<Manifest>(target.digest);
  for (const d of [m.config, ...m.layers]) {
    if (!(await store.content.has(d.digest))) throw new DataLossError(`archive lacks blob ${d.digest}`);
  }
}

async function danglingId(store: ImageStore, target: Descriptor): Promise<string> {
  const rec = await store.tag(`localhost/skiff-untagged-${target.digest.slice(7, 19)}:latest`, target);
  await store.untag(rec.name);
  return rec.id;
}

/** Options of a save. */
export interface SaveOptions {
  /** Write an OCI layout directory instead of a tar. */
  directory?: boolean;
}

/**
 * Saves images (by name or ID) as one archive that is both an OCI layout and a docker-archive.
 * `out` is a file path (written atomically), a directory (with `directory`), or a stream.
 */
export async function saveImages(store: ImageStore, names: string[], out: string | NodeJS.WritableStream, opts: SaveOptions = {}): Promise<void> {
  if (!names.length) throw new InvalidArgumentError('save needs at least one image');
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const docker = new Map<string, DockerEntry>();
  const repositories: Record<string, Record<string, string>> = {};
  const blobs = new Set<string>();
  for (const n of names) {
    const rec = await store.get(n);
    const img = await store.resolve(rec);
    const manifestDesc: Descriptor = { mediaType: MediaType.OciManifest, digest: img.manifestDigest, size: await store.content.size(img.manifestDigest) };
    const manifestMt = (await store.content.readJson<Manifest>(img.manifestDigest)).mediaType;
    if (manifestMt) manifestDesc.mediaType = manifestMt;
    const ref = rec.name ? parseReference(rec.name) : undefined;
    index.manifests.push({
      ...manifestDesc,
      annotations: ref ? { 'io.containerd.image.name': formatReference(ref), 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' } : undefined,
    });
    for (const d of [img.manifestDigest, img.configDigest, ...img.manifest.layers.map((l) => l.digest)]) blobs.add(d);
    const entry = docker.get(img.id) ?? { Config: blobPath(img.configDigest), RepoTags: [], Layers: img.manifest.layers.map((l) => blobPath(l.digest)) };
    if (ref) {
      const familiar = familiarName(ref);
      entry.RepoTags!.push(`${familiar}:${ref.tag ?? 'latest'}`);
      (repositories[familiar] ??= {})[ref.tag ?? 'latest'] = img.id.slice(7);
    }
    docker.set(img.id, entry);
  }
  const meta: Array<[string, Buffer]> = [
    ['oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))],
    ['index.json', Buffer.from(JSON.stringify(index))],
    ['manifest.json', Buffer.from(JSON.stringify([...docker.values()]))],
    ['repositories', Buffer.from(JSON.stringify(repositories))],
  ];

  if (opts.directory) {
    if (typeof out !== 'string') throw new InvalidArgumentError('a directory save needs a path');
    await fs.mkdir(path.join(out, 'blobs', 'sha256'), { recursive: true });
    for (const d of blobs) {
      const dst = path.join(out, blobPath(d));
      if (!(await fs.stat(dst).catch(() => undefined))) await fs.copyFile(store.content.path(d), dst);
    }
    for (const [n, b] of meta) await writeFileAtomic(path.join(out, n), b);
    return;
  }

  const pack = tar.pack();
  const add = (name: string, body: Buffer) =>
    new Promise<void>((res, rej) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body, (e) => (e ? rej(e) : res())));
  const producing = (async () => {
    // Directory entries first: some readers (skopeo's oci-archive) do not create parents.
    for (const dir of ['blobs/', 'blobs/sha256/']) {
      await new Promise<void>((res, rej) => pack.entry({ name: dir, type: 'directory', mode: 0o755, mtime: new Date(0) }, (e) => (e ? rej(e) : res())));
    }
    for (const d of blobs) {
      const size = await store.content.size(d);
      await new Promise<void>((res, rej) => {
        const entry = pack.entry({ name: blobPath(d), size, mode: 0o644, mtime: new Date(0) }, (e) => (e ? rej(e) : res()));
        createReadStream(store.content.path(d)).on('error', rej).pipe(entry);
      });
    }
    for (const [n, b] of meta) await add(n, b);
    pack.finalize();
  })();
  producing.catch((err) => pack.destroy(err));
  if (typeof out === 'string') {
    const tmp = `${out}.tmp-${process.pid}`;
    try {
      await Promise.all([pipeline(pack, createWriteStream(tmp, { mode: 0o644 })), producing]);
      await fs.rename(tmp, out);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  } else {
    await Promise.all([pipeline(pack, new PassThrough(), out), producing]);
  }
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice(7)}`;
}

function parseJson<T = unknown>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch {
    throw new InvalidArgumentError(`${what} in the archive is not valid JSON`);
  }
}

async function openMaybeCompressed(file: string): Promise<Readable> {
  const fh = await fs.open(file, 'r').catch((err) => {
    throw new NotFoundError(`cannot open ${file}: ${(err as Error).message}`);
  });
  const head = Buffer.alloc(2);
  await fh.read(head, 0, 2, 0);
  await fh.close();
  const raw = createReadStream(file);
  return head[0] === 0x1f && head[1] === 0x8b ? raw.pipe(decompressor('gzip')!) : raw;
}

async function walkDir(root: string, rel: string, put: (rel: string, size: number, body: AsyncIterable<Uint8Array>) => Promise<void>): Promise<void> {
  for (const n of (await fs.readdir(path.join(root, rel))).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const st = await fs.lstat(path.join(root, r));
    if (st.isDirectory()) await walkDir(root, r, put);
    else if (st.isFile()) await put(r, st.size, createReadStream(path.join(root, r)));
  }
}
