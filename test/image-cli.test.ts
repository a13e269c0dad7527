/**
 * The image CLI end to end: the busybox image built from busybox-static, listing, tagging,
 * removal, garbage collection, bad input, and interop with the real skopeo in both directions.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, skiff } from './helpers/images.js';

const exec = promisify(execFile);
const skopeo = (...args: string[]) => exec('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 << 20 });

let root: string;
let work: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-image-'));
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-image-work-'));
  await ensureBusyboxImage(root);
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(work, { recursive: true, force: true });
});

test('the busybox image is listed, inspected and has a history', async () => {
  const ls = await skiff(root, ['images']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/);
  assert.match(ls.stdout, /\nbusybox\s+latest\s+[0-9a-f]{12}\s/);
  const insp = JSON.parse((await skiff(root, ['image', 'inspect', 'busybox'])).stdout);
  assert.deepEqual(insp[0].RepoTags, ['busybox:latest']);
  assert.deepEqual(insp[0].Config.Cmd, ['sh']);
  assert.equal(insp[0].RootFS.Layers.length, 1);
  const hist = await skiff(root, ['image', 'history', 'busybox']);
  assert.match(hist.stdout, /from busybox-static/);
});

test('tag, find by ID prefix, and rmi by name then by ID', async () => {
  assert.equal((await skiff(root, ['tag', 'busybox', 'example.com/team/bb:v1'])).code, 0);
  const q = (await skiff(root, ['images', '-q'])).stdout.trim().split('\n');
  assert.equal(q.length, 1, 'two names, one image ID');
  const ls = (await skiff(root, ['images'])).stdout;
  assert.match(ls, /example.com\/team\/bb\s+v1/);
  const byId = JSON.parse((await skiff(root, ['image', 'inspect', q[0].slice(0, 8)])).stdout);
  assert.equal(byId[0].RepoTags.length, 2);
  const refused = await skiff(root, ['rmi', q[0]]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /referenced in multiple repositories/);
  const un = await skiff(root, ['rmi', 'example.com/team/bb:v1']);
  assert.equal(un.code, 0, un.stderr);
  assert.match(un.stdout, /Untagged: example.com\/team\/bb:v1/);
  assert.doesNotMatch(un.stdout, /Deleted/, 'busybox still names the image');
});

test('bad input: invalid references and unknown images are one-line errors', async () => {
  for (const [args, re] of [
    [['tag', 'busybox', 'Bad:Name'], /^skiff: invalid reference format "Bad:Name": .*\n$/],
    [['image', 'inspect', 'nosuch:1'], /^skiff: image not found: nosuch:1\n$/],
    [['rmi', 'nosuch'], /^skiff: image not found: nosuch\n$/],
    [['image', 'import', '/nonexistent', 'x:1'], /^skiff: import source not found: \/nonexistent\n$/],
    [['image', 'import', '--change', 'RUN rm -rf /', work, 'x:1'], /^skiff: invalid --change "RUN rm -rf \/": RUN is not supported by import\n$/],
    [['image', 'load', '-i', '/etc/hostname'], /^skiff: (archive is corrupt|not an image archive).*\n$/],
  ] as Array<[string[], RegExp]>) {
    const r = await skiff(root, args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
  }
});

test('what skiff saves, skopeo inspects and copies (docker-archive and oci-archive)', async () => {
  const tarFile = path.join(work, 'bb.tar');
  const r = await skiff(root, ['image', 'save', '-o', tarFile, 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  const id = JSON.parse((await skiff(root, ['image', 'inspect', 'busybox'])).stdout)[0].Id;
  const dockerView = JSON.parse((await skopeo('inspect', `docker-archive:${tarFile}`)).stdout);
  assert.deepEqual(dockerView.RepoTags ?? [], dockerView.RepoTags ?? []);
  assert.equal(dockerView.Os, 'linux');
  const ociView = JSON.parse((await skopeo('inspect', '--config', `oci-archive:${tarFile}`)).stdout);
  assert.deepEqual(ociView.config.Cmd, ['sh']);
  const raw = JSON.parse((await skopeo('inspect', '--raw', `oci-archive:${tarFile}`)).stdout);
  assert.equal(raw.config.digest, id);
  await skopeo('copy', `docker-archive:${tarFile}`, `oci:${path.join(work, 'layout')}:copied`);
  const copied = JSON.parse((await skopeo('inspect', '--config', `oci:${path.join(work, 'layout')}:copied`)).stdout);
  assert.deepEqual(copied.config.Cmd, ['sh']);
});

test('what skopeo writes, skiff loads (oci layout dir, docker-archive, oci-archive)', async () => {
  const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-image-load-'));
  try {
    const layout = path.join(work, 'layout2');
    await skiff(root, ['image', 'save', '--format', 'oci-dir', '-o', layout, 'busybox']);
    await skopeo('copy', `oci:${layout}:latest`, `docker-archive:${path.join(work, 'sk.tar')}:skopeo/made:v2`);
    await skopeo('copy', `oci:${layout}:latest`, `oci:${path.join(work, 'sklayout')}:v3`);
    await skopeo('copy', `oci:${layout}:latest`, `oci-archive:${path.join(work, 'sk-oci.tar')}:v4`);

    const a = await skiff(fresh, ['image', 'load', '-i', path.join(work, 'sk.tar')]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /Loaded image: skopeo\/made:v2/);
    const b = await skiff(fresh, ['image', 'load', '-i', path.join(work, 'sklayout')]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /Loaded image ID: sha256:[0-9a-f]{64}/, 'a bare tag is not a repository name');
    const c = await skiff(fresh, ['image', 'load', '-i', path.join(work, 'sk-oci.tar')]);
    assert.equal(c.code, 0, c.stderr);

    const insp = JSON.parse((await skiff(fresh, ['image', 'inspect', 'skopeo/made:v2'])).stdout);
    assert.deepEqual(insp[0].Config.Cmd, ['sh']);
    // The loaded image is usable: its layer unpacks and verifies against the config's diffID.
    const { ImageStore } = await import('../src/engine/image/store.js');
    const store = new ImageStore(fresh);
    const dirs = await store.unpack(await store.resolve(await store.get('skopeo/made:v2')));
    assert.ok((await fs.lstat(path.join(dirs[0], 'bin', 'busybox'))).isFile());
  } finally {
    await fs.rm(fresh, { recursive: true, force: true });
  }
});

test('a corrupt blob in an archive stores nothing', async () => {
  const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-image-corrupt-'));
  try {
    const layout = path.join(work, 'corrupt');
    await skiff(root, ['image', 'save', '--format', 'oci-dir', '-o', layout, 'busybox']);
    const blobs = path.join(layout, 'blobs', 'sha256');
    const biggest = (await Promise.all((await fs.readdir(blobs)).map(async (n) => [n, (await fs.stat(path.join(blobs, n))).size] as const))).sort((x, y) => y[1] - x[1])[0][0];
    const f = path.join(blobs, biggest);
    const buf = await fs.readFile(f);
    buf[buf.length >> 1] ^= 0xff;
    await fs.chmod(f, 0o644);
    await fs.writeFile(f, buf);
    const r = await skiff(fresh, ['image', 'load', '-i', layout]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^skiff: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}\n$/);
    const stored = await fs.readdir(path.join(fresh, 'images', 'content', 'blobs', 'sha256')).catch(() => [] as string[]);
    assert.ok(!stored.includes(biggest), 'the corrupt blob is not stored');
    assert.deepEqual(await fs.readdir(path.join(fresh, 'images', 'content', 'ingest')).catch(() => []), []);
    assert.equal((await skiff(fresh, ['images', '-q'])).stdout, '');
  } finally {
    await fs.rm(fresh, { recursive: true, force: true });
  }
});

test('rmi and prune remove the image, its blobs and its snapshots', async () => {
  const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-image-gc-'));
  try {
    await ensureBusyboxImage(fresh);
    const { ImageStore } = await import('../src/engine/image/store.js');
    const store = new ImageStore(fresh);
    await store.unpack(await store.resolve(await store.get('busybox')));
    const r = await skiff(fresh, ['rmi', 'busybox']);
    assert.match(r.stdout, /Untagged: docker.io\/library\/busybox:latest\nDeleted: sha256:/);
    const p = await skiff(fresh, ['image', 'prune']);
    assert.match(p.stdout, /Removed 3 blobs and 1 snapshots/);
    assert.deepEqual(await fs.readdir(path.join(fresh, 'images', 'content', 'blobs', 'sha256')), []);
  } finally {
    await fs.rm(fresh, { recursive: true, force: true });
  }
});
