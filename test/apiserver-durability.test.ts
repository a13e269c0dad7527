/**
 * Durability: writers create objects through the API while `skiff server` (SQLite store) is
 * killed with SIGKILL at a random moment; after a restart every write the server had
 * acknowledged is there, with the content that was acknowledged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../src/client/client.js';
import { HAVE_SQLITE } from './helpers/apiserver.js';

const SKIFF = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cmd/skiff.js');
const CM = { group: '', version: 'v1', resource: 'configmaps' };

async function start(root: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [SKIFF, '--root', root, 'server', '--port', '0', '--store', `sqlite://${path.join(root, 'state.db')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((ok, fail) => {
    proc.stdout!.on('data', (d) => { out += d; if (out.includes('kubeconfig:')) ok(); });
    proc.once('exit', (code) => fail(new Error(`skiff server exited ${code}: ${err}`)));
  });
  return proc;
}

test('every acknowledged write survives SIGKILL of the server', { skip: HAVE_SQLITE ? false : 'the SQLite backend (src/store/sqlite.ts) is not built yet' }, async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-durable-'));
  let proc: ChildProcess | undefined;
  try {
    proc = await start(root);
    const c = await ApiClient.fromKubeconfig(path.join(root, 'kubeconfig.yaml'));
    const acked = new Map<string, string>();
    const inflight = new Map<string, string>(); // an update cut by the kill may or may not have landed
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `d-${w}-${i}`;
        try {
          await c.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v: `${w}:${i}` } });
          acked.set(name, `${w}:${i}`);
          if (i % 3 === 2) { // updates too: the acknowledged content must be the latest
            const prev = `d-${w}-${i - 1}`;
            const cur = await c.get(CM, 'default', prev);
            inflight.set(prev, `updated ${w}:${i}`);
            await c.update(CM, 'default', { ...cur, data: { v: `updated ${w}:${i}` } });
            acked.set(prev, `updated ${w}:${i}`);
          }
        } catch {
          return; // the server is gone: this write was never acknowledged
        }
      }
    });
    await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 1200)));
    proc.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    c.close();
    await new Promise((r) => (proc!.exitCode !== null || proc!.signalCode ? r(undefined) : proc!.once('exit', r)));
    assert.ok(acked.size > 10, `only ${acked.size} writes were acknowledged before the kill`);

    proc = await start(root);
    const c2 = await ApiClient.fromKubeconfig(path.join(root, 'kubeconfig.yaml'));
    const items = new Map((await c2.list(CM, 'default')).items.map((x) => [x.metadata.name!, x.data?.v]));
    c2.close();
    const lost = [...acked].filter(([n, v]) => items.get(n) !== v && items.get(n) !== inflight.get(n));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged writes lost or stale`);
  } finally {
    proc?.kill('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  }
});
