/**
 * Transports of exec and attach (pkg/kubelet/cri/streaming/remotecommand), each turned into
 * one transport-neutral `ExecIO` that the session running the command drives:
 *
 * - WebSocket channels (`v5.channel.k8s.io`, `v4.channel.k8s.io`; kubectl 1.30+): stdin 0,
 *   stdout 1, stderr 2, the status 3, resize 4; v5's close message (255, channel) ends stdin.
 * - SPDY/3.1 (kubectl up to 1.29, client-go's SPDY executor): protocols `v4.channel.k8s.io`
 *   … `channel.k8s.io` by X-Stream-Protocol-Version; the client opens one stream per
 *   `streamType` header (error, stdin, stdout, stderr, resize); v4 writes the status as JSON on
 *   the error stream, v1–v3 only a failure's message; then every stream is reset and the
 *   connection closed, as the kubelet's ServeExec does.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { SpdySession, SpdyStream } from './spdy.js';
import { STREAM_CREATION_TIMEOUT_MS } from './upgrade.js';

/** The SPDY protocols of exec/attach, most preferred first. */
export const REMOTECOMMAND_SPDY_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
/** The WebSocket protocols of exec/attach (channel byte first in every message). */
export const REMOTECOMMAND_WS_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/** metav1.Status as the error stream carries it. */
export interface ExecStatus {
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason: string; message: string }[] };
}

/** A terminal size (TerminalSize in client-go). */
export interface TerminalSize { width: number; height: number }

/** Which streams the client asked for (query stdin/stdout/stderr/tty, "1" or "true"). */
export interface ExecStreamOptions { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }

/** Reads the stream options as the kubelet's NewOptions (tty drops stderr). */
export function execStreamOptions(q: URLSearchParams): ExecStreamOptions {
  const on = (k: string) => q.get(k) === '1' || q.get(k) === 'true';
  const tty = on('tty');
  return { stdin: on('stdin'), stdout: on('stdout'), stderr: on('stderr') && !tty, tty };
}

/**
 * The client's side of an exec or attach, whatever the transport: what the session reads
 * (stdin, terminal sizes) and writes (stdout, stderr), and how it reports the end.
 */
export interface ExecIO {
  /** The client's input, when asked for; it ends at the client's EOF (or when it goes away). */
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Terminal sizes from the client (objects of TerminalSize), when tty. */
  resize?: Readable;
  tty: boolean;
  /** Reports the end (the exit as a Status) and closes the transport; later calls do nothing. */
  finish(status: ExecStatus): void;
  /** Resolves when the client has gone away, or after finish. */
  closed: Promise<void>;
}

/** The Status of an exit code, as the kubelet writes it. */
export function exitStatus(code: number, cmd: string[], message?: string): ExecStatus {
  if (code === 0) return { status: 'Success' };
  return {
    status: 'Failure', reason: 'NonZeroExitCode',
    message: message ?? `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${code}`,
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** A failure that is not an exit code (the kubelet's InternalError). */
export function internalError(message: string): ExecStatus {
  return { status: 'Failure', reason: 'InternalError', message };
}

// JSON objects one after another, as the resize stream carries them ({"Width":80,"Height":24}).
function sizes(): { input: Writable; output: Readable } {
  const output = new PassThrough({ objectMode: true });
  let buf = '';
  const input = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      // Split on the boundaries between top-level objects.
      let depth = 0, start = -1;
      for (let i = 0; i < buf.length; i++) {
        if (buf[i] === '{') { if (depth++ === 0) start = i; } else if (buf[i] === '}' && --depth === 0 && start >= 0) {
          try {
            const o = JSON.parse(buf.slice(start, i + 1));
            output.write({ width: Number(o.Width ?? o.width ?? 0), height: Number(o.Height ?? o.height ?? 0) });
          } catch { /* not a size: skipped */ }
          buf = buf.slice(i + 1); i = -1; start = -1;
        }
      }
      cb();
    },
    final(cb) { output.end(); cb(); },
  });
  return { input, output };
}

/** The exec/attach streams of a WebSocket with the channel protocol. */
export function webSocketExecIO(ws: WebSocket, opts: ExecStreamOptions): ExecIO {
  const send = (ch: number, data: Buffer | string) => { if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data)])); };
  const channel = (ch: number) => new Writable({ write(chunk: Buffer, _enc, cb) { send(ch, chunk); cb(); } });
  const stdin = opts.stdin ? new PassThrough() : undefined;
  const resize = opts.tty ? sizes() : undefined;
  let done = false;
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  // Only v5 has the close message; input after it (or after the end) is dropped, not thrown.
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  ws.on('message', (m: Buffer) => {
    if (m[0] === 0) { if (stdin && !stdin.writableEnded) stdin.write(m.subarray(1)); }
    else if (m[0] === 4) { if (resize && !resize.input.writableEnded) resize.input.write(m.subarray(1)); }
    else if (v5 && m[0] === 255 && m[1] === 0) stdin?.end(); // the client closed stdin
  });
  ws.on('close', () => { if (stdin && !stdin.writableEnded) stdin.end(); resize?.input.end(); });
  return {
    stdin, tty: opts.tty, resize: resize?.output, closed,
    stdout: opts.stdout ? channel(1) : undefined,
    stderr: opts.stderr ? channel(2) : undefined,
    finish(status) {
      if (done) return;
      done = true;
      send(3, JSON.stringify({ metadata: {}, ...status }));
      if (ws.readyState === ws.OPEN) ws.close(1000);
    },
  };
}

/**
 * Waits for the client's streams on a SPDY session (as many as it asked for: error, plus
 * stdin/stdout/stderr, plus resize for a terminal from v3 on) and makes them an ExecIO.
 * Rejects, closing the session, when they do not all come in time.
 */
export function spdyExecIO(session: SpdySession, protocol: string, opts: ExecStreamOptions, timeoutMs = STREAM_CREATION_TIMEOUT_MS): Promise<ExecIO> {
  const resizable = protocol === 'v4.channel.k8s.io' || protocol === 'v3.channel.k8s.io';
  const expected = 1 + Number(opts.stdin) + Number(opts.stdout) + Number(opts.stderr) + Number(opts.tty && resizable);
  const got: Partial<Record<'error' | 'stdin' | 'stdout' | 'stderr' | 'resize', SpdyStream>> = {};
  return new Promise((resolve, reject) => {
    let count = 0;
    const timer = setTimeout(() => { session.close(); reject(new Error('timed out waiting for client to create streams')); }, timeoutMs);
    session.once('close', () => { clearTimeout(timer); reject(new Error('connection closed before the streams were created')); });
    session.on('stream', (s) => {
      s.reply();
      const type = s.header('streamtype');
      if (type !== 'error' && type !== 'stdin' && type !== 'stdout' && type !== 'stderr' && type !== 'resize') return;
      if (got[type]) return;
      got[type] = s;
      if (++count < expected) return;
      clearTimeout(timer);
      resolve(spdyIO(session, protocol, opts, got));
    });
  });
}

function spdyIO(session: SpdySession, protocol: string, opts: ExecStreamOptions, got: Partial<Record<string, SpdyStream>>): ExecIO {
  const closed = new Promise<void>((resolve) => { if (session.closed) resolve(); else session.once('close', () => resolve()); });
  // The client may create streams it then never writes on (stdout: it only reads): read them
  // so that their FIN is seen.
  for (const k of ['error', 'stdout', 'stderr']) got[k]?.resume();
  let resize: Readable | undefined;
  if (got.resize) { const s = sizes(); got.resize.pipe(s.input); resize = s.output; }
  let done = false;
  return {
    stdin: got.stdin, stdout: got.stdout, stderr: got.stderr, resize, tty: opts.tty, closed,
    finish(status) {
      if (done) return;
      done = true;
      const err = got.error;
      if (err && !err.destroyed) {
        if (protocol === 'v4.channel.k8s.io') err.write(JSON.stringify({ metadata: {}, ...status }));
        else if (status.status === 'Failure') err.write(status.message ?? 'error');
      }
      // FIN on each stream once its data is out, then reset the rest and close (ServeExec).
      const ends = [got.stdout, got.stderr, err].filter((s): s is SpdyStream => !!s && !s.destroyed && !s.writableEnded)
        .map((s) => new Promise<void>((res) => { s.once('finish', () => res()); s.once('close', () => res()); s.end(); }));
      void Promise.all(ends).then(() => session.close());
    },
  };
}
