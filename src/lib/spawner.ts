/**
 * Runs short helper commands (CNI plugins, runc, mount, unshare, iptables) to completion with
 * buffered output — in this process, or, once `useSpawner()` is called, in a small helper
 * process that forks them on this one's behalf.
 *
 * Why: Node's spawn forks synchronously (libuv 1.46 uses fork(2) on Linux), and fork copies
 * the page tables of the whole process: ~3.5 ms for a 100 MB process, ~5 ms for `skiff up`
 * with 30 pods, during which its event loop stands still. A pod start runs about seven such
 * commands, so 30 pods at once lost over a second of the only thread that serves the API, the
 * scheduler and the agent. The helper is a bare Node process (~40 MB), forks in ~1 ms, and on
 * another core. Short-lived CLI processes keep spawning directly (starting the helper would
 * cost more than it saves). conmon goes through it too (its sync pipe is read there: see
 * RunOptions.syncPipe). Commands that stream (exec sessions, foreground runs) keep spawning
 * directly.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';

/** How a command ended, with everything it wrote. */
export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** With `syncPipe`: the JSON value read from fd 3, or undefined when fd 3 closed without one. */
  sync?: string;
}

/** Options of one command. */
export interface RunOptions {
  /** Written to its stdin, then closed (default: nothing, stdin at EOF). */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed with `killSignal` (default SIGTERM) after this long. */
  timeoutMs?: number;
  killSignal?: NodeJS.Signals;
  /**
   * A sync pipe on fd 3 (conmon's `_OCI_SYNCPIPE`): the command is answered as soon as fd 3
   * delivers one complete JSON value, or closes without one, and may keep running (conmon
   * daemonises); `code` is then -1 and output is what arrived until that moment.
   */
  syncPipe?: boolean;
}

/** One request to the helper process. */
export interface SpawnRequest extends RunOptions { id: number; cmd: string; args: string[] }

/** One reply of the helper: a result, or why the command could not start. */
export type SpawnReply = { id: number } & ({ result: RunResult } | { error: { message: string; code?: string } });

/** Runs a command here; rejects only when it cannot be started (e.g. ENOENT). */
export function runLocal(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  if (o.syncPipe) return runSynced(cmd, args, o);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: o.timeoutMs, killSignal: o.killSignal });
    let stdout = '';
    let stderr = '';
    let failed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => { failed = true; reject(err); });
    child.on('close', (code, signal) => { if (!failed) resolve({ code: code ?? 128, signal, stdout, stderr }); });
    child.stdin.on('error', () => { /* it may exit before reading its stdin */ });
    child.stdin.end(o.input ?? '');
  });
}

/** Starts a command with a sync pipe on fd 3 and answers with its first JSON message (see RunOptions.syncPipe). */
function runSynced(cmd: string, args: string[], o: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    let stdout = '';
    let stderr = '';
    let buf = '';
    let settled = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const done = (v: string | undefined | Error) => {
      if (settled) return;
      settled = true;
      sync.removeAllListeners();
      // A daemonised child keeps its end of these pipes; let go of ours.
      sync.destroy();
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.unref();
      if (v instanceof Error) reject(v);
      else resolve({ code: -1, signal: null, stdout, stderr, sync: v });
    };
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      try {
        JSON.parse(buf);
        done(buf);
      } catch {
        // not complete yet
      }
    });
    sync.on('end', () => done(undefined));
    child.on('error', (e) => done(e));
  });
}

class Spawner {
  private child?: ChildProcess;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: RunResult) => void; reject: (e: Error) => void }>();

  private start(): ChildProcess {
    const child = fork(new URL('./spawner-child.js', import.meta.url), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: ['--max-old-space-size=64'],
      serialization: 'json',
    });
    child.on('message', (m: SpawnReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.idle();
      if ('result' in m) p.resolve(m.result);
      else p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      // Whatever was in flight is lost with it: its callers see an error, the next call restarts it.
      for (const [id, p] of this.pending) { this.pending.delete(id); p.reject(new Error('the spawn helper process exited')); }
    });
    child.unref();
    return child;
  }

  /** Lets this process exit while the helper idles. */
  private idle(): void {
    if (!this.pending.size) (this.child?.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  run(cmd: string, args: string[], o: RunOptions): Promise<RunResult> {
    if (!this.child?.connected) this.child = this.start();
    const child = this.child;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (child.channel as { ref?: () => void } | undefined)?.ref?.();
      const req: SpawnRequest = { id, cmd, args, ...o, env: o.env ?? process.env };
      child.send(req, (err) => {
        if (!err) return;
        this.pending.delete(id);
        this.idle();
        reject(err);
      });
    });
  }

  stop(): void {
    this.child?.kill();
    this.child = undefined;
  }
}

let spawner: Spawner | undefined;

/** From now on, runCommand forks through the helper process (long-running processes only). */
export function useSpawner(): void {
  spawner ??= new Spawner();
}

/** Stops the helper process; later commands spawn directly. */
export function stopSpawner(): void {
  spawner?.stop();
  spawner = undefined;
}

/** Runs a command to completion (through the helper when enabled); rejects only when it cannot start. */
export function runCommand(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  return spawner ? spawner.run(cmd, args, o) : runLocal(cmd, args, o);
}
