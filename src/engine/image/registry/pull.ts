/**
 * `skiff pull`: resolves a reference to a manifest (through an index, for this platform),
 * downloads the config and the layers it lacks into the content store — verifying each
 * blob's digest and size while it streams, three layers at a time, resuming with a Range
 * request when a connection drops — then unpacks the layers and records the name.
 */
import path from 'node:path';
import { DataLossError, InvalidArgumentError, UnavailableError } from '../../../core/errors.js';
import type { Descriptor, Platform } from '../content.js';
import { digestOf } from '../content.js';
import { type ImageConfig, type Index, type Manifest, MediaType, formatPlatform, hostPlatform, isIndexType, isManifestType, layerCompression, selectManifest } from '../manifest.js';
import { formatReference, parseReference, type Reference } from '../reference.js';
import type { ImageRecord, ImageStore } from '../store.js';
import { withLock } from '../../../lib/lock.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { type Progress, silentProgress } from './progress.js';

/** Media types a pull asks for, most specific first. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(', ');

const MAX_MANIFEST = 4 << 20;

/** Options of a pull. */
export interface PullOptions extends RegistryClientOptions {
  platform?: Platform;
  progress?: Progress;
  /** Attempts per blob before giving up (default 5). */
  retries?: number;
  /** Unpack the layers into snapshots after downloading (default true). */
  unpack?: boolean;
  /** Layers downloaded at once (default 3). */
  concurrency?: number;
}

/** Pulls `reference` into `store` and returns the image record. */
export async function pull(store: ImageStore, reference: string, opts: PullOptions = {}): Promise<ImageRecord> {
  const ref = parseReference(reference);
  const client = new RegistryClient(ref.domain, opts);
  const progress = opts.progress ?? silentProgress;
  const scope = `repository:${ref.path}:pull`;
  const platform = opts.platform ?? hostPlatform();

  let top = await fetchManifest(client, ref, ref.digest ?? ref.tag!, scope);
  await store.content.put(top.bytes, top.desc.digest);
  let target = top.desc;
  let manifestDesc = top.desc;
  if (isIndexType(top.desc.mediaType)) {
    const chosen = selectManifest(JSON.parse(top.bytes.toString('utf8')) as Index, platform);
    const m = await fetchManifest(client, ref, chosen.digest, scope);
    if (!isManifestType(m.desc.mediaType)) throw new InvalidArgumentError(`index entry ${chosen.digest} is not an image manifest`);
    await store.content.put(m.bytes, chosen.digest);
    manifestDesc = m.desc;
    top = m;
    // The record points at the index only when it resolves to this machine's platform.
    if (formatPlatform(platform) !== formatPlatform(hostPlatform())) target = manifestDesc;
  }
  progress.note(`Resolved ${formatReference(ref)} to ${manifestDesc.digest}`);
  const manifest = JSON.parse(top.bytes.toString('utf8')) as Manifest;
  if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw new DataLossError(`manifest ${manifestDesc.digest} is malformed`);
  for (const l of manifest.layers) layerCompression(l.mediaType);

  const blobs = [manifest.config, ...manifest.layers];
  // The config comes first (its own worker), so its diffIDs are known before layers finish.
  let diffIDs: string[] | undefined;
  await fetchBlob(store, client, ref, manifest.config, scope, progress, opts.retries ?? 5);
  const cfg = await store.content.readJson<ImageConfig>(manifest.config.digest);
  if ((cfg.rootfs?.diff_ids ?? []).length === manifest.layers.length) diffIDs = cfg.rootfs.diff_ids;
  const limit = Math.max(1, opts.concurrency ?? 3);
  let next = 1;
  const worker = async () => {
    while (next < blobs.length) {
      const i = next++;
      await fetchBlob(store, client, ref, blobs[i], scope, progress, opts.retries ?? 5);
      // Unpack each layer as soon as it is here, while the others download.
      if (i > 0 && opts.unpack !== false && diffIDs) await store.unpackLayer(blobs[i], diffIDs[i - 1]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, blobs.length) }, worker));
  } finally {
    progress.stop();
  }
  const config = await store.content.readJson<ImageConfig>(manifest.config.digest);
  if ((config.rootfs?.diff_ids ?? []).length !== manifest.layers.length) {
    throw new DataLossError(`image config lists ${config.rootfs?.diff_ids?.length ?? 0} layers, the manifest ${manifest.layers.length}`);
  }
  const name = ref.tag ? formatReference({ ...ref, digest: undefined }) : formatReference(ref);
  const rec = await store.tag(name, target);
  if (opts.unpack !== false) await store.unpack(await store.resolve(rec, platform));
  return rec;
}

async function fetchManifest(client: RegistryClient, ref: Reference, tagOrDigest: string, scope: string): Promise<{ desc: Descriptor; bytes: Buffer }> {
  const res = await client.send('GET', `/v2/${ref.path}/manifests/${tagOrDigest}`, { scope, headers: { accept: MANIFEST_ACCEPT } });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > MAX_MANIFEST) throw new InvalidArgumentError(`manifest ${tagOrDigest} is larger than ${MAX_MANIFEST} bytes`);
    chunks.push(c as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  const digest = digestOf(bytes);
  if (tagOrDigest.startsWith('sha256:') && digest !== tagOrDigest) {
    throw new DataLossError(`manifest digest mismatch: expected ${tagOrDigest}, got ${digest}`);
  }
  let mediaType = String(res.headers['content-type'] ?? '').split(';')[0].trim();
  let parsed: { mediaType?: string; schemaVersion?: number; manifests?: unknown; layers?: unknown };
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DataLossError(`manifest ${tagOrDigest} is not JSON`);
  }
  if (parsed.mediaType) mediaType = parsed.mediaType;
  else if (!isManifestType(mediaType) && !isIndexType(mediaType)) mediaType = parsed.manifests ? MediaType.OciIndex : MediaType.OciManifest;
  if (!isManifestType(mediaType) && !isIndexType(mediaType)) {
    throw new InvalidArgumentError(`unsupported manifest media type "${mediaType}"`);
  }
  return { desc: { mediaType, digest, size: bytes.length }, bytes };
}

/** Downloads one blob with verification, resuming after dropped connections. */
async function fetchBlob(store: ImageStore, client: RegistryClient, ref: Reference, d: Descriptor, scope: string, progress: Progress, retries: number): Promise<void> {
  if (await store.content.has(d.digest)) {
    progress.done(d.digest, 'exists');
    return;
  }
  const lockPath = path.join(store.content.dir, 'ingest', d.digest.slice(7));
  await withLock(lockPath, async () => {
    if (await store.content.has(d.digest)) {
      progress.done(d.digest, 'exists');
      return;
    }
    let lastErr: unknown;
    for (let attempt = 0; attempt < retries; attempt++) {
      let w = await store.content.ingest(d.digest, d.size);
      try {
        const headers: Record<string, string> = {};
        if (w.offset > 0) headers.range = `bytes=${w.offset}-`;
        const res = await client.send('GET', `/v2/${ref.path}/blobs/${d.digest}`, { scope, headers });
        if (w.offset > 0 && res.status !== 206) {
          await w.abort(); // the server ignored the range: start over
          w = await store.content.ingest(d.digest, d.size, { resume: false });
        }
        progress.start(d.digest, d.size, w.offset);
        for await (const chunk of res.body) {
          await w.write(chunk as Buffer);
          progress.advance(d.digest, (chunk as Buffer).length);
        }
        await w.commit();
        progress.done(d.digest, 'done');
        return;
      } catch (err) {
        lastErr = err;
        if (err instanceof DataLossError) {
          await w.abort(); // wrong bytes: nothing worth resuming
          if (attempt === retries - 1) throw err;
        } else if (isTransient(err)) {
          await w.suspend(); // keep what arrived; the next attempt resumes with a Range request
          progress.note(`Retrying blob ${d.digest.slice(7, 19)} after: ${(err as Error).message}`);
        } else {
          await w.suspend();
          throw err;
        }
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
    throw new UnavailableError(`blob ${d.digest} failed after ${retries} attempts: ${(lastErr as Error)?.message}`, { cause: lastErr });
  });
}

function isTransient(err: unknown): boolean {
  if (err instanceof UnavailableError) return true;
  const code = (err as { code?: string }).code ?? '';
  return /^(UND_ERR_|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED)/.test(code) || /other side closed|terminated|socket/i.test((err as Error)?.message ?? '');
}
