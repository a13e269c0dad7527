/**
 * fsGroup ownership as the kubelet's SetVolumeOwnership: every file and directory of a
 * volume gets the fsGroup as its group, group read (and write, unless the volume is
 * read-only) permission, and directories the setgid bit so that files created later inherit
 * the group. `fsGroupChangePolicy: OnRootMismatch` skips the walk when the volume's root
 * already has the group and those bits. Symlinks are left alone (the AtomicWriter's links).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

const RW = 0o660;
const RO = 0o440;
const SETGID = 0o2000;

function wanted(isDir: boolean, readOnly: boolean): number {
  return (readOnly ? RO : RW) | (isDir ? SETGID | 0o010 : 0);
}

/** Whether the root of a volume already carries the fsGroup and its permission bits. */
async function rootMatches(dir: string, fsGroup: number, readOnly: boolean): Promise<boolean> {
  const st = await fs.stat(dir);
  const want = wanted(true, readOnly);
  return st.gid === fsGroup && (st.mode & want) === want;
}

/** Applies `fsGroup` to everything under `dir` (itself included). */
export async function setVolumeOwnership(dir: string, fsGroup: number | undefined, readOnly: boolean, policy?: string): Promise<void> {
  if (fsGroup === undefined) return;
  if (policy === 'OnRootMismatch' && await rootMatches(dir, fsGroup, readOnly)) return;
  const visit = async (p: string): Promise<void> => {
    const st = await fs.lstat(p);
    if (st.isSymbolicLink()) return;
    await fs.lchown(p, st.uid, fsGroup);
    await fs.chmod(p, (st.mode & 0o7777) | wanted(st.isDirectory(), readOnly));
    if (st.isDirectory()) for (const n of await fs.readdir(p)) await visit(path.join(p, n));
  };
  await visit(dir);
}
