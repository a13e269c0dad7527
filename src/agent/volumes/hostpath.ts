/**
 * hostPath volumes' `type` checks, as the kubelet's checkType: DirectoryOrCreate and
 * FileOrCreate make what is missing (0755 directories, 0644 empty files), the others require
 * the path to exist as that kind of file; an unset type checks nothing (the runtime creates a
 * missing directory when it binds it). Errors have the kubelet's words.
 */
import fs from 'node:fs/promises';
import type { Stats } from 'node:fs';

/** The HostPathType of a file, as Kubernetes names them. */
export function fileType(st: Stats): string {
  if (st.isDirectory()) return 'Directory';
  if (st.isFile()) return 'File';
  if (st.isSocket()) return 'Socket';
  if (st.isCharacterDevice()) return 'CharDevice';
  if (st.isBlockDevice()) return 'BlockDevice';
  return 'Unknown';
}

const WANT: Record<string, [string, string]> = {
  Directory: ['Directory', 'directory'], DirectoryOrCreate: ['Directory', 'directory'],
  File: ['File', 'file'], FileOrCreate: ['File', 'file'],
  Socket: ['Socket', 'socket file'], CharDevice: ['CharDevice', 'character device'], BlockDevice: ['BlockDevice', 'block device'],
};

/** Refuses a path with `..` steps, as ValidatePathNoBacksteps. */
export function checkNoBacksteps(p: string): void {
  if (p.split('/').includes('..')) throw new Error(`invalid HostPath \`${p}\`: must not contain '..'`);
}

/** Checks (and for the *OrCreate types makes) a hostPath of `type`. */
export async function checkHostPath(p: string, type: string | undefined): Promise<void> {
  checkNoBacksteps(p);
  if (!type) return;
  const want = WANT[type];
  if (!want) throw new Error(`${type} is an invalid volume type`);
  const st = async () => fs.stat(p).catch(() => undefined);
  if (type === 'DirectoryOrCreate' && !(await st())) await fs.mkdir(p, { recursive: true, mode: 0o755 });
  if (type === 'FileOrCreate' && !(await st())) await (await fs.open(p, 'a', 0o644)).close();
  const s = await st();
  if (!s) throw new Error(`hostPath ${p} doesn't exist`);
  const have = fileType(s);
  if (have !== want[0]) throw new Error(`hostPath type check failed: ${p} is not a ${want[1]}, it's a ${have}`);
}
