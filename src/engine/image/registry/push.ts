/**
 * `skiff push`: uploads an image's config and layers and then its manifest, per the OCI
 * distribution specification. A blob the registry already has (HEAD) is skipped; a blob the
 * registry has in another repository the image came from is mounted (POST ?mount=&from=);
 * others are uploaded monolithically (POST then PUT) or, above a size threshold, in chunks
 * (PATCH with Content-Range, then PUT).
 */
import { createReadStream } from 'node:fs';
import { DataLossError, UnavailableError } from '../../../core/errors.js';
import type { Descriptor } from '../content.js';
import { formatReference, parseReference, type Reference } from '../reference.js';
import type { ImageStore } from '../store.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { type Progress, silentProgress } from './progress.js';

/** Options of a push. */
export interface PushOptions extends RegistryClientOptions {
  progress?: Progress;
  /** Blobs larger than this are uploaded in chunks (default 16 MiB). */
  chunkThreshold?: number;
  /** Size of each chunk of a chunked upload (default 8 MiB). */
  chunkSize?: number;
}

/** What a push did, blob by blob. */
export interface PushResult {
  reference: string;
  digest: string;
  blobs: Record<string, 'exists' | 'mounted' | 'monolithic' | 'chunked'>;
}

/** Pushes image `source` (a name or ID in the store) to `destination` (default: its name). */
export async function push(store: ImageStore, source: string, destination?: string, opts: PushOptions = {}): Promise<PushResult> {
  const rec = await store.get(source);
  const dst = parseReference(destination ?? (rec.name || source));
  const img = await store.resolve(rec);
  const client = new RegistryClient(dst.domain, opts);
  const progress = opts.progress ?? silentProgress;
  const scope = `repository:${dst.path}:pull,push`;
  const mountFrom = (await store.list())
    .filter((r) => r.id === img.id && r.name)
    .map((r) => parseReference(r.name))
    .find((r) => r.domain === dst.domain && r.path !== dst.path);

  const result: PushResult = { reference: formatReference(dst), digest: img.manifestDigest, blobs: {} };
  try {
    for (const d of [...img.manifest.layers, img.manifest.config]) {
      result.blobs[d.digest] = await pushBlob(store, client, dst, d, scope, mountFrom, progress, opts);
    }
  } finally {
    progress.stop();
  }
  const manifestBytes = await store.content.read(img.manifestDigest);
  const mediaType = img.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  const res = await client.send('PUT', `/v2/${dst.path}/manifests/${dst.tag ?? dst.digest}`, {
    scope, body: manifestBytes, headers: { 'content-type': mediaType },
  });
  await res.body.dump();
  const echoed = res.headers['docker-content-digest'];
  if (echoed && echoed !== img.manifestDigest) {
    throw new DataLossError(`registry stored the manifest as ${String(echoed)}, expected ${img.manifestDigest}`);
  }
  return result;
}

async function pushBlob(store: ImageStore, client: RegistryClient, dst: Reference, d: Descriptor, scope: string, from: Reference | undefined, progress: Progress, opts: PushOptions): Promise<PushResult['blobs'][string]> {
  const head = await client.send('HEAD', `/v2/${dst.path}/blobs/${d.digest}`, { scope, ok: [404] });
  await head.body.dump();
  if (head.status === 200) {
    progress.done(d.digest, 'exists');
    return 'exists';
  }
  let start;
  if (from) {
    const fromScope = `${scope} repository:${from.path}:pull`;
    start = await client.send('POST', `/v2/${dst.path}/blobs/uploads/?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from.path)}`, { scope: fromScope });
    await start.body.dump();
    if (start.status === 201) {
      progress.done(d.digest, 'mounted');
      return 'mounted';
    }
  } else {
    start = await client.send('POST', `/v2/${dst.path}/blobs/uploads/`, { scope });
    await start.body.dump();
  }
  let location = locationOf(client, start.headers.location);
  const file = store.content.path(d.digest);
  progress.start(d.digest, d.size);
  const threshold = opts.chunkThreshold ?? 16 << 20;
  if (d.size <= threshold) {
    const put = await client.send('PUT', withDigest(location, d.digest), {
      scope,
      body: createReadStream(file),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(d.size) },
    });
    await put.body.dump();
    progress.advance(d.digest, d.size);
    progress.done(d.digest, 'done');
    return 'monolithic';
  }
  const chunk = Math.max(1, opts.chunkSize ?? 8 << 20);
  for (let off = 0; off < d.size; off += chunk) {
    const end = Math.min(d.size, off + chunk) - 1;
    const res = await client.send('PATCH', location, {
      scope,
      body: createReadStream(file, { start: off, end }),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${off}-${end}`, 'content-length': String(end - off + 1) },
    });
    await res.body.dump();
    if (res.status !== 202) throw new UnavailableError(`chunk upload of ${d.digest} answered ${res.status}`);
    location = locationOf(client, res.headers.location);
    progress.advance(d.digest, end - off + 1);
  }
  const fin = await client.send('PUT', withDigest(location, d.digest), { scope, headers: { 'content-length': '0' } });
  await fin.body.dump();
  progress.done(d.digest, 'done');
  return 'chunked';
}

function locationOf(client: RegistryClient, loc: string | string[] | undefined): string {
  const l = Array.isArray(loc) ? loc[0] : loc;
  if (!l) throw new UnavailableError(`${client.domain} started an upload without a Location`);
  return new URL(l, client.base).toString();
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}
