/**
 * Interactive stdio of running containers, for callers that relay it elsewhere (the node
 * agent's exec and attach streams). Two mechanisms:
 *
 * - `runTerminal`: a command (`runc exec --tty ...`) on a pseudo-terminal of ours (node-pty).
 *   runc allocates the container's own terminal in the container's devpts, puts ours in raw
 *   mode and copies between the two; when we resize ours the kernel sends runc SIGWINCH and
 *   runc applies the new size to the container's terminal (its first size is ours at start).
 * - `attachConmon`: conmon's attach socket, which every container under conmon has. It is
 *   SOCK_SEQPACKET: each packet from conmon is a stream byte (conmon's pipe numbers: 2 stdout,
 *   3 stderr) and data; what we send is the container's stdin (the terminal with `-t`); our
 *   half-close ends this session's input (conmon then closes the container's stdin unless it
 *   runs with --leave-stdin-open). Node's net module cannot open SEQPACKET sockets;
 *   node-unix-socket can (an N-API addon shipped prebuilt, so nothing to compile) and keeps
 *   packet boundaries, which a byte-stream relay such as socat would lose along with the
 *   stream bytes. Sizes are set on the container's terminal itself (`stty -F`, TIOCSWINSZ:
 *   the kernel sends its processes SIGWINCH), not through conmon's `ctl` FIFO: conmon before
 *   2.2.0 (Debian 12 has 2.1.6) handles only the first of several lines read at once, and
 *   kubectl attach sends two sizes back to back (one cell larger, then the real one, to force
 *   a redraw), so the real one was lost.
 */
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import pty from 'node-pty';
import { SeqpacketSocket } from 'node-unix-socket';
import { UnavailableError } from '../../core/errors.js';
import { runCommand } from '../../lib/spawner.js';

/** A terminal's size in character cells. */
export interface TerminalSize { width: number; height: number }

/**
 * Terminal sizes as a client reports them: `push` records the latest and emits `resize`.
 * Sizes may arrive before the session starts; `last` keeps the one to start with.
 */
export class TerminalSizes extends EventEmitter<{ resize: [TerminalSize] }> {
  /** The latest size reported. */
  last?: TerminalSize;

  /** Records a new size (ignored unless both dimensions are positive integers). */
  push(s: TerminalSize): void {
    if (!(Number.isInteger(s.width) && Number.isInteger(s.height) && s.width > 0 && s.height > 0)) return;
    this.last = { width: s.width, height: s.height };
    this.emit('resize', this.last);
  }
}

/**
 * The client's side of an interactive session: what the container reads from (`stdin`; its
 * end is the end of the client's input) and writes to. Absent streams were not asked for.
 */
export interface StdioStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** The client's terminal sizes (sessions with a terminal). */
  sizes?: TerminalSizes;
  /** Aborted when the client goes away: the session ends. */
  signal?: AbortSignal;
}

/** How a terminal command ended (128 + N when a signal N ended it). */
export interface TerminalExit { code: number }

/**
 * Runs `file args` on a new pseudo-terminal and relays it to `io` until it exits; resolves with
 * its exit code. The terminal's output goes to `io.stdout` (a terminal has one output stream).
 * An aborted session hangs up the terminal (SIGHUP), as closing a terminal window does.
 */
export function runTerminal(file: string, args: string[], io: StdioStreams, env: NodeJS.ProcessEnv = process.env): Promise<TerminalExit> {
  const size = io.sizes?.last ?? { width: 80, height: 24 };
  const term = pty.spawn(file, args, { name: 'xterm', cols: size.width, rows: size.height, env, encoding: null });
  return new Promise((resolve) => {
    const out = io.stdout;
    term.onData((d: string | Buffer) => {
      if (!out || out.destroyed || out.writableEnded) return;
      // Backpressure: stop reading the terminal while the client's side is full.
      if (!out.write(d)) { term.pause(); out.once('drain', () => term.resume()); }
    });
    const onInput = (d: Buffer) => term.write(d);
    const onResize = (s: TerminalSize) => { try { term.resize(s.width, s.height); } catch { /* exited */ } };
    const hangUp = () => { try { term.kill('SIGHUP'); } catch { /* exited */ } };
    io.stdin?.on('data', onInput);
    io.sizes?.on('resize', onResize);
    // A size reported while the terminal was being made.
    if (io.sizes?.last && (io.sizes.last.width !== size.width || io.sizes.last.height !== size.height)) onResize(io.sizes.last);
    if (io.signal?.aborted) hangUp(); else io.signal?.addEventListener('abort', hangUp, { once: true });
    term.onExit(({ exitCode, signal }) => {
      io.stdin?.off('data', onInput);
      io.sizes?.off('resize', onResize);
      io.signal?.removeEventListener('abort', hangUp);
      resolve({ code: signal ? 128 + signal : exitCode });
    });
  });
}

/** Paths of a conmon-supervised container's attach endpoints. */
export interface ConmonAttachPaths {
  /** The SEQPACKET attach socket (`<socket dir>/<cuuid>/attach`, a short path to the bundle's). */
  socket: string;
  /** The container's terminal as the host reaches it (`/proc/<pid>/fd/0`), when it has one. */
  terminal?: string;
}

/**
 * Applies sizes to a terminal device one at a time; while one is being applied only the
 * latest of those reported meanwhile is kept (the earlier ones would be overwritten at once).
 */
function terminalSizer(device: string): (s: TerminalSize) => void {
  let busy = false;
  let next: TerminalSize | undefined;
  const apply = (s: TerminalSize) => {
    busy = true;
    // A short helper command: through the spawner (no fork of this whole process under `skiff up`).
    void runCommand('stty', ['-F', device, 'rows', String(s.height), 'cols', String(s.width)]).catch(() => {}).then(() => {
      busy = false;
      const n = next;
      next = undefined;
      if (n) apply(n);
    });
  };
  return (s) => { if (busy) next = s; else apply(s); };
}

/**
 * Attaches `io` to a container's stdio through conmon until the container's output ends (it
 * exited), the client aborts, or — with `endWithInput` — the client's input ends.
 */
export async function attachConmon(paths: ConmonAttachPaths, io: StdioStreams, opts: { endWithInput?: boolean } = {}): Promise<void> {
  const sock = new SeqpacketSocket();
  await new Promise<void>((ok, fail) => {
    sock.once('error', fail);
    try {
      sock.connect(paths.socket, () => { sock.off('error', fail); ok(); });
    } catch (err) {
      fail(new UnavailableError(`cannot attach: ${(err as Error).message}`));
    }
  });
  const resize = paths.terminal ? terminalSizer(paths.terminal) : () => {};
  if (io.sizes?.last) resize(io.sizes.last);
  io.sizes?.on('resize', resize);
  let done = () => {};
  const ended = new Promise<void>((resolve) => { done = resolve; });
  const onInput = (d: Buffer) => { try { sock.write(d); } catch { /* closed */ } };
  const onInputEnd = () => {
    try { sock.end(); } catch { /* closed */ }
    if (opts.endWithInput) done();
  };
  sock.on('data', (pkt: Buffer) => {
    const to = pkt[0] === 3 ? io.stderr : pkt[0] === 2 ? io.stdout : undefined;
    if (to && !to.destroyed && !to.writableEnded && pkt.length > 1) to.write(pkt.subarray(1));
  });
  sock.once('end', done);
  sock.once('close', done);
  sock.on('error', done);
  io.stdin?.on('data', onInput);
  io.stdin?.once('end', onInputEnd);
  if (io.signal?.aborted) done(); else io.signal?.addEventListener('abort', done, { once: true });
  try {
    await ended;
  } finally {
    io.sizes?.off('resize', resize);
    io.stdin?.off('data', onInput);
    io.stdin?.off('end', onInputEnd);
    io.signal?.removeEventListener('abort', done);
    try { sock.destroy(); } catch { /* closed */ }
  }
}
