/**
 * Starts a throwaway single-member etcd (Debian etcd-server) on loopback with a temporary
 * data directory, for the etcd backend's tests and the store benchmark. `stop()` ends the
 * process and removes the directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { UnavailableError } from '../core/errors.js';

/** A running etcd. */
export interface EtcdProcess {
  /** The client URL, e.g. http://127.0.0.1:40123. */
  endpoint: string;
  /** Stops etcd and deletes its data. */
  stop(): Promise<void>;
}

/** A free loopback TCP port (the kernel picks; etcd binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts etcd (binary `etcd` on PATH unless given) and waits until its gateway answers. */
export async function startEtcd(binary = 'etcd'): Promise<EtcdProcess> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  const child: ChildProcess = spawn(binary, [
    '--name', 'skiff-test', '--data-dir', path.join(dir, 'data'),
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `skiff-test=http://127.0.0.1:${peer}`, '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-2000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let dead = false;
  void exited.then(() => (dead = true));
  const stop = async () => {
    if (!dead) {
      child.kill('SIGTERM');
      await exited;
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  child.once('error', () => (dead = true));
  for (let i = 0; i < 200; i++) {
    if (dead) break;
    try {
      const res = await request(`${endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}' });
      await res.body.text();
      if (res.statusCode === 200) return { endpoint, stop };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new UnavailableError(`etcd did not start: ${log.trim().split('\n').pop() ?? 'no output'}`);
}
