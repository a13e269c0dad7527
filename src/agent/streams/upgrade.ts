/**
 * The HTTP side of stream upgrades as k8s.io/apimachinery's httpstream does it: the
 * X-Stream-Protocol-Version negotiation, the 101 answer that turns a connection into SPDY/3.1,
 * refusals before the upgrade, and a WebSocket carrying a SPDY byte stream (kubectl 1.31+
 * port-forward: subprotocol `SPDY/3.1+portforward.k8s.io`, binary messages).
 */
import { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { SpdySession } from './spdy.js';

/** The negotiation header (client: what it speaks, most preferred first; server: the choice). */
export const PROTOCOL_HEADER = 'X-Stream-Protocol-Version';

/** How long the kubelet waits for a client to open its streams (DefaultStreamCreationTimeout). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

/** kubectl's prefix for SPDY tunnelled in a WebSocket (k8s.io/apimachinery/pkg/util/portforward). */
export const SPDY_TUNNEL_PREFIX = 'SPDY/3.1+';

/** Whether a request asks to upgrade to SPDY/3.1. */
export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return /\bupgrade\b/i.test(String(req.headers.connection ?? '')) && /spdy\/3\.1/i.test(String(req.headers.upgrade ?? ''));
}

/** The client's protocols from every X-Stream-Protocol-Version header, comma lists split. */
export function clientProtocols(req: IncomingMessage): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() !== PROTOCOL_HEADER.toLowerCase()) continue;
    for (const p of req.rawHeaders[i + 1].split(',')) if (p.trim()) out.push(p.trim());
  }
  return out;
}

/** The outcome of negotiation: the protocol, or the refusal to send (httpstream.Handshake's). */
export type Negotiation = { protocol: string } | { refuse: { code: number; message: string; headers?: Record<string, string[]> } };

/** Picks the first of the client's protocols that the server speaks. */
export function negotiate(req: IncomingMessage, server: string[]): Negotiation {
  const client = clientProtocols(req);
  if (!client.length) return { refuse: { code: 400, message: `unable to upgrade: ${PROTOCOL_HEADER} is required` } };
  const protocol = client.find((p) => server.includes(p));
  if (!protocol) {
    return { refuse: { code: 403, message: `unable to upgrade: unable to negotiate protocol: client supports [${client.join(' ')}], server accepts [${server.join(' ')}]`, headers: { 'X-Accepted-Stream-Protocol-Versions': server } } };
  }
  return { protocol };
}

/** Answers a request that will not be upgraded (plain text, then the connection closes). */
export function refuse(socket: Duplex, code: number, message: string, headers: Record<string, string[]> = {}): void {
  const reason: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' };
  const extra = Object.entries(headers).flatMap(([k, vs]) => vs.map((v) => `${k}: ${v}\r\n`)).join('');
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${code} ${reason[code] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The kubelet's default --streaming-connection-idle-timeout (4 h). */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 4 * 3_600_000;

/**
 * Closes an upgraded stream connection (exec, attach, port-forward; SPDY, WebSocket or SPDY
 * tunnelled in a WebSocket) once it has carried no bytes either way for `ms`, as the kubelet's
 * --streaming-connection-idle-timeout: spdystream's idle-aware framer and wsstream's deadlines
 * are reset by every frame read or written (PINGs too), so counting the connection's own
 * traffic is the same rule for every transport. The sessions see the connection end and stop
 * (an exec's process is ended, a port-forward's dials closed).
 */
export function closeWhenIdle(socket: Duplex, ms: number): void {
  const s = socket as Duplex & { setTimeout?: (ms: number, cb?: () => void) => unknown };
  if (!(ms > 0) || typeof s.setTimeout !== 'function') return;
  s.setTimeout(ms, () => socket.destroy());
}

/** Switches the connection to SPDY/3.1 with the negotiated protocol; the server's session. */
export function acceptSpdy(socket: Duplex, head: Buffer, protocol: string): SpdySession {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n${PROTOCOL_HEADER}: ${protocol}\r\nDate: ${new Date().toUTCString()}\r\n\r\n`);
  (socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  const session = new SpdySession(socket, 'server');
  if (head.length) socket.unshift(head);
  return session;
}

/**
 * A WebSocket as the byte stream of a SPDY session: each binary message carries the next
 * bytes (tunneling_connection.go); ending the stream closes the WebSocket normally.
 */
export function webSocketTunnel(ws: WebSocket): Duplex {
  const d = new Duplex({
    read() { if (ws.isPaused) ws.resume(); },
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb();
      ws.send(chunk, { binary: true }, () => cb());
    },
    final(cb) { if (ws.readyState === ws.OPEN) ws.close(1000); cb(); },
    destroy(err, cb) { if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate(); cb(err); },
  });
  ws.on('message', (m: Buffer, isBinary: boolean) => {
    if (!isBinary) { d.destroy(); return; } // as the tunnel's reader: "invalid message type received"
    if (!d.push(m)) ws.pause();
  });
  ws.on('close', () => { d.push(null); });
  ws.on('error', () => d.destroy());
  return d;
}
