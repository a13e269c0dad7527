/**
 * subPath and subPathExpr of a volumeMount, as the kubelet's makeMounts prepares them: the
 * expression is expanded with the container's environment (`$(VAR)`), the result must be a
 * relative path without `..`, a missing subPath is created as a directory with the volume
 * root's mode, and the path is resolved (symlinks followed) and must stay inside the volume —
 * a link pointing out of it is refused. The resolved host path is what gets bind-mounted, so
 * a subPath of a ConfigMap file keeps the content it had when the container started.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expand } from '../env.js';

/** The subPath of a mount (subPathExpr expanded with `env`), or '' for none. */
export function subPathOf(m: { subPath?: string; subPathExpr?: string }, env: string[]): string {
  if (m.subPath) return m.subPath;
  if (!m.subPathExpr) return '';
  const vars = new Map(env.map((e) => { const i = e.indexOf('='); return [e.slice(0, i), e.slice(i + 1)] as const; }));
  return expand(m.subPathExpr, (n) => vars.get(n));
}

/** Why a subPath is refused, if it is (absolute, or with a `..` step). */
export function badSubPath(sub: string): string | undefined {
  if (path.isAbsolute(sub)) return `subPath "${sub}" must be a relative path`;
  if (sub.split('/').includes('..')) return `subPath "${sub}" must not contain '..'`;
  return undefined;
}

/** Whether `p` is `root` or inside it. */
function within(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/** The host path to bind for `sub` inside the volume at `volumePath`; creates a missing directory. */
export async function resolveSubPath(volumePath: string, sub: string): Promise<string> {
  const bad = badSubPath(sub);
  if (bad) throw new Error(bad);
  const root = await fs.realpath(volumePath);
  const full = path.join(root, sub);
  // Each existing step is resolved before going further, so a link cannot lead the mkdir out.
  let cur = root;
  for (const part of path.relative(root, full).split('/').filter(Boolean)) {
    const next = path.join(cur, part);
    let real: string | undefined;
    try {
      real = await fs.realpath(next);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (real === undefined) {
      // A dangling link must not be followed by mkdir.
      if (await fs.lstat(next).then(() => true, () => false)) throw new Error(`subpath "${full}" not within volume path "${root}"`);
      const mode = (await fs.stat(root)).mode & 0o7777;
      await fs.mkdir(next, { mode });
      await fs.chmod(next, mode); // whatever the umask
      real = next;
    }
    if (!within(root, real)) throw new Error(`subpath "${full}" not within volume path "${root}"`);
    cur = real;
  }
  return cur;
}
