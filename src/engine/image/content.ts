/**
 * The content store: blobs addressed by their sha256 digest, as in containerd and the OCI
 * image layout (`blobs/sha256/<hex>`).
 *
 * Contract: a blob is visible under its digest only once all of its bytes have been written,
 * fsynced and verified against that digest (and size, when known). Writers stream into
 * `ingest/`, which survives a crash so that an interrupted download can resume; nothing in
 * `ingest/` is ever read as content. Writing a blob that already exists is a no-op.
 */
import fs from 'node:fs/promises';
import { createReadStream, type ReadStream } from 'node:fs';
import path from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import { DataLossError, InvalidArgumentError, NotFoundError, isENOENT } from '../../core/errors.js';
import { fsyncDir } from '../../lib/atomic.js';

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

/** An OCI platform (image index entries carry one). */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

const SHA256 = /^sha256:[0-9a-f]{64}$/;

/** Throws InvalidArgumentError unless `digest` is a well-formed sha256 digest. */
export function assertDigest(digest: string): void {
  if (!SHA256.test(digest)) throw new InvalidArgumentError(`unsupported or malformed digest "${digest}"`);
}

/** The sha256 digest of a buffer, as `sha256:<hex>`. */
export function digestOf(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** A blob being written: append bytes, then commit (verify + publish) or abort. */
export interface IngestWriter {
  /** Bytes already present (non-zero when resuming an interrupted ingest). */
  readonly offset: number;
  /** Appends bytes. */
  write(chunk: Uint8Array): Promise<void>;
  /** Verifies digest and size, then makes the blob visible. Throws DataLossError on mismatch. */
  commit(): Promise<void>;
  /** Drops the partial data. */
  abort(): Promise<void>;
  /** Closes the file but keeps partial data so a later `ingest` of the same digest resumes. */
  suspend(): Promise<void>;
}

/** A content-addressed blob store rooted at a directory. */
export class ContentStore {
  /** Directory holding `blobs/` and `ingest/`. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The file path a digest's blob lives at (whether or not it exists). */
  path(digest: string): string {
    assertDigest(digest);
    return path.join(this.dir, 'blobs', 'sha256', digest.slice(7));
  }

  /** True when the blob is stored. */
  async has(digest: string): Promise<boolean> {
    try {
      await fs.access(this.path(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** Size of a stored blob; NotFoundError when absent. */
  async size(digest: string): Promise<number> {
    try {
      return (await fs.stat(this.path(digest))).size;
    } catch (err) {
      if (isENOENT(err)) throw new NotFoundError(`blob ${digest} not found`);
      throw err;
    }
  }

  /** Reads a whole blob. */
  async read(digest: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.path(digest));
    } catch (err) {
      if (isENOENT(err)) throw new NotFoundError(`blob ${digest} not found`);
      throw err;
    }
  }

  /** Reads and parses a JSON blob (manifests, indexes, configs). */
  async readJson<T>(digest: string): Promise<T> {
    const buf = await this.read(digest);
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch (err) {
      throw new DataLossError(`blob ${digest} is not valid JSON`, { cause: err });
    }
  }

  /** A read stream over a stored blob. */
  async stream(digest: string): Promise<ReadStream> {
    await this.size(digest);
    return createReadStream(this.path(digest));
  }

  /** Stores a buffer (its digest is computed) and returns its digest. */
  async put(data: Uint8Array | string, expected?: string): Promise<string> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = digestOf(buf);
    if (expected && expected !== digest) {
      throw new DataLossError(`digest mismatch: expected ${expected}, got ${digest}`);
    }
    if (await this.has(digest)) return digest;
    const w = await this.ingest(digest, buf.length, { resume: false });
    try {
      await w.write(buf);
      await w.commit();
    } catch (err) {
      await w.abort();
      throw err;
    }
    return digest;
  }

  /**
   * Stores everything `source` yields under `digest`, verifying digest and size. A source that
   * fails midway leaves nothing visible.
   */
  async putStream(digest: string, source: AsyncIterable<Uint8Array>, size?: number): Promise<void> {
    if (await this.has(digest)) {
      for await (const _ of source) { /* drain */ }
      return;
    }
    const w = await this.ingest(digest, size, { resume: false });
    try {
      for await (const chunk of source) await w.write(chunk);
      await w.commit();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  /**
   * Stores a stream whose digest is not known in advance (a layer being built): it is hashed
   * while written to a temporary ingest file, then published under its digest.
   */
  async putUnknown(source: AsyncIterable<Uint8Array>): Promise<{ digest: string; size: number }> {
    const ingestDir = path.join(this.dir, 'ingest');
    await fs.mkdir(ingestDir, { recursive: true });
    const tmp = path.join(ingestDir, `anon-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const hash = createHash('sha256');
    let size = 0;
    const fh = await fs.open(tmp, 'w', 0o644);
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const digest = 'sha256:' + hash.digest('hex');
    await publish(tmp, this.path(digest));
    return { digest, size };
  }

  /**
   * Opens a writer for `digest`. With `resume` (the default) a partial ingest left by an
   * interrupted earlier write is continued from its end; its bytes are re-hashed first.
   */
  async ingest(digest: string, size?: number, opts: { resume?: boolean } = {}): Promise<IngestWriter> {
    const target = this.path(digest);
    const ingestDir = path.join(this.dir, 'ingest');
    await fs.mkdir(ingestDir, { recursive: true });
    await fs.mkdir(path.dirname(target), { recursive: true });
    // One partial file per digest; a unique suffix when not resuming keeps concurrent
    // writers of the same blob from interleaving.
    const partial = opts.resume === false
      ? path.join(ingestDir, `${digest.slice(7)}.${process.pid}.${Math.random().toString(36).slice(2)}`)
      : path.join(ingestDir, digest.slice(7));
    const hash = createHash('sha256');
    let offset = 0;
    if (opts.resume !== false) {
      try {
        for await (const chunk of createReadStream(partial)) {
          hash.update(chunk as Buffer);
          offset += (chunk as Buffer).length;
        }
      } catch (err) {
        if (!isENOENT(err)) throw err;
      }
      if (size !== undefined && offset > size) {
        await fs.rm(partial, { force: true });
        hash.destroy?.();
        return this.ingest(digest, size, opts);
      }
    }
    const fh = await fs.open(partial, offset > 0 ? 'a' : 'w', 0o644);
    return new Writer(fh, partial, target, digest, size, hash, offset);
  }

  /** Removes a blob; a missing blob is not an error. */
  async delete(digest: string): Promise<void> {
    await fs.rm(this.path(digest), { force: true });
  }

  /** Every stored blob's digest. */
  async list(): Promise<string[]> {
    try {
      const names = await fs.readdir(path.join(this.dir, 'blobs', 'sha256'));
      return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
    } catch (err) {
      if (isENOENT(err)) return [];
      throw err;
    }
  }

  /** Removes abandoned partial ingests older than `maxAgeMs`. */
  async cleanIngest(maxAgeMs = 24 * 3600_000): Promise<number> {
    const dir = path.join(this.dir, 'ingest');
    let removed = 0;
    let names: string[] = [];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
    for (const n of names) {
      const p = path.join(dir, n);
      const st = await fs.stat(p).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs >= maxAgeMs) {
        await fs.rm(p, { force: true });
        removed++;
      }
    }
    return removed;
  }
}

class Writer implements IngestWriter {
  private written: number;
  private closed = false;
  constructor(
    private fh: fs.FileHandle,
    private partial: string,
    private target: string,
    private digest: string,
    private size: number | undefined,
    private hash: Hash,
    readonly offset: number,
  ) {
    this.written = offset;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.written += chunk.length;
    if (this.size !== undefined && this.written > this.size) {
      throw new DataLossError(`blob ${this.digest} is larger than its declared size ${this.size}`);
    }
    this.hash.update(chunk);
    await this.fh.write(chunk);
  }

  async commit(): Promise<void> {
    if (this.size !== undefined && this.written !== this.size) {
      await this.abort();
      throw new DataLossError(`blob ${this.digest}: expected ${this.size} bytes, got ${this.written}`);
    }
    const actual = 'sha256:' + this.hash.digest('hex');
    if (actual !== this.digest) {
      await this.abort();
      throw new DataLossError(`digest mismatch: expected ${this.digest}, got ${actual}`);
    }
    await this.fh.sync();
    await this.close();
    await publish(this.partial, this.target);
  }

  async abort(): Promise<void> {
    await this.close();
    await fs.rm(this.partial, { force: true });
  }

  async suspend(): Promise<void> {
    await this.fh.sync().catch(() => {});
    await this.close();
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}

/** Makes a finished, fsynced ingest file visible as a read-only blob, durably. */
async function publish(tmp: string, target: string): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.chmod(tmp, 0o444);
  await fs.rename(tmp, target);
  await fsyncDir(path.dirname(target));
}
