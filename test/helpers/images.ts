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

/**
 * Builds `name`: busybox-static plus host `binaries` with the shared libraries they link and
 * the files listed in `extra` (copied to the same paths).
 */
export async function ensureToolsImage(root: string, name: string, binaries: string[], extra: string[] = []): Promise<void> {
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const rootfs = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-tools-image-'));
  const copy = async (file: string, mode?: number) => {
    await fs.mkdir(path.join(rootfs, path.dirname(file)), { recursive: true });
    await fs.copyFile(await fs.realpath(file), path.join(rootfs, file));
    if (mode) await fs.chmod(path.join(rootfs, file), mode);
  };
  try {
    await fs.mkdir(path.join(rootfs, 'tmp'), { recursive: true });
    await fs.chmod(path.join(rootfs, 'tmp'), 0o1777);
    await copy('/bin/busybox', 0o755);
    const { stdout: applets } = await exec('/bin/busybox', ['--list']);
    for (const a of applets.split('\n').filter((x) => x && x !== 'busybox')) await fs.symlink('busybox', path.join(rootfs, 'bin', a));
    await fs.mkdir(path.join(rootfs, 'etc'), { recursive: true });
    await fs.writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const libs = new Set<string>();
    for (const bin of binaries) {
      await copy(bin, 0o755);
      const { stdout } = await exec('ldd', [bin]);
      for (const lib of stdout.split('\n').map((l) => /(\/\S+) \(0x/.exec(l)?.[1]).filter((x): x is string => !!x)) libs.add(lib);
    }
    for (const f of [...libs, ...extra]) await copy(f);
    await exec(process.execPath, [SKIFF, '--root', root, 'image', 'import', '--change', 'CMD ["sh"]', rootfs, name]);
  } finally {
    await fs.rm(rootfs, { recursive: true, force: true });
  }
}

/** Builds `name` with the host's openssl (busybox wget speaks TLS through it; `openssl s_client` verifies certificates). */
export function ensureTlsToolsImage(root: string, name: string): Promise<void> {
  return ensureToolsImage(root, name, ['/usr/bin/openssl'], ['/usr/lib/ssl/openssl.cnf']);
}
