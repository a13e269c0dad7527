/**
 * `skiff up` as a child process for end-to-end tests: resolves once it printed its kubeconfig
 * (the cluster answers), rejects with its stderr when it exits first.
 */
import fs from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { SKIFF, skiff } from './images.js';

const stderrs = new WeakMap<ChildProcess, () => string>();

/** What a `skiff up` started by skiffUp wrote to stderr so far (for failure messages). */
export function upStderr(p: ChildProcess): string {
  return stderrs.get(p)?.() ?? '';
}

/** Starts `skiff up` on any free API port with data root `root` and node name `nodeName` (`env` added to the environment, `args` to its flags). */
export async function skiffUp(root: string, nodeName: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<ChildProcess> {
  const p = spawn(process.execPath, [SKIFF, '--root', root, 'up', '--port', '0', '--node-name', nodeName, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn', ...env } });
  let out = '', err = '';
  p.stderr!.on('data', (d) => { err += d; });
  stderrs.set(p, () => err);
  await new Promise<void>((ok, fail) => {
    p.stdout!.on('data', (d) => { out += d; if (out.includes('kubeconfig:')) ok(); });
    p.once('exit', (code) => fail(new Error(`skiff up exited ${code}: ${err}`)));
  });
  return p;
}

/** After a test file: kills a `skiff up` still running, `skiff down`, and removes the data root. */
export async function skiffUpCleanup(proc: ChildProcess | undefined, root: string | undefined): Promise<void> {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  if (!root) return;
  await skiff(root, ['down']).catch(() => {});
  await fs.rm(root, { recursive: true, force: true });
}
