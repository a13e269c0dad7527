/**
 * Layer unpacking against the real kernel: overlay whiteouts mounted for real, ownership,
 * modes, xattrs, links, and every way a malicious layer tries to escape its snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { getAttribute } from 'fs-xattr';
import { ImageStore } from '../src/engine/image/store.js';
import { MediaType, type ImageConfig, type Manifest } from '../src/engine/image/manifest.js';
import { digestOf } from '../src/engine/image/content.js';

type Entry = Partial<tar.Header> & { name: string; body?: string };

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const { body, ...h } = e;
    await new Promise<void>((res, rej) => pack.entry({ mode: 0o644, mtime: new Date(1_000_000_000_000), ...h } as tar.Header, body ?? '', (err) => (err ? rej(err) : res())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Stores an image whose layers are the given tars (gzip) and returns the store and its name. */
async function imageOf(layers: Buffer[], opts: { root?: string; name?: string; diffIDs?: string[]; layerType?: string } = {}) {
  const root = opts.root ?? await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-unpack-'));
  const store = new ImageStore(root);
  const descs = [];
  for (const l of layers) {
    const gz = gzipSync(l);
    descs.push({ mediaType: opts.layerType ?? MediaType.OciLayerGzip, digest: await store.content.put(gz), size: gz.length });
  }
  const config: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: opts.diffIDs ?? layers.map((l) => digestOf(l)) } };
  const cb = Buffer.from(JSON.stringify(config));
  const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: await store.content.put(cb), size: cb.length }, layers: descs };
  const mb = Buffer.from(JSON.stringify(manifest));
  const target = { mediaType: MediaType.OciManifest, digest: await store.content.put(mb), size: mb.length };
  const name = opts.name ?? 'test/image:1';
  // tag() resolves the image, which refuses unknown layer types: write the record directly then.
  await store.tag(name, target).catch(async (err) => {
    if (!opts.layerType) throw err;
  });
  return { root, store, target, name };
}

async function snapshotsLeft(root: string): Promise<string[]> {
  return (await fs.readdir(path.join(root, 'images', 'snapshots')).catch(() => [] as string[])).filter((n) => !n.endsWith('.lock'));
}

test('whiteouts and opaque directories hide lower files in a real overlay mount', async () => {
  const lower = await makeTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/keep', body: 'keep' },
    { name: 'etc/gone', body: 'gone' },
    { name: 'opaque/', type: 'directory', mode: 0o755 },
    { name: 'opaque/old', body: 'old' },
  ]);
  const upper = await makeTar([
    { name: 'etc/.wh.gone', body: '' },
    { name: 'opaque/.wh..wh..opq', body: '' },
    { name: 'opaque/new', body: 'new' },
  ]);
  const { root, store, name } = await imageOf([lower, upper]);
  const dirs = await store.unpack(await store.resolve(await store.get(name)));
  assert.equal(dirs.length, 2);
  const wh = await fs.lstat(path.join(dirs[0], 'etc', 'gone'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0:0 character device');
  assert.equal((await getAttribute(path.join(dirs[0], 'opaque'), 'trusted.overlay.opaque')).toString(), 'y');

  const merged = path.join(root, 'merged');
  await fs.mkdir(merged);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dirs.join(':')}`, merged]);
  try {
    assert.deepEqual((await fs.readdir(path.join(merged, 'etc'))).sort(), ['keep']);
    assert.deepEqual((await fs.readdir(path.join(merged, 'opaque'))).sort(), ['new']);
  } finally {
    execFileSync('umount', [merged]);
  }
  await fs.rm(root, { recursive: true, force: true });
});

test('owners, modes, mtimes, xattrs, symlinks, hardlinks and fifos are kept', async () => {
  const layer = await makeTar([
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'bin/tool', body: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1001 },
    { name: 'bin/alias', type: 'symlink', linkname: '/bin/tool' },
    { name: 'bin/hard', type: 'link', linkname: 'bin/tool' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'pipe', type: 'fifo', mode: 0o600 },
    { name: 'attr', body: 'x', pax: { 'SCHILY.xattr.user.skiff': 'hello' } },
  ]);
  const { root, store, name } = await imageOf([layer]);
  const [dir] = await store.unpack(await store.resolve(await store.get(name)));
  const tool = await fs.lstat(path.join(dir, 'bin/tool'));
  assert.equal(tool.mode & 0o7777, 0o4755);
  assert.equal(tool.uid, 1000);
  assert.equal(tool.gid, 1001);
  assert.equal(tool.mtimeMs, 1_000_000_000_000);
  assert.equal(tool.nlink, 2);
  assert.equal((await fs.lstat(path.join(dir, 'bin/hard'))).ino, tool.ino);
  assert.equal(await fs.readlink(path.join(dir, 'bin/alias')), '/bin/tool');
  assert.equal((await fs.lstat(path.join(dir, 'tmp'))).mode & 0o7777, 0o1777);
  assert.ok((await fs.lstat(path.join(dir, 'pipe'))).isFIFO());
  assert.equal((await getAttribute(path.join(dir, 'attr'), 'user.skiff')).toString(), 'hello');
  await fs.rm(root, { recursive: true, force: true });
});

test('malicious layers are refused and leave nothing behind', async () => {
  const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-outside-'));
  const cases: Array<[string, Entry[], RegExp]> = [
    ['dot-dot', [{ name: '../escape', body: 'x' }], /outside the layer/],
    ['nested dot-dot', [{ name: 'a/../../escape', body: 'x' }], /outside the layer/],
    ['absolute', [{ name: '/etc/escape', body: 'x' }], /absolute path/],
    ['through a symlink', [{ name: 'link', type: 'symlink', linkname: outside }, { name: 'link/escape', body: 'x' }], /through a symlink/],
    ['through a relative symlink', [{ name: 'up', type: 'symlink', linkname: '../../../../../..' + outside }, { name: 'up/escape', body: 'x' }], /through a symlink/],
    ['hardlink out', [{ name: 'h', type: 'link', linkname: '../../../etc/passwd' }], /outside the layer/],
    ['whiteout out', [{ name: '../.wh.x', body: '' }], /outside the layer/],
  ];
  for (const [what, entries, re] of cases) {
    const { root, store, name } = await imageOf([await makeTar(entries)]);
    await assert.rejects(store.unpack(await store.resolve(await store.get(name))), re, what);
    assert.deepEqual(await snapshotsLeft(root), [], `${what}: no snapshot left`);
    await fs.rm(root, { recursive: true, force: true });
  }
  assert.deepEqual(await fs.readdir(outside), [], 'nothing was written outside');
  await fs.rm(outside, { recursive: true });
});

test('a truncated layer or a wrong diffID leaves nothing behind', async () => {
  const good = await makeTar([{ name: 'f', body: randomBytes(50_000).toString('hex') }]);
  {
    const { root, store, name } = await imageOf([good], { diffIDs: [digestOf('other')] });
    await assert.rejects(store.unpack(await store.resolve(await store.get(name))), /diffID mismatch/);
    assert.deepEqual(await snapshotsLeft(root), []);
  }
  {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-unpack-'));
    const store = new ImageStore(root);
    const gz = gzipSync(good).subarray(0, 20_000); // the blob is stored whole, but its gzip stream is cut
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(good)] } }));
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: await store.content.put(cfg), size: cfg.length }, layers: [{ mediaType: MediaType.OciLayerGzip, digest: await store.content.put(gz), size: gz.length }] }));
    await store.tag('trunc:1', { mediaType: MediaType.OciManifest, digest: await store.content.put(m), size: m.length });
    await assert.rejects(store.unpack(await store.resolve(await store.get('trunc:1'))), /corrupt or truncated/);
    assert.deepEqual(await snapshotsLeft(root), []);
  }
});

test('an unknown layer media type is refused', async () => {
  const layer = await makeTar([{ name: 'f', body: 'x' }]);
  const { store, target } = await imageOf([layer], { layerType: 'application/vnd.example.layer.v1+weird' });
  await assert.rejects(store.tag('weird:1', target), /unsupported layer media type/);
});

test('a layer shared by two images is unpacked once, even concurrently', async () => {
  const base = await makeTar([{ name: 'shared', body: 'base' }]);
  const { root, store, name } = await imageOf([base, await makeTar([{ name: 'a', body: 'a' }])], { name: 'one:1' });
  await imageOf([base, await makeTar([{ name: 'b', body: 'b' }])], { root, name: 'two:1' });
  const [d1, d2] = await Promise.all([
    store.resolve(await store.get('one:1')).then((i) => store.unpack(i)),
    store.resolve(await store.get('two:1')).then((i) => store.unpack(i)),
  ]);
  assert.equal(d1[1], d2[1], 'the base snapshot is the same directory');
  assert.notEqual(d1[0], d2[0]);
  assert.equal((await snapshotsLeft(root)).length, 3);
  void name;
});

test('zstd layers unpack and verify like gzip ones', async () => {
  const layer = await makeTar([{ name: 'z/', type: 'directory', mode: 0o755 }, { name: 'z/file', body: 'zstd '.repeat(1000) }]);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-unpack-'));
  const store = new ImageStore(root);
  const zst = execFileSync('zstd', ['-q', '-c'], { input: layer });
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }));
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: await store.content.put(cfg), size: cfg.length }, layers: [{ mediaType: MediaType.OciLayerZstd, digest: await store.content.put(zst), size: zst.length }] }));
  await store.tag('zstd:1', { mediaType: MediaType.OciManifest, digest: await store.content.put(m), size: m.length });
  const [dir] = await store.unpack(await store.resolve(await store.get('zstd:1')));
  assert.equal(await fs.readFile(path.join(dir, 'z/file'), 'utf8'), 'zstd '.repeat(1000));
  await fs.rm(root, { recursive: true, force: true });
});
