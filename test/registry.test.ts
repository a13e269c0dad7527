/**
 * The registry client against a real registry (Debian's docker-registry on 127.0.0.1): push
 * and pull round trips (monolithic, chunked, cross-repository mounts), Basic and token auth,
 * errors (401, 404, 500), a connection dropped mid-blob, platform selection from an index,
 * and skopeo reading what skiff pushed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, skiff, SKIFF } from './helpers/images.js';
import { startRegistry, startFaultyProxy, type TestRegistry } from './helpers/registry.js';
import { ImageStore } from '../src/engine/image/store.js';
import { push } from '../src/engine/image/registry/push.js';
import { pull } from '../src/engine/image/registry/pull.js';
import { RegistryClient } from '../src/engine/image/registry/client.js';
import { MediaType } from '../src/engine/image/manifest.js';

const exec = promisify(execFile);
let src: string; // a data root holding the busybox image
const roots: string[] = [];
const registries: TestRegistry[] = [];

async function freshRoot(): Promise<string> {
  const r = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-reg-'));
  roots.push(r);
  return r;
}

async function registry(auth: 'none' | 'htpasswd' | 'token' = 'none'): Promise<TestRegistry> {
  const r = await startRegistry({ auth });
  registries.push(r);
  return r;
}

before(async () => {
  src = await freshRoot();
  await ensureBusyboxImage(src);
});

after(async () => {
  for (const r of registries) await r.stop();
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

test('push then pull round trip, verified by skopeo; a second push skips every blob', async () => {
  const reg = await registry();
  const ref = `${reg.host}/skiff/busybox:v1`;
  assert.equal((await skiff(src, ['tag', 'busybox', ref])).code, 0);
  const p = await skiff(src, ['push', ref]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /digest: sha256:[0-9a-f]{64}/);
  assert.match(p.stderr, /Copying blob sha256:[0-9a-f]{12} done/, 'plain progress lines when not a terminal');
  const inspected = JSON.parse((await exec('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout);
  assert.equal(inspected.Digest, p.stdout.trim().split('digest: ')[1]);

  const again = await push(new ImageStore(src), ref);
  assert.deepEqual(new Set(Object.values(again.blobs)), new Set(['exists']));

  const dst = await freshRoot();
  const r = await skiff(dst, ['pull', ref]);
  assert.equal(r.code, 0, r.stderr);
  const local = JSON.parse((await skiff(src, ['image', 'inspect', 'busybox'])).stdout)[0];
  const pulled = JSON.parse((await skiff(dst, ['image', 'inspect', ref])).stdout)[0];
  assert.equal(pulled.Id, local.Id);
  const store = new ImageStore(dst);
  const [snap] = await store.unpack(await store.resolve(await store.get(ref)));
  assert.ok((await fs.stat(path.join(snap, 'bin', 'busybox'))).isFile(), 'pull unpacked the layer');
  // A pull of what is already present downloads nothing.
  const again2 = await skiff(dst, ['pull', ref]);
  assert.match(again2.stderr, /already exists/);
});

test('chunked upload and cross-repository mount', async () => {
  const reg = await registry();
  const store = new ImageStore(src);
  const a = `${reg.host}/team/a:1`;
  await store.tag(a, (await store.get('busybox')).target);
  const first = await push(store, a, undefined, { chunkThreshold: 100_000, chunkSize: 300_000 });
  assert.ok(Object.values(first.blobs).includes('chunked'), JSON.stringify(first.blobs));
  const b = `${reg.host}/team/b:1`;
  await store.tag(b, (await store.get('busybox')).target);
  const second = await push(store, b);
  assert.ok(Object.values(second.blobs).every((v) => v === 'mounted'), JSON.stringify(second.blobs));
  const dst = await freshRoot();
  const rec = await pull(new ImageStore(dst), b);
  assert.equal(rec.id, (await store.get('busybox')).id);
});

test('Basic auth (htpasswd): 401 without login, refused bad password, login stored 0600', async () => {
  const reg = await registry('htpasswd');
  const ref = `${reg.host}/private/bb:1`;
  await skiff(src, ['tag', 'busybox', ref]);
  const anon = await skiff(src, ['push', ref]);
  assert.notEqual(anon.code, 0);
  assert.equal(anon.stderr, `skiff: unauthorized: authentication required by ${reg.host} (try skiff login ${reg.host})\n`);
  const bad = await skiff(src, ['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'nope\n' });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^skiff: unauthorized/);
  const good = await skiff(src, ['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'wonderland\n' });
  assert.equal(good.code, 0, good.stderr);
  const st = await fs.stat(path.join(src, 'auth.json'));
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal((await skiff(src, ['push', ref])).code, 0);
  const dst = await freshRoot();
  assert.notEqual((await skiff(dst, ['pull', ref])).code, 0, 'another root has no credentials');
  assert.equal((await skiff(src, ['logout', reg.host])).code, 0);
  assert.notEqual((await skiff(src, ['logout', reg.host])).code, 0);
});

test('Bearer token auth against a token server the registry trusts', async () => {
  const reg = await registry('token');
  const ref = `${reg.host}/tok/bb:1`;
  const store = new ImageStore(src);
  await store.tag(ref, (await store.get('busybox')).target);
  await assert.rejects(push(store, ref), /unauthorized/);
  const creds = { username: 'alice', password: 'wonderland' };
  await push(store, ref, undefined, { credentials: creds });
  const dst = await freshRoot();
  await assert.rejects(pull(new ImageStore(dst), ref), /unauthorized/);
  const rec = await pull(new ImageStore(dst), ref, { credentials: creds });
  assert.equal(rec.id, (await store.get('busybox')).id);
});

test('404 and 500 answers are one-line errors; nothing is recorded', async () => {
  const reg = await registry();
  const dst = await freshRoot();
  const r = await skiff(dst, ['pull', `${reg.host}/nothing/here:1`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^skiff: (manifest unknown|name unknown)[^\n]*\n$/);
  const ref = `${reg.host}/srv/bb:1`;
  await push(new ImageStore(src), 'busybox', ref);
  const proxy = await startFaultyProxy(reg.host, { fail500: true });
  try {
    await assert.rejects(pull(new ImageStore(dst), ref.replace(reg.host, proxy.host), { retries: 2 }), /injected failure/);
  } finally {
    await proxy.stop();
  }
  assert.equal((await skiff(dst, ['images', '-q'])).stdout, '');
});

test('a connection dropped mid-blob is resumed with a Range request and the pull completes', async () => {
  const reg = await registry();
  const ref = `${reg.host}/drop/bb:1`;
  await push(new ImageStore(src), 'busybox', ref);
  const proxy = await startFaultyProxy(reg.host, { cutAfter: 200_000 });
  try {
    const dst = await freshRoot();
    const rec = await pull(new ImageStore(dst), ref.replace(reg.host, proxy.host));
    assert.equal(rec.id, (await new ImageStore(src).get('busybox')).id);
    assert.ok(proxy.seen.some((s) => /^bytes=[1-9][0-9]*-$/.test(s.range ?? '')), JSON.stringify(proxy.seen));
  } finally {
    await proxy.stop();
  }
});

test('an image index: this platform is chosen, --platform picks another, a missing one is an error', async () => {
  const reg = await registry();
  const store = new ImageStore(src);
  const amd = await store.resolve(await store.get('busybox'));
  const base = `${reg.host}/multi/bb`;
  await push(store, 'busybox', `${base}:amd64`);
  // An arm64 variant: the same layer under a config that says arm64.
  const armConfig = Buffer.from(JSON.stringify({ ...amd.config, architecture: 'arm64' }));
  const client = new RegistryClient(reg.host);
  const up = async (body: Buffer, type: string, tag: string) => {
    const r = await client.send('PUT', `/v2/multi/bb/manifests/${tag}`, { body, headers: { 'content-type': type } });
    await r.body.dump();
  };
  const start = await client.send('POST', '/v2/multi/bb/blobs/uploads/');
  await start.body.dump();
  const loc = new URL(String(start.headers.location), client.base);
  const { digestOf } = await import('../src/engine/image/content.js');
  loc.searchParams.set('digest', digestOf(armConfig));
  await (await client.send('PUT', loc.toString(), { body: armConfig })).body.dump();
  const armManifest = Buffer.from(JSON.stringify({ ...amd.manifest, config: { mediaType: MediaType.OciConfig, digest: digestOf(armConfig), size: armConfig.length } }));
  await up(armManifest, MediaType.OciManifest, 'arm64');
  const amdBytes = await store.content.read(amd.manifestDigest);
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [
      { mediaType: MediaType.OciManifest, digest: digestOf(armManifest), size: armManifest.length, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: MediaType.OciManifest, digest: amd.manifestDigest, size: amdBytes.length, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  }));
  await up(index, MediaType.OciIndex, 'multi');
  const onlyArm = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [JSON.parse(index.toString()).manifests[0]] }));
  await up(onlyArm, MediaType.OciIndex, 'armonly');

  const dst = await freshRoot();
  const r1 = await skiff(dst, ['pull', '-q', `${base}:multi`]);
  assert.equal(r1.stdout.trim(), amd.id);
  const r2 = await skiff(dst, ['pull', '-q', '--platform', 'linux/arm64', `${base}:multi`]);
  assert.equal(r2.stdout.trim(), digestOf(armConfig));
  const r3 = await skiff(dst, ['pull', `${base}:armonly`]);
  assert.notEqual(r3.code, 0);
  assert.match(r3.stderr, /^skiff: no image for platform linux\/amd64 \(the index has: linux\/arm64\)\n$/);
  const r4 = await skiff(dst, ['pull', '--platform', 'linux', `${base}:multi`]);
  assert.match(r4.stderr, /^skiff: invalid platform "linux"/);
});

test('progress bars on a terminal', async () => {
  const reg = await registry();
  const ref = `${reg.host}/tty/bb:1`;
  await push(new ImageStore(src), 'busybox', ref);
  const dst = await freshRoot();
  // script(1) gives the pull a pseudo-terminal, as a user's shell would.
  const { stdout } = await exec('script', ['-qec', `${process.execPath} ${SKIFF} --root ${dst} pull ${ref}`, '/dev/null']);
  assert.match(stdout, /\[[█░]+\] 100%/, 'a bar per layer');
  assert.doesNotMatch(stdout, /Copying blob/);
});
