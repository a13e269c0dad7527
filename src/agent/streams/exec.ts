/**
 * `kubectl exec` in a pod's running container, driven by any transport's `ExecIO`
 * (remotecommand.ts: WebSocket channels, SPDY). With a terminal: `runc exec --tty` on a
 * pseudo-terminal of the agent's (the engine's `execTerminal`): raw input, one output stream,
 * window sizes applied as they change. Without: the command's stdio as pipes (`execPiped`),
 * stdin streamed and closed when the client closes it. Either way the exit code is reported
 * as the kubelet reports it.
 */
import type { ContainerEngine } from '../../engine/container/engine.js';
import { TerminalSizes, type StdioStreams, type TerminalSize } from '../../engine/container/stdio.js';
import { exitStatus, internalError, type ExecIO } from './remotecommand.js';

/**
 * The engine's view of a transport's streams: sizes as a `TerminalSizes`, the client's
 * departure as an abort signal.
 */
export function stdioOf(io: ExecIO): StdioStreams {
  const aborted = new AbortController();
  void io.closed.then(() => aborted.abort());
  const sizes = io.tty ? new TerminalSizes() : undefined;
  if (sizes) io.resize?.on('data', (s: TerminalSize) => sizes.push(s));
  return { stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, sizes, signal: aborted.signal };
}

/** Runs `cmd` in container `id` with the client's streams, then reports its exit on `io`. */
export async function runExec(engine: ContainerEngine, id: string, cmd: string[], io: ExecIO): Promise<void> {
  try {
    const s = stdioOf(io);
    if (io.tty) {
      const { code, message } = await engine.execTerminal(id, { cmd }, s);
      return io.finish(exitStatus(code, cmd, message));
    }
    const { child, done, kill } = await engine.execPiped(id, { cmd, interactive: !!s.stdin });
    if (s.stdout) child.stdout!.pipe(s.stdout, { end: false }); else child.stdout!.resume();
    // The runtime's own complaints are reported in the Status, not as the command's stderr.
    child.stderr!.on('data', (d: Buffer) => { if (s.stderr && !/level=error|runc exec failed/.test(d.toString())) s.stderr.write(d); });
    if (s.stdin && child.stdin) {
      child.stdin.on('error', () => {}); // the command may exit without reading everything
      s.stdin.pipe(child.stdin);
    }
    // A client gone (or its connection closed idle) ends the command, as containerd kills an exec
    // whose request context ends: the command itself, not only runc (which cannot pass SIGKILL on).
    s.signal!.addEventListener('abort', () => { void kill(); });
    // `done` comes once the command's output is all read.
    const { code, message } = await done;
    if (s.stdin && child.stdin) s.stdin.unpipe(child.stdin);
    io.finish(exitStatus(code, cmd, message));
  } catch (err) {
    io.finish(internalError(`error executing command in container: ${(err as Error).message}`));
  }
}
