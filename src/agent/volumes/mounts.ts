/**
 * The few host mounts volumes need: tmpfs for memory-backed volumes (emptyDir with medium
 * Memory, secrets, projected volumes), the mount points under a directory (from
 * /proc/self/mounts), and unmounting them deepest first. A directory is only ever removed once
 * nothing is mounted under it: a recursive removal would otherwise reach into the mounts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../../lib/spawner.js';

/** Runs mount(8)/umount(8) (through the spawner in `skiff up`); a non-zero exit is an error. */
async function run(cmd: string, args: string[]): Promise<void> {
  const r = await runCommand(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** /proc/mounts escapes spaces, tabs, newlines and backslashes as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Every mount point at or under `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mounts', 'utf8');
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[1];
    if (!mp) continue;
    const p = unescapeMount(mp);
    if (p === dir || p.startsWith(prefix)) out.add(p);
  }
  return [...out].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

/** Whether `dir` is a mount point. */
export async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountsUnder(dir)).includes(dir);
}

/** Mounts a tmpfs at `dir` (made if missing) unless one is there already; `sizeBytes` caps it. */
export async function mountTmpfs(dir: string, sizeBytes?: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  if (await isMountPoint(dir)) return;
  // The kubelet passes only the size (a tmpfs's root is then 1777, as emptyDir's must be writable by all).
  await run('mount', ['-t', 'tmpfs', ...(sizeBytes ? ['-o', `size=${Math.max(1, Math.ceil(sizeBytes))}`] : []), 'tmpfs', dir]);
}

/** Unmounts everything at or under `dir` (lazily when busy); throws if something stays mounted. */
export async function unmountUnder(dir: string): Promise<void> {
  for (const mp of await mountsUnder(dir)) {
    await run('umount', [mp]).catch(() => run('umount', ['-l', mp]).catch(() => {}));
  }
  const left = await mountsUnder(dir);
  if (left.length) throw new Error(`still mounted: ${left.join(', ')}`);
}

/** Unmounts what is under `dir`, then removes it; a missing `dir` is fine. */
export async function removeDirSafely(dir: string): Promise<void> {
  try {
    await fs.access(dir);
  } catch {
    return;
  }
  await unmountUnder(path.resolve(dir));
  await fs.rm(dir, { recursive: true, force: true });
}
