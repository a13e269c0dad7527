/**
 * The etcd backend against a real etcd 3.4 (Debian etcd-server) on loopback: the same
 * conformance suite as SQLite. Each test gets a fresh etcd (revisions and compaction are
 * global to an etcd, so tests must not share one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEtcdBackend } from '../src/store/etcd.js';
import { startEtcd, type EtcdProcess } from '../src/store/etcd-process.js';
import { backendConformance } from '../src/store/conformance.js';
import type { Backend } from '../src/store/types.js';

/** Wraps a backend so that closing it also stops its etcd. */
async function openFresh(): Promise<Backend> {
  const etcd: EtcdProcess = await startEtcd();
  const b = await openEtcdBackend(etcd.endpoint);
  const close = b.close.bind(b);
  b.close = async () => {
    await close();
    await etcd.stop();
  };
  return b;
}

backendConformance('etcd', openFresh);

test('etcd: an unreachable endpoint is a one-line UnavailableError', async () => {
  await assert.rejects(openEtcdBackend('http://127.0.0.1:9'), (e: Error & { code?: string }) =>
    e.code === 'UNAVAILABLE' && /unreachable/.test(e.message) && !e.message.includes('\n'));
});
