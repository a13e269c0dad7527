/**
 * Connections to localhost:PORT inside a pod's network namespace, for port-forward. Node
 * cannot setns(2) a thread, so each connection is `nsenter --net=<sandbox netns> socat` (what
 * dockershim did), its stdin/stdout being the connection. IPv4 first, then IPv6, as containerd
 * dials; the error text is containerd's, so kubectl shows what it shows with a kubelet.
 *
 * socat's `-t 1`: once one direction ends, the other gets one second to finish, as in
 * containerd's forwarder. socat is run with `-d -d` so that its notice "starting data transfer
 * loop" tells a connection made from one refused before any byte of the client is sent.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';

/** Opens a connection to a port in a pod; rejects with the message to show the client. */
export type PortDialer = (port: number) => Promise<Duplex>;

/** A dialer into the network namespace at `netns` (sandbox `id`, named in errors). */
export function netnsDialer(netns: string, id: string, opts: { nsenter?: string; socat?: string } = {}): PortDialer {
  return async (port) => {
    const v4 = await attempt(netns, `TCP4:127.0.0.1:${port}`, opts);
    if ('conn' in v4) return v4.conn;
    if (v4.fatal) throw new Error(`failed to execute portforward in network namespace "${netns}": ${v4.error}`);
    const v6 = await attempt(netns, `TCP6:[::1]:${port}`, opts);
    if ('conn' in v6) return v6.conn;
    if (v6.fatal) throw new Error(`failed to execute portforward in network namespace "${netns}": ${v6.error}`);
    throw new Error(`failed to execute portforward in network namespace "${netns}": failed to connect to localhost:${port} inside namespace "${id}", `
      + `IPv4: dial tcp4 127.0.0.1:${port}: connect: ${v4.error} IPv6 dial tcp6 [::1]:${port}: connect: ${v6.error} `);
  };
}

type Attempt = { conn: Duplex } | { error: string; fatal: boolean };

function attempt(netns: string, address: string, opts: { nsenter?: string; socat?: string }): Promise<Attempt> {
  return new Promise((resolve) => {
    const child = spawn(opts.nsenter ?? 'nsenter', [`--net=${netns}`, '--', opts.socat ?? 'socat', '-d', '-d', '-t', '1', 'STDIO', address], { stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    let settled = false;
    const finish = (a: Attempt) => { if (!settled) { settled = true; resolve(a); } };
    child.stderr.on('data', (d: Buffer) => {
      if (settled) return;
      log += d.toString();
      if (/ N starting data transfer loop/.test(log)) finish({ conn: new ChildConnection(child) });
    });
    child.once('error', (err) => finish({ error: err.message, fatal: true }));
    child.once('close', (code) => {
      // socat's own error line: "E connect(5, AF=2 127.0.0.1:81, 16): Connection refused".
      const e = /\bE connect\([^)]*\): (.+)/.exec(log);
      if (e) return finish({ error: goErrno(e[1]), fatal: false });
      const last = log.trim().split('\n').filter((l) => !/ [NW] /.test(l)).pop() ?? `exit status ${code}`;
      finish({ error: last.replace(/^nsenter: /, '').trim(), fatal: true });
    });
  });
}

/**
 * The child's stdio as one connection: reading is its stdout, writing its stdin, end() its
 * stdin's EOF. It closes once the child exited and its output was read; destroying it kills
 * the child.
 */
class ChildConnection extends Duplex {
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    super({ allowHalfOpen: true });
    child.stdout.on('data', (d: Buffer) => { if (!this.push(d)) child.stdout.pause(); });
    child.stdout.on('end', () => this.push(null));
    child.stdin.on('error', () => {}); // the far end went away mid-write: the close below ends us
    child.once('close', () => {
      if (this.readableEnded) this.destroy();
      else this.once('end', () => this.destroy());
    });
  }

  override _read(): void { this.child.stdout.resume(); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.child.stdin.writable) return cb();
    this.child.stdin.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void { this.child.stdin.end(); cb(); }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    cb(err);
  }
}

/** strerror text as Go's syscall errors read ("Connection refused" → "connection refused"). */
function goErrno(s: string): string {
  return s.trim().replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase());
}
