/**
 * Test helpers for the API server: start one in-process server on a free port under a temp
 * data root (SQLite store when the backend is built, else memory), run real kubectl binaries
 * against it with a private HOME (so discovery caches never leak between runs), and clean up.
 */
import fs from 'node:fs/promises';
import { existsSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../src/apiserver/server.js';

/** Where the kubectl.1.27 … kubectl.1.33 binaries live (beside the kubectl on PATH). */
export const KUBECTL_DIR = (() => {
  try {
    const which = execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
    return path.dirname(path.resolve(path.dirname(which), readlinkSync(which)));
  } catch {
    return '/usr/bin';
  }
})();

/** The path of kubectl of a minor version ("1.27"). */
export const kubectlBin = (v: string) => path.join(KUBECTL_DIR, `kubectl.${v}`);

/** True when the SQLite backend is built (the durable store). */
export const HAVE_SQLITE = existsSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/store/sqlite.js'));

/** A server started for a test file. */
export interface TestServer extends ApiServer {
  root: string;
  /** Runs kubectl of version `v` with `args`; never throws on a non-zero exit. */
  kubectl(v: string, args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Stops the server and removes its data root. */
  stop(): Promise<void>;
}

/** Starts a server under a fresh temp root. */
export async function startTestServer(opts: Partial<ApiServerOptions> = {}): Promise<TestServer> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-api-'));
  const store = opts.store ?? (HAVE_SQLITE ? `sqlite://${path.join(root, 'state.db')}` : 'memory://');
  const server = await startApiServer({ root, port: 0, ...opts, store });
  const homes = new Map<string, string>();
  return {
    ...server,
    root,
    close: () => server.close(),
    async kubectl(v, args, o = {}) {
      if (!homes.has(v)) {
        const h = path.join(root, `home-${v}`);
        await fs.mkdir(h, { recursive: true });
        homes.set(v, h);
      }
      const env = { PATH: process.env.PATH, HOME: homes.get(v)!, KUBECONFIG: server.kubeconfig, ...o.env };
      return new Promise((resolve) => {
        const child = execFile(kubectlBin(v), args, { env, timeout: o.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
          resolve({ code, stdout, stderr });
        });
        if (o.input !== undefined) child.stdin!.end(o.input);
        else child.stdin!.end();
      });
    },
    async stop() {
      await server.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
