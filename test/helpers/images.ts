/**
 * Test images built from the host's busybox-static (no registry needed).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const exec = promisify(execFile);

/** The repository's root (this file runs from dist/test/helpers). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The compiled skiff CLI. */
export const SKIFF = path.join(REPO_ROOT, 'dist/src/cmd/skiff.js');

/** Builds `name` (default busybox:latest) from /bin/busybox into the data root `root`. */
export async function ensureBusyboxImage(root: string, name = 'busybox:latest'): Promise<void> {
  await exec('bash', [path.join(REPO_ROOT, 'scripts/build-busybox-image.sh'), '--root', root, name]);
}

/** Runs the skiff CLI with a data root; resolves with its output and exit code (never throws). */
export async function skiff(root: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [SKIFF, '--root', root, ...args], { env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
