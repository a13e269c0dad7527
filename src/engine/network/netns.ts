/**
 * Pinned namespaces, as CRI-O's pinns does: a network, IPC and UTS namespace created by
 * util-linux `unshare --net=FILE --ipc=FILE --uts=FILE`, which bind-mounts each new
 * namespace onto FILE, so it lives with no process in it until FILE is unmounted. The short
 * `hostname` it runs inside sets the namespace's hostname and exits.
 *
 * Containers join by path (OCI `linux.namespaces[].path`), `nsenter --net=FILE` works too.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UnavailableError } from '../../core/errors.js';
import { runCommand } from '../../lib/spawner.js';

/** The kinds of namespace a sandbox pins, and their `unshare` flags. */
export const PINNED_KINDS = ['net', 'ipc', 'uts'] as const;

/** One kind of pinned namespace. */
export type PinnedKind = (typeof PINNED_KINDS)[number];

/** Paths of a sandbox's pinned namespaces. */
export type NamespacePaths = Record<PinnedKind, string>;

/** The pin files for a sandbox directory (of `kinds` only: the others are the host's). */
export function pinPaths(dir: string, kinds: readonly PinnedKind[] = PINNED_KINDS): Partial<NamespacePaths> {
  return Object.fromEntries(kinds.map((k) => [k, path.join(dir, k)]));
}

/**
 * Creates and pins fresh namespaces of `kinds` (default net, IPC and UTS) under `dir`, with
 * `hostname` set in a new UTS namespace. Kinds left out stay the host's: nothing is renamed.
 */
export async function pinNamespaces(dir: string, hostname: string, kinds: readonly PinnedKind[] = PINNED_KINDS): Promise<Partial<NamespacePaths>> {
  const p = pinPaths(dir, kinds);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (!kinds.length) return p;
  // The bind-mount targets must exist as files.
  await Promise.all(kinds.map((k) => fs.writeFile(p[k]!, '', { mode: 0o444 })));
  await run('unshare', [...kinds.map((k) => `--${k}=${p[k]}`), ...(kinds.includes('uts') ? ['hostname', hostname] : ['true'])]);
  return p;
}

/** Unmounts whichever of the pins are mounted, then removes `dir`. Safe to call twice. */
export async function unpinNamespaces(dir: string, mounts?: Set<string>): Promise<void> {
  const mounted = mounts ?? (await mountPoints());
  const targets = Object.values(pinPaths(dir)).filter((f): f is string => !!f && mounted.has(f));
  if (targets.length) await run('umount', targets);
  await fs.rm(dir, { recursive: true, force: true });
}

/** True when every pin of `dir` is a live mount. */
export function pinsMounted(dir: string, mounts: Set<string>): boolean {
  return Object.values(pinPaths(dir)).every((f) => !!f && mounts.has(f));
}

/** True when every namespace a sandbox pinned is still a live mount (none pinned: true). */
export function namespacesMounted(ns: Partial<NamespacePaths>, mounts: Set<string>): boolean {
  return Object.values(ns).every((f) => !f || mounts.has(f));
}

/** The mount points of this mount namespace (from /proc/self/mountinfo, unescaped). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.add(f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Runs a helper binary; its stderr becomes the error message. */
export async function run(cmd: string, args: string[]): Promise<string> {
  const r = await runCommand(cmd, args).catch((e: Error) => { throw new UnavailableError(`${cmd}: ${e.message}`); });
  if (r.code === 0) return r.stdout;
  throw new UnavailableError(`${cmd} ${args[0] ?? ''}: ${(r.stderr.trim() || `exit status ${r.code}`).split('\n')[0]}`);
}
