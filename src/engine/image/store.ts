/**
 * The image store: names → manifests (records), the content store holding every blob, and
 * the snapshots (unpacked layers) that containers mount. What `podman images` and
 * containerd's image + snapshot services do, daemonless: every command opens the store,
 * takes the records lock for writes, and leaves.
 *
 * Layout under `<root>/images`:
 *   content/            blobs (see content.ts)
 *   snapshots/<hex>/fs  the layer with diffID sha256:<hex>, unpacked; shared by every image
 *   records.json        [{ name, target, createdAt, id }], written atomically under a lock
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ContentStore, type Descriptor, type Platform } from './content.js';
import {
  type ImageConfig, type Index, type Manifest,
  hostPlatform, isIndexType, isManifestType, layerCompression, selectManifest,
} from './manifest.js';
import { formatReference, parseReference } from './reference.js';
import { readJsonIfExists, writeJsonAtomic } from '../../lib/atomic.js';
import { withLock } from '../../lib/lock.js';
import { DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError, isENOENT } from '../../core/errors.js';

/** A name pointing at a manifest or index. */
export interface ImageRecord {
  /** Canonical reference (`docker.io/library/busybox:latest`); '' for a dangling image. */
  name: string;
  /** The manifest or index the name points at. */
  target: Descriptor;
  /** When the record was written (ISO 8601). */
  createdAt: string;
  /** Image ID (config digest) for this machine's platform. */
  id: string;
}

/** An image with its manifest and config read, for one platform. */
export interface ResolvedImage {
  /** Image ID: the config digest, as Docker defines it. */
  id: string;
  manifestDigest: string;
  manifest: Manifest;
  configDigest: string;
  config: ImageConfig;
}

/** Options for an ImageStore. */
export interface ImageStoreOptions {
  /** Asked before removing images: the IDs (config digests) of images containers use. */
  imagesInUse?: () => Promise<Set<string>>;
}

interface RecordsFile {
  version: 1;
  images: ImageRecord[];
}

/** Names, blobs and snapshots of the images under one data root. */
export class ImageStore {
  /** The blobs. */
  readonly content: ContentStore;
  /** `<root>/images`. */
  readonly dir: string;
  private readonly recordsFile: string;
  private readonly opts: ImageStoreOptions;

  constructor(root: string, opts: ImageStoreOptions = {}) {
    this.dir = path.join(root, 'images');
    this.content = new ContentStore(path.join(this.dir, 'content'));
    this.recordsFile = path.join(this.dir, 'records.json');
    this.opts = opts;
  }

  private async readRecords(): Promise<ImageRecord[]> {
    const f = await readJsonIfExists<RecordsFile>(this.recordsFile);
    return f?.images ?? [];
  }

  private async mutate<T>(fn: (images: ImageRecord[]) => Promise<T>): Promise<T> {
    await fs.mkdir(this.dir, { recursive: true });
    return withLock(this.recordsFile, async () => {
      const images = await this.readRecords();
      const result = await fn(images);
      await writeJsonAtomic(this.recordsFile, { version: 1, images } satisfies RecordsFile);
      return result;
    });
  }

  /**
   * Points `name` at `target` (a manifest or index whose blobs are all stored). A previous
   * image of that name that no other name refers to stays, as a dangling record.
   */
  async tag(name: string, target: Descriptor): Promise<ImageRecord> {
    const ref = parseReference(name);
    // name:tag drops a digest; a digest-only reference (repo@sha256:…) is kept as the name.
    const canonical = formatReference({ ...ref, digest: ref.tag ? undefined : ref.digest });
    const id = (await this.resolveTarget(target)).id;
    return this.mutate(async (images) => {
      const rec: ImageRecord = { name: canonical, target, createdAt: new Date().toISOString(), id };
      const i = images.findIndex((r) => r.name === canonical);
      if (i >= 0) {
        const old = images[i];
        images.splice(i, 1);
        if (old.id !== id && !images.some((r) => r.id === old.id)) images.push({ ...old, name: '' });
      }
      // A dangling record of the same image is superseded by the name.
      for (let j = images.length - 1; j >= 0; j--) if (images[j].name === '' && images[j].id === id) images.splice(j, 1);
      images.push(rec);
      return rec;
    });
  }

  /** Every record, named ones first in name order, then dangling ones. */
  async list(): Promise<ImageRecord[]> {
    const images = await this.readRecords();
    return images.sort((a, b) => (a.name === '' ? 1 : 0) - (b.name === '' ? 1 : 0) || a.name.localeCompare(b.name));
  }

  /**
   * Finds an image by name (short or canonical; `name@digest` too), by image ID (full
   * `sha256:…` or a prefix of at least 4 hex digits), or by manifest digest.
   */
  async get(nameOrId: string): Promise<ImageRecord> {
    const images = await this.readRecords();
    const found = findRecord(images, nameOrId);
    if (!found) throw new NotFoundError(`image not found: ${nameOrId}`);
    return found;
  }

  /** Follows `record`'s target (through an index, for `platform`) to its manifest and config. */
  async resolve(record: ImageRecord, platform?: Platform): Promise<ResolvedImage> {
    return this.resolveTarget(record.target, platform);
  }

  private async resolveTarget(target: Descriptor, platform: Platform = hostPlatform()): Promise<ResolvedImage> {
    let desc = target;
    if (isIndexType(desc.mediaType)) {
      const index = await this.content.readJson<Index>(desc.digest);
      desc = selectManifest(index, platform);
    }
    if (!isManifestType(desc.mediaType)) {
      throw new InvalidArgumentError(`unsupported manifest media type "${desc.mediaType}"`);
    }
    const manifest = await this.content.readJson<Manifest>(desc.digest);
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) {
      throw new DataLossError(`manifest ${desc.digest} is malformed`);
    }
    const config = await this.content.readJson<ImageConfig>(manifest.config.digest);
    const diffIDs = config.rootfs?.diff_ids ?? [];
    if (diffIDs.length !== manifest.layers.length) {
      throw new DataLossError(`image ${manifest.config.digest}: ${manifest.layers.length} layers but ${diffIDs.length} diff_ids`);
    }
    for (const l of manifest.layers) layerCompression(l.mediaType); // refuse unknown layer types early
    return { id: manifest.config.digest, manifestDigest: desc.digest, manifest, configDigest: manifest.config.digest, config };
  }

  /** The directory a layer's snapshot lives in. */
  snapshotDir(diffID: string): string {
    return path.join(this.dir, 'snapshots', diffID.replace(/^sha256:/, ''));
  }

  /**
   * Ensures every layer of `image` is unpacked, each once even when shared or requested
   * concurrently, and returns the snapshot directories in overlay lowerdir order (top first).
   */
  async unpack(image: ResolvedImage): Promise<string[]> {
    const diffIDs = image.config.rootfs.diff_ids;
    // Layers are independent in overlay form, so they unpack side by side.
    const dirs = await Promise.all(image.manifest.layers.map((l, i) => this.unpackLayer(l, diffIDs[i])));
    return dirs.reverse();
  }

  /** Ensures one layer (blob `layer`, uncompressed digest `diffID`) is unpacked; returns its dir. */
  async unpackLayer(layer: Descriptor, diffID: string): Promise<string> {
    const snap = this.snapshotDir(diffID);
    const fsDir = path.join(snap, 'fs');
    if (await exists(fsDir)) return fsDir;
    await fs.mkdir(path.dirname(snap), { recursive: true });
    return withLock(snap, async () => {
      if (await exists(fsDir)) return fsDir;
      const tmp = `${snap}.unpacking-${process.pid}`;
      await fs.rm(tmp, { recursive: true, force: true });
      await fs.mkdir(path.join(tmp, 'fs'), { recursive: true, mode: 0o755 });
      try {
        // Loaded on first use: listing or resolving images needs no tar machinery.
        const { unpackLayer } = await import('./unpack.js');
        const res = await unpackLayer(await this.content.stream(layer.digest), layerCompression(layer.mediaType), path.join(tmp, 'fs'), diffID);
        await writeJsonAtomic(path.join(tmp, 'snapshot.json'), { diffID, layer: layer.digest, size: res.size });
        await fs.rename(tmp, snap);
      } catch (err) {
        await fs.rm(tmp, { recursive: true, force: true });
        throw err;
      }
      return fsDir;
    });
  }

  /** Removes a name; NotFoundError when no image has it. */
  async untag(name: string): Promise<void> {
    const canonical = formatReference({ ...parseReference(name), digest: undefined });
    await this.mutate(async (images) => {
      const i = images.findIndex((r) => r.name === canonical);
      if (i < 0) throw new NotFoundError(`image not found: ${name}`);
      images.splice(i, 1);
    });
  }

  /**
   * Removes an image like `docker rmi`: by name, only that name (the image goes when its last
   * name goes); by ID, every name (refused when several names exist unless forced). An image
   * used by a container is refused unless forced; forced, it loses its names but its content
   * stays until no container uses it. Returns the removed names and IDs, for printing.
   */
  async remove(nameOrId: string, opts: { force?: boolean } = {}): Promise<string[]> {
    const inUse = (await this.opts.imagesInUse?.()) ?? new Set<string>();
    return this.mutate(async (images) => {
      const rec = findRecord(images, nameOrId);
      if (!rec) throw new NotFoundError(`image not found: ${nameOrId}`);
      const byName = rec.name !== '' && !isIdLike(nameOrId);
      const sameImage = images.filter((r) => r.id === rec.id);
      const removing = byName ? [rec] : sameImage;
      if (!byName && sameImage.filter((r) => r.name).length > 1 && !opts.force) {
        throw new FailedPreconditionError(`image ${shortId(rec.id)} is referenced in multiple repositories (use -f to remove them all)`);
      }
      const last = removing.length === sameImage.length;
      if (last && inUse.has(rec.id) && !opts.force) {
        throw new FailedPreconditionError(`image ${nameOrId} (${shortId(rec.id)}) is in use by a container (use -f to force)`);
      }
      const out: string[] = [];
      for (const r of removing) {
        images.splice(images.indexOf(r), 1);
        if (r.name) out.push(`Untagged: ${r.name}`);
      }
      if (last) {
        if (inUse.has(rec.id)) images.push({ ...rec, name: '' }); // kept for its containers
        else out.push(`Deleted: ${rec.id}`);
      }
      return out;
    });
  }

  /**
   * Removes blobs and snapshots that no record (and no image in use) reaches, plus dangling
   * records of images no container uses and abandoned ingests.
   */
  async gc(): Promise<{ blobs: number; snapshots: number; bytes: number }> {
    const inUse = (await this.opts.imagesInUse?.()) ?? new Set<string>();
    return this.mutate(async (images) => {
      for (let i = images.length - 1; i >= 0; i--) {
        if (images[i].name === '' && !inUse.has(images[i].id)) images.splice(i, 1);
      }
      const keepBlobs = new Set<string>();
      const keepSnaps = new Set<string>();
      for (const r of images) await this.mark(r.target, keepBlobs, keepSnaps);
      let blobs = 0;
      let snapshots = 0;
      let bytes = 0;
      for (const d of await this.content.list()) {
        if (keepBlobs.has(d)) continue;
        bytes += await this.content.size(d).catch(() => 0);
        await this.content.delete(d);
        blobs++;
      }
      const snapRoot = path.join(this.dir, 'snapshots');
      for (const n of await fs.readdir(snapRoot).catch(() => [] as string[])) {
        if (keepSnaps.has(n) || n.includes('.unpacking-') || n.endsWith('.lock')) continue;
        await fs.rm(path.join(snapRoot, n), { recursive: true, force: true });
        snapshots++;
      }
      await this.content.cleanIngest(3600_000);
      return { blobs, snapshots, bytes };
    });
  }

  private async mark(desc: Descriptor, blobs: Set<string>, snaps: Set<string>): Promise<void> {
    blobs.add(desc.digest);
    if (isIndexType(desc.mediaType)) {
      const index = await this.content.readJson<Index>(desc.digest).catch(() => undefined);
      for (const m of index?.manifests ?? []) {
        if (await this.content.has(m.digest)) await this.mark(m, blobs, snaps);
      }
    } else if (isManifestType(desc.mediaType)) {
      const manifest = await this.content.readJson<Manifest>(desc.digest).catch(() => undefined);
      if (!manifest) return;
      blobs.add(manifest.config.digest);
      for (const l of manifest.layers) blobs.add(l.digest);
      const config = await this.content.readJson<ImageConfig>(manifest.config.digest).catch(() => undefined);
      for (const d of config?.rootfs?.diff_ids ?? []) snaps.add(d.replace(/^sha256:/, ''));
    }
  }

  /** Total size of an image's layers as stored (compressed), for `skiff images`. */
  imageSize(image: ResolvedImage): number {
    return image.manifest.layers.reduce((n, l) => n + l.size, 0) + image.manifest.config.size;
  }
}

function isIdLike(s: string): boolean {
  return /^(sha256:)?[0-9a-f]{4,64}$/.test(s);
}

/** The 12-hex short form of an image ID, as `docker images` shows it. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function findRecord(images: ImageRecord[], nameOrId: string): ImageRecord | undefined {
  if (isIdLike(nameOrId)) {
    const hex = nameOrId.replace(/^sha256:/, '');
    const byId = images.filter((r) => r.id.slice(7).startsWith(hex));
    if (byId.length) return byId.find((r) => r.name) ?? byId[0];
    const byManifest = images.find((r) => r.target.digest.slice(7).startsWith(hex) && hex.length >= 12);
    if (byManifest) return byManifest;
    // Fall through: "abcd" may also be a repository name.
  }
  let ref;
  try {
    ref = parseReference(nameOrId);
  } catch (err) {
    if (isIdLike(nameOrId)) return undefined;
    throw err;
  }
  if (ref.digest) {
    const repo = formatReference({ ...ref, tag: undefined, digest: undefined });
    return images.find((r) => r.target.digest === ref.digest && r.name.startsWith(repo + ':'))
      ?? images.find((r) => r.target.digest === ref.digest);
  }
  const canonical = formatReference(ref);
  return images.find((r) => r.name === canonical);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch (err) {
    if (isENOENT(err)) return false;
    throw err;
  }
}
