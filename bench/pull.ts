/**
 * Image pull benchmark: a ~50 MB image of five layers (random, incompressible data) in a
 * local docker-registry, pulled by Skiff and by `skopeo copy` (to a local dir) in the same
 * run, each round into a fresh destination; `podman pull` (which, like `skiff pull`, also
 * unpacks into overlay storage) is the peer for the CLI figure. Prints medians and ratios to
 * skopeo.
 *
 *   npm run build && node dist/bench/pull.js [--rounds N]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { ImageStore } from '../src/engine/image/store.js';
import { MediaType } from '../src/engine/image/manifest.js';
import { digestOf } from '../src/engine/image/content.js';
import { push } from '../src/engine/image/registry/push.js';
import { pull } from '../src/engine/image/registry/pull.js';
import { startRegistry } from '../test/helpers/registry.js';
import { SKIFF } from '../test/helpers/images.js';

const exec = promisify(execFile);
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;

async function layerTar(bytes: number, name: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  pack.entry({ name: `data/${name}`, mode: 0o644 }, randomBytes(bytes));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-pull-'));
  const reg = await startRegistry();
  try {
    const srcRoot = path.join(work, 'src');
    const store = new ImageStore(srcRoot);
    const sizes = [20, 12, 8, 6, 4].map((m) => m * 1_000_000);
    const tars = await Promise.all(sizes.map((s, i) => layerTar(s, `layer${i}`)));
    const layers = [];
    for (const t of tars) {
      const gz = gzipSync(t, { level: 1 });
      layers.push({ mediaType: MediaType.OciLayerGzip, digest: await store.content.put(gz), size: gz.length });
    }
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: tars.map((t) => digestOf(t)) } }));
    const man = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: await store.content.put(cfg), size: cfg.length }, layers }));
    const ref = `${reg.host}/bench/big:1`;
    await store.tag(ref, { mediaType: MediaType.OciManifest, digest: await store.content.put(man), size: man.length });
    await push(store, ref);
    const total = layers.reduce((n, l) => n + l.size, 0);
    console.log(`image: ${layers.length} layers, ${(total / 1e6).toFixed(1)} MB compressed, registry ${reg.host}`);

    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS; // see docs/benchmarks.md: it costs every node start ~60 ms
    const results: Record<string, number[]> = { 'skiff pull (library, download+verify)': [], 'skiff pull (CLI, download+verify+unpack)': [], 'skopeo copy docker:// dir:': [], 'podman pull (download+unpack)': [] };
    for (let i = 0; i < rounds; i++) {
      results['skiff pull (library, download+verify)'].push(await timed(() => pull(new ImageStore(path.join(work, `lib${i}`)), ref, { unpack: false })));
      results['skiff pull (CLI, download+verify+unpack)'].push(await timed(() => exec(process.execPath, [SKIFF, '--root', path.join(work, `cli${i}`), 'pull', '-q', ref], { env })));
      results['skopeo copy docker:// dir:'].push(await timed(() => exec('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${path.join(work, `skopeo${i}`)}`], { env })));
      const pr = path.join(work, `podman${i}`);
      results['podman pull (download+unpack)'].push(await timed(() => exec('podman', ['--root', `${pr}/root`, '--runroot', `${pr}/run`, '--storage-driver', 'overlay', 'pull', '-q', '--tls-verify=false', ref], { env })));
      await exec('umount', [`${pr}/root/overlay`]).catch(() => {}); // podman leaves its storage mounted
      for (const d of [`lib${i}`, `cli${i}`, `skopeo${i}`, `podman${i}`]) await fs.rm(path.join(work, d), { recursive: true, force: true });
    }
    // Unpacking alone: the 20 MB layer by Skiff's unpacker against GNU tar, same blob.
    const { unpackLayer } = await import('../src/engine/image/unpack.js');
    const { createReadStream } = await import('node:fs');
    const blob = store.content.path(layers[0].digest);
    const unpackRes: Record<string, number[]> = { 'skiff unpack of the 20 MB layer': [], 'tar -xzf of the same blob': [] };
    for (let i = 0; i < rounds; i++) {
      const a = path.join(work, `unpack${i}`);
      const b = path.join(work, `tar${i}`);
      await fs.mkdir(a);
      await fs.mkdir(b);
      unpackRes['skiff unpack of the 20 MB layer'].push(await timed(() => unpackLayer(createReadStream(blob), 'gzip', a)));
      unpackRes['tar -xzf of the same blob'].push(await timed(() => exec('tar', ['-xzf', blob, '-C', b])));
      await fs.rm(a, { recursive: true, force: true });
      await fs.rm(b, { recursive: true, force: true });
    }
    const base = median(results['skopeo copy docker:// dir:']);
    console.log(`\n${'what'.padEnd(44)} ${'median ms'.padStart(10)} ${'ratio'.padStart(7)}   (${rounds} rounds)`);
    for (const [k, v] of Object.entries(results)) {
      console.log(`${k.padEnd(44)} ${median(v).toFixed(0).padStart(10)} ${(median(v) / base).toFixed(2).padStart(7)}`);
    }
    const tarBase = median(unpackRes['tar -xzf of the same blob']);
    console.log(`\n${'unpack'.padEnd(44)} ${'median ms'.padStart(10)} ${'x tar'.padStart(7)}`);
    for (const [k, v] of Object.entries(unpackRes)) {
      console.log(`${k.padEnd(44)} ${median(v).toFixed(0).padStart(10)} ${(median(v) / tarBase).toFixed(2).padStart(7)}`);
    }
  } finally {
    await reg.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
}

await main();
