/**
 * Test helpers for the control plane: start it in-process (API server, scheduler, controllers,
 * as `skiff server` composes them) under a temp root with simulated nodes, run the real
 * kubectl against it (asynchronously: the server shares this event loop), and wait for
 * conditions.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/cmd/controlplane.js';
import { SimNodes, type SimOptions } from '../../src/sim/nodes.js';
import { kubectlBin } from './apiserver.js';

/** Polls `fn` every 100 ms until it returns something truthy; throws after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A control plane with simulated nodes, for one test file. */
export interface TestCluster {
  cp: ControlPlane;
  sim: SimNodes;
  root: string;
  /** Runs kubectl of version `v` (never throws on a non-zero exit). */
  kubectl(v: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** Starts the control plane (SQLite store under a temp root) and a simulator. */
export async function startTestCluster(o: Partial<ControlPlaneOptions> & { sim?: SimOptions } = {}): Promise<TestCluster> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cluster-'));
  const cp = await startControlPlane({ root, port: 0, store: `sqlite://${path.join(root, 'state.db')}`, ...o });
  const sim = new SimNodes(cp.client, o.sim);
  await sim.start();
  return {
    cp, sim, root,
    kubectl(v, args, input) {
      return new Promise((resolve) => {
        const env = { PATH: process.env.PATH, HOME: path.join(root, `home-${v}`), KUBECONFIG: cp.api.kubeconfig };
        const child = execFile(kubectlBin(v), args, { env, timeout: 90_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
        });
        child.stdin!.end(input ?? '');
      });
    },
    async stop() {
      sim.stop();
      await cp.stop();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
