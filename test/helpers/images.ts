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
 * Builds `name`: busybox-static plus the host's openssl with the shared libraries it links
 * (so busybox wget speaks TLS through it, and `openssl s_client` can verify certificates).
 */
export async function ensureTlsToolsImage(root: string, name: string): Promise<void> {
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const rootfs = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-tls-image-'));
  try {
    for (const d of ['bin', 'etc', 'tmp', 'usr/bin', 'usr/lib/ssl', 'lib64', 'lib/x86_64-linux-gnu']) await fs.mkdir(path.join(rootfs, d), { recursive: true });
    await fs.chmod(path.join(rootfs, 'tmp'), 0o1777);
    await fs.copyFile('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    await fs.chmod(path.join(rootfs, 'bin/busybox'), 0o755);
    const { stdout: applets } = await exec('/bin/busybox', ['--list']);
    for (const a of applets.split('\n').filter((x) => x && x !== 'busybox')) await fs.symlink('busybox', path.join(rootfs, 'bin', a));
    await fs.writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await fs.copyFile('/usr/bin/openssl', path.join(rootfs, 'usr/bin/openssl'));
    await fs.chmod(path.join(rootfs, 'usr/bin/openssl'), 0o755);
    await fs.copyFile('/usr/lib/ssl/openssl.cnf', path.join(rootfs, 'usr/lib/ssl/openssl.cnf'));
    const { stdout: libs } = await exec('ldd', ['/usr/bin/openssl']);
    for (const lib of libs.split('\n').map((l) => /(\/\S+) \(0x/.exec(l)?.[1]).filter((x): x is string => !!x)) {
      const real = await fs.realpath(lib);
      await fs.mkdir(path.join(rootfs, path.dirname(lib)), { recursive: true });
      await fs.copyFile(real, path.join(rootfs, lib));
    }
    await exec(process.execPath, [SKIFF, '--root', root, 'image', 'import', '--change', 'CMD ["sh"]', rootfs, name]);
  } finally {
    await fs.rm(rootfs, { recursive: true, force: true });
  }
}
