/**
 * Port-forward as the kubelet serves it (pkg/kubelet/cri/streaming/portforward):
 *
 * - SPDY (kubectl ≤ 1.30, and 1.31+ through a WebSocket tunnel): protocol
 *   `portforward.k8s.io`; for each local connection the client opens an error stream and a data
 *   stream with headers `streamType`, `port` and `requestID`; a complete pair is forwarded to
 *   the port, many pairs at once over one connection. A failure is written on the pair's error
 *   stream ("error forwarding port P to pod ..."), and the connection serves the next pairs.
 * - WebSocket channels (`v4.channel.k8s.io`, `v4.base64.channel.k8s.io` or none; what
 *   @kubernetes/client-node uses): the ports come from the `port` query; per port a data
 *   channel 2i and an error channel 2i+1, each first carrying the port as 2 bytes little-endian;
 *   the WebSocket closes when every port's forward has ended.
 */
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { SpdySession, SpdyStream } from './spdy.js';
import type { PortDialer } from './dial.js';
import { STREAM_CREATION_TIMEOUT_MS } from './upgrade.js';

/** The SPDY protocol of port-forward. */
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** The WebSocket subprotocols of port-forward (the kubelet's, "" meaning none asked). */
export const PORT_FORWARD_WS_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

/** What a forward reports on failure, as the kubelet words it. */
export function forwardError(port: number, pod: string, uid: string, cause: string): string {
  return `error forwarding port ${port} to pod ${pod}, uid ${uid}: ${cause}`;
}

/** Parses the `port` query values (comma lists allowed) as the kubelet's NewV4Options does. */
export function parsePorts(values: string[]): number[] {
  if (!values.length) throw new Error('query parameter "port" is required');
  const out: number[] = [];
  for (const v of values) {
    if (!v) throw new Error('query parameter "port" cannot be empty');
    for (const p of v.split(',')) {
      const n = /^\d+$/.test(p) ? Number(p) : NaN;
      if (!Number.isInteger(n) || n > 65535) throw new Error(`unable to parse "${v}" as a port: strconv.ParseUint: parsing "${p}": invalid syntax`);
      if (n < 1) throw new Error(`port "${v}" must be > 0`);
      out.push(n);
    }
  }
  return out;
}

/** Who the forward is for, in error messages (the CRI streaming server names the sandbox). */
export interface ForwardTarget { pod: string; uid: string; dial: PortDialer }

/**
 * Forwards one client stream to `port`: dials, then copies both ways until the connection in
 * the pod is over. Resolves with the error message to report, or undefined.
 */
export async function forward(t: ForwardTarget, port: number, data: Duplex): Promise<string | undefined> {
  let conn: Duplex;
  try {
    conn = await t.dial(port);
  } catch (err) {
    return forwardError(port, t.pod, t.uid, (err as Error).message);
  }
  if (data.destroyed) { conn.destroy(); return undefined; }
  await new Promise<void>((done) => {
    conn.on('error', () => {});
    data.on('error', () => {});
    data.pipe(conn);
    conn.pipe(data, { end: false });
    // The pod's side finished: our FIN after what it sent.
    conn.once('end', () => { if (!data.destroyed && !data.writableEnded) data.end(); });
    // The client went away (reset, connection gone): stop at once.
    data.once('close', () => conn.destroy());
    conn.once('close', () => done());
  });
  return undefined;
}

// The pieces of one forwarded connection over SPDY, matched by requestID.
interface Pair { data?: SpdyStream; error?: SpdyStream; timer: NodeJS.Timeout }

/** Serves port-forward streams on a SPDY session (one per kubectl port-forward). */
export function servePortForwardSpdy(session: SpdySession, t: ForwardTarget, opts: { streamTimeoutMs?: number } = {}): void {
  const pairs = new Map<string, Pair>();
  const conns = new Set<Duplex>();
  session.on('stream', (s) => {
    // httpStreamReceived: a stream without a valid port or type is refused (reset, no reply).
    const portText = s.header('port') ?? '';
    const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    const type = s.header('streamtype');
    if (!(port >= 1 && port <= 65535) || (type !== 'data' && type !== 'error')) { s.reset(); return; }
    s.reply();
    // Old clients send no requestID: pair by stream ID (error n, data n+2), as the kubelet guesses.
    const id = s.header('requestid') ?? String(type === 'error' ? s.id : s.id - 2);
    let p = pairs.get(id);
    if (!p) {
      const pair: Pair = {
        timer: setTimeout(() => {
          pairs.delete(id);
          pair.error?.end(`(conn=${session.role}, request=${id}) timed out waiting for streams`);
          pair.data?.end();
        }, opts.streamTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS),
      };
      pairs.set(id, p = pair);
    }
    if (p[type]) {
      const msg = `error processing stream for request ${id}: ${type} stream already assigned`;
      p.error?.write(msg);
      s.end();
      return;
    }
    p[type] = s;
    // The client never writes on the error stream; reading it lets its FIN close the stream.
    if (type === 'error') s.resume();
    if (!p.data || !p.error) return;
    clearTimeout(p.timer);
    pairs.delete(id);
    const { data, error } = p;
    conns.add(data);
    void forward(t, port, data).then((msg) => {
      conns.delete(data);
      if (msg) error.write(msg);
      if (!error.destroyed) error.end();
      if (!data.destroyed && !data.writableEnded) data.end();
    });
  });
  session.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    for (const c of conns) c.destroy();
  });
}

/**
 * Serves port-forward over a WebSocket with the channel protocol: binary frames (or, for the
 * base64 protocol, text frames with the channel as a digit and base64 data).
 */
export function servePortForwardWebSocket(ws: WebSocket, ports: number[], t: ForwardTarget): void {
  const base64 = ws.protocol === 'v4.base64.channel.k8s.io';
  const send = (ch: number, data: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    if (base64) ws.send(String.fromCharCode(48 + ch) + data.toString('base64'));
    else ws.send(Buffer.concat([Buffer.from([ch]), data]));
  };
  const streams = ports.map((port, i) => channelStream(i * 2, send, ws));
  ws.on('message', (m: Buffer, isBinary: boolean) => {
    let ch: number, data: Buffer;
    if (base64 && !isBinary) { const s = m.toString(); ch = s.charCodeAt(0) - 48; data = Buffer.from(s.slice(1), 'base64'); } else { ch = m[0]; data = m.subarray(1); }
    if (ch % 2 === 0 && streams[ch / 2]) streams[ch / 2].deliver(data);
  });
  ws.on('close', () => { for (const s of streams) s.gone(); });
  const portBytes = (p: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(p); return b; };
  ports.forEach((p, i) => { send(2 * i, portBytes(p)); send(2 * i + 1, portBytes(p)); });
  void Promise.all(ports.map(async (port, i) => {
    const msg = await forward(t, port, streams[i].duplex);
    if (msg) send(2 * i + 1, Buffer.from(msg));
  })).then(() => { if (ws.readyState === ws.OPEN) ws.close(1000); });
}

/** One data channel of a WebSocket as a Duplex. */
function channelStream(ch: number, send: (ch: number, d: Buffer) => void, ws: WebSocket) {
  let ended = false;
  const duplex = new Duplex({
    read() { if (ws.isPaused) ws.resume(); },
    write(chunk: Buffer, _enc, cb) { send(ch, chunk); cb(); },
    final(cb) { cb(); }, // v4 has no way to say "no more data" on one channel
  });
  return {
    duplex,
    deliver(d: Buffer) { if (!ended && d.length && !duplex.push(d)) ws.pause(); },
    gone() { if (!ended) { ended = true; duplex.push(null); duplex.destroy(); } },
  };
}
