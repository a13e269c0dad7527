/**
 * The OCI runtime: runc, or crun where it works. crun 1.8 refuses hosts whose cgroups are in
 * "hybrid" mode (v1 controllers plus an empty v2 mount), which is this machine's; runc works
 * with every layout. So: an explicit choice (`SKIFF_RUNTIME`) wins; on a pure v2 host crun is
 * preferred when installed (it starts containers faster); otherwise runc. `describeRuntime`
 * says which and why (shown by `skiff info` and in `inspect`).
 */
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FailedPreconditionError, UnavailableError } from '../../core/errors.js';
import { cgroupMode } from './cgroups.js';
import { runCommand } from '../../lib/spawner.js';

const exec = promisify(execFile);

/** The runtime chosen and the reason. */
export interface RuntimeChoice {
  name: 'runc' | 'crun';
  path: string;
  reason: string;
}

const CANDIDATES = { runc: ['/usr/bin/runc', '/usr/sbin/runc', '/usr/local/bin/runc'], crun: ['/usr/bin/crun', '/usr/local/bin/crun'] };

function find(name: 'runc' | 'crun'): string | undefined {
  return CANDIDATES[name].find((p) => existsSync(p));
}

/** Chooses the OCI runtime for this host. */
export function chooseRuntime(env: NodeJS.ProcessEnv = process.env): RuntimeChoice {
  const want = env.SKIFF_RUNTIME;
  if (want === 'runc' || want === 'crun') {
    const p = find(want);
    if (!p) throw new FailedPreconditionError(`SKIFF_RUNTIME=${want} but ${want} is not installed`);
    if (want === 'crun' && cgroupMode() === 'hybrid') {
      throw new FailedPreconditionError('crun cannot run here: it refuses cgroups in hybrid mode (v1 controllers plus a v2 mount); use runc');
    }
    return { name: want, path: p, reason: 'chosen by SKIFF_RUNTIME' };
  }
  const crun = find('crun');
  const runc = find('runc');
  if (cgroupMode() === 'v2' && crun) return { name: 'crun', path: crun, reason: 'cgroup v2 host: crun starts containers faster' };
  if (runc) {
    const why = crun ? `crun is installed but refuses cgroups in ${cgroupMode()} mode` : 'crun is not installed';
    return { name: 'runc', path: runc, reason: why };
  }
  if (crun) return { name: 'crun', path: crun, reason: 'runc is not installed' };
  throw new FailedPreconditionError('no OCI runtime found: install runc (apt-get install runc)');
}

/** Runs the runtime with Skiff's state root; resolves stdout, rejects with its stderr. */
export async function runtimeCmd(rt: RuntimeChoice, stateRoot: string, args: string[]): Promise<string> {
  const r = await runCommand(rt.path, ['--root', stateRoot, ...args]).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.code === 0) return r.stdout;
  throw new UnavailableError(`${rt.name} ${args[0]}: ${cleanRuntimeError(r.stderr || `exit status ${r.code}`)}`);
}

/** Turns runc's logfmt error lines into their message. */
export function cleanRuntimeError(s: string): string {
  const lines = s.trim().split('\n').filter(Boolean);
  const last = lines[lines.length - 1] ?? s;
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  return (m ? m[1].replace(/\\"/g, '"') : last).replace(/^runc (create|run|exec) failed: /, '');
}

/** One entry of `runtime list` / `state`. */
export interface RuntimeState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

/** The runtime's view of every container under the state root. */
export async function runtimeList(rt: RuntimeChoice, stateRoot: string): Promise<RuntimeState[]> {
  if (!existsSync(stateRoot)) return [];
  const out = await runtimeCmd(rt, stateRoot, ['list', '--format', 'json']);
  return (JSON.parse(out || 'null') as RuntimeState[] | null) ?? [];
}
