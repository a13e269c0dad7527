/**
 * The node agent's HTTPS endpoint, at the kubelet's paths, which the API server relays pod
 * streams to (src/apiserver/nodeproxy.ts): `GET /containerLogs/{ns}/{pod}/{container}` with
 * follow, tailLines, timestamps, previous, sinceSeconds/sinceTime and limitBytes; `/exec/{ns}/{pod}/{container}`,
 * `/attach/{ns}/{pod}/{container}` and `/portForward/{ns}/{pod}` upgraded to WebSocket or
 * SPDY/3.1 (the transports are in streams/: remotecommand.ts, portforward.ts, spdy.ts,
 * upgrade.ts; the sessions in exec.ts, attach.ts). Clients must present a certificate
 * of the cluster CA in the system:masters group (the API server's); the serving certificate
 * is self-signed, made once per data root with openssl (the API server does not verify it,
 * as kube-apiserver does not by default).
 */
import https from 'node:https';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import type { ContainerEngine } from '../engine/container/engine.js';
import { ContainerPaths } from '../engine/container/state.js';
import { streamLogs } from '../engine/container/logs.js';
import type { SandboxManager } from '../engine/network/sandbox.js';
import { L } from './labels.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { acceptSpdy, closeWhenIdle, DEFAULT_STREAM_IDLE_TIMEOUT_MS, isSpdyUpgrade, negotiate, refuse, SPDY_TUNNEL_PREFIX, webSocketTunnel } from './streams/upgrade.js';
import { SpdySession } from './streams/spdy.js';
import { netnsDialer } from './streams/dial.js';
import { parsePorts, PORT_FORWARD_PROTOCOL, PORT_FORWARD_WS_PROTOCOLS, servePortForwardSpdy, servePortForwardWebSocket, type ForwardTarget } from './streams/portforward.js';
import {
  execStreamOptions, REMOTECOMMAND_SPDY_PROTOCOLS, REMOTECOMMAND_WS_PROTOCOLS, spdyExecIO, webSocketExecIO, type ExecIO,
} from './streams/remotecommand.js';
import { runExec } from './streams/exec.js';
import { runAttach } from './streams/attach.js';

const run = promisify(execFile);

// The token ws negotiates in place of kubectl's tunnelling subprotocol (see upgrade()).
const TUNNEL_STANDIN = 'skiff-spdy-tunnel';

/** Where the agent's serving certificate lives. */
async function servingCert(root: string, node: string): Promise<{ key: string; cert: string }> {
  const dir = path.join(root, 'agent');
  const key = path.join(dir, 'serving.key'), cert = path.join(dir, 'serving.crt');
  const read = async () => ({ key: await fs.readFile(key, 'utf8'), cert: await fs.readFile(cert, 'utf8') });
  try { return await read(); } catch { /* made below */ }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = await fs.mkdtemp(path.join(dir, '.cert-'));
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
    '-subj', `/CN=${node}`, '-keyout', path.join(tmp, 'k'), '-out', path.join(tmp, 'c')]);
  await fs.chmod(path.join(tmp, 'k'), 0o600);
  await fs.rename(path.join(tmp, 'k'), key);
  await fs.rename(path.join(tmp, 'c'), cert);
  await fs.rm(tmp, { recursive: true, force: true });
  return read();
}

/** The agent's stream server. */
export class AgentServer {
  private server?: https.Server;
  // Connections handed over to exec/port-forward: the HTTP server no longer ends them.
  private readonly upgraded = new Set<Duplex>();
  /** The port bound. */
  port = 0;

  constructor(private readonly o: {
    root: string; nodeName: string; engine: ContainerEngine; sandboxes: SandboxManager; clientCA: Buffer | string; host?: string; port?: number;
    /** More GET endpoints by path (the metrics ones, metrics/routes.ts). */
    routes?: Record<string, (req: IncomingMessage, res: ServerResponse, q: URLSearchParams) => Promise<void>>;
    /** Exec, attach and port-forward connections without traffic this long are closed (4 h, the kubelet's default). */
    streamIdleTimeoutMs?: number;
  }) {}

  /** Listens (default port 10250, as the kubelet). */
  async start(): Promise<void> {
    const { key, cert } = await servingCert(this.o.root, this.o.nodeName);
    this.server = https.createServer({ key, cert, ca: this.o.clientCA, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      this.route(req, res).catch((err) => {
        if (!res.headersSent) { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end(String((err as Error).message)); } else res.destroy();
      });
    });
    // The subprotocol is chosen per path in upgrade(): the offer is kept for it there.
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (ps, req) => (req as IncomingMessage & { pick?: (ps: Set<string>) => string | false }).pick?.(ps) ?? false });
    wss.on('headers', (headers) => {
      const i = headers.indexOf(`Sec-WebSocket-Protocol: ${TUNNEL_STANDIN}`);
      if (i >= 0) headers[i] = `Sec-WebSocket-Protocol: ${SPDY_TUNNEL_PREFIX}${PORT_FORWARD_PROTOCOL}`;
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      closeWhenIdle(socket, this.o.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS);
      this.upgrade(wss, req, socket, head).catch((err) => refuse(socket, 500, (err as Error).message));
    });
    await new Promise<void>((ok, fail) => {
      this.server!.once('error', fail);
      this.server!.listen(this.o.port ?? 10250, this.o.host ?? '0.0.0.0', () => ok());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and ends open streams (upgraded connections included, as a kubelet restart does). */
  async stop(): Promise<void> {
    if (!this.server) return;
    for (const s of this.upgraded) s.destroy();
    await new Promise<void>((ok) => { this.server!.close(() => ok()); this.server!.closeAllConnections(); });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    const groups = ([] as string[]).concat((peer?.subject as any)?.O ?? []);
    if (!groups.includes('system:masters')) return text(res, 403, 'Forbidden');
    const url = new URL(req.url ?? '/', 'https://agent');
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'GET' && segs[0] === 'containerLogs' && segs.length === 4) return this.logs(req, res, segs[1], segs[2], segs[3], url.searchParams);
    if (req.method === 'GET' && url.pathname === '/healthz') return text(res, 200, 'ok');
    const extra = req.method === 'GET' ? this.o.routes?.[url.pathname] : undefined;
    if (extra) return extra(req, res, url.searchParams);
    return text(res, 404, '404 page not found');
  }

  private async findContainer(ns: string, pod: string, container: string) {
    return (await this.o.engine.list(true, false)).filter((c) => {
      const l = c.options.labels ?? {};
      return l[L.podNamespace] === ns && l[L.podName] === pod && l[L.containerName] === container;
    }).sort((a, b) => Number(b.options.labels?.[L.restartCount] ?? 0) - Number(a.options.labels?.[L.restartCount] ?? 0));
  }

  /**
   * An upgrading request: exec/attach (`/exec|attach/{ns}/{pod}[/{uid}]/{container}`) or
   * port-forward (`/portForward/{ns}/{pod}[/{uid}]`), over a WebSocket (channels, or SPDY
   * tunnelled for port-forward) or SPDY/3.1.
   */
  private async upgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const groups = ([] as string[]).concat(((req.socket as TLSSocket).getPeerCertificate()?.subject as any)?.O ?? []);
    if (!groups.includes('system:masters')) return refuse(socket, 403, 'Forbidden');
    const spdy = isSpdyUpgrade(req);
    const ws = /\bwebsocket\b/i.test(String(req.headers.upgrade ?? ''));
    if (!spdy && !ws) return refuse(socket, 400, `unable to upgrade: unsupported Upgrade "${req.headers.upgrade ?? ''}"`);
    const accept = (pick: (ps: Set<string>) => string | false, then: (w: WebSocket) => void) => {
      Object.assign(req, { pick });
      // ws clears the socket's timeout when it completes the handshake: set it again after.
      wss.handleUpgrade(req, socket, head, (w) => { closeWhenIdle(socket, this.o.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS); then(w); });
    };
    if (segs[0] === 'portForward' && (segs.length === 3 || segs.length === 4)) {
      const target = await this.forwardTarget(segs[1], segs[2], segs[3]);
      if ('refuse' in target) return refuse(socket, target.refuse.code, target.refuse.message);
      if (spdy) {
        const n = negotiate(req, [PORT_FORWARD_PROTOCOL]);
        if ('refuse' in n) return refuse(socket, n.refuse.code, n.refuse.message, n.refuse.headers);
        return servePortForwardSpdy(acceptSpdy(socket, head, n.protocol), target);
      }
      const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      const tunnel = `${SPDY_TUNNEL_PREFIX}${PORT_FORWARD_PROTOCOL}`;
      if (offered.includes(tunnel)) {
        // "SPDY/3.1+…" is not an RFC 6455 token, which ws refuses: it negotiates a stand-in that
        // the 'headers' hook puts back (gorilla/websocket, kubectl's side, takes it as it is).
        req.headers['sec-websocket-protocol'] = TUNNEL_STANDIN;
        return accept(() => TUNNEL_STANDIN, (w) => servePortForwardSpdy(new SpdySession(webSocketTunnel(w), 'server'), target));
      }
      let ports: number[];
      try { ports = parsePorts(url.searchParams.getAll('port')); } catch (err) { return refuse(socket, 400, (err as Error).message); }
      return accept((ps) => [...ps].find((p) => PORT_FORWARD_WS_PROTOCOLS.includes(p)) ?? false, (w) => servePortForwardWebSocket(w, ports, target));
    }
    const kind = segs[0];
    if ((kind === 'exec' || kind === 'attach') && (segs.length === 4 || segs.length === 5)) {
      const [ns, pod, container] = [segs[1], segs[2], segs[segs.length - 1]];
      const opts = execStreamOptions(url.searchParams);
      if (!opts.stdin && !opts.stdout && !opts.stderr) return refuse(socket, 400, 'you must specify at least 1 of stdin, stdout, stderr');
      const cmd = url.searchParams.getAll('command');
      if (kind === 'exec' && !cmd.length) return refuse(socket, 400, 'you must specify at least one command for the container');
      // As the kubelet, a container without a running instance is refused before the upgrade.
      const rec = (await this.findContainer(ns, pod, container)).find((c) => c.status === 'running');
      if (!rec) return refuse(socket, 500, `container not found ("${container}")`);
      const run = (io: ExecIO) => (kind === 'exec' ? runExec(this.o.engine, rec.id, cmd, io) : runAttach(this.o.engine, rec.id, io));
      if (spdy) {
        const n = negotiate(req, REMOTECOMMAND_SPDY_PROTOCOLS);
        if ('refuse' in n) return refuse(socket, n.refuse.code, n.refuse.message, n.refuse.headers);
        const session = acceptSpdy(socket, head, n.protocol);
        const io = await spdyExecIO(session, n.protocol, opts).catch(() => undefined);
        if (io) await run(io);
        return;
      }
      return accept((ps) => REMOTECOMMAND_WS_PROTOCOLS.find((p) => ps.has(p)) ?? false, (w) => { void run(webSocketExecIO(w, opts)); });
    }
    return refuse(socket, 404, '404 page not found');
  }

  /** The pod's sandbox for port-forward, or the kubelet's refusal. */
  private async forwardTarget(ns: string, pod: string, uid?: string): Promise<ForwardTarget | { refuse: { code: number; message: string } }> {
    const mine = (await this.o.sandboxes.list()).filter((s) => s.labels?.[L.podNamespace] === ns && s.labels?.[L.podName] === pod && s.labels?.[L.node] === this.o.nodeName);
    if (!mine.length) return { refuse: { code: 404, message: 'pod does not exist' } };
    if (uid && !mine.some((s) => s.labels[L.podUid] === uid)) return { refuse: { code: 404, message: 'pod not found' } };
    const sb = mine.find((s) => s.state === 'ready' && (!uid || s.labels[L.podUid] === uid));
    if (!sb) return { refuse: { code: 500, message: `failed to find sandboxID for pod "${pod}_${ns}(${mine[0].labels[L.podUid]})"` } };
    // The CRI streaming server names the sandbox and no uid in its errors.
    // A pod in the host's network is reached in the agent's own network namespace (the host's).
    return { pod: sb.id, uid: '', dial: netnsDialer(sb.namespaces.net ?? `/proc/${process.pid}/ns/net`, sb.id) };
  }

  private async logs(req: IncomingMessage, res: ServerResponse, ns: string, pod: string, container: string, q: URLSearchParams): Promise<void> {
    const mine = await this.findContainer(ns, pod, container);
    const previous = q.get('previous') === 'true';
    const rec = previous ? mine[1] : mine[0];
    if (!rec) {
      return text(res, 400, previous ? `previous terminated container "${container}" in pod "${pod}" not found` : `container "${container}" in pod "${pod}" is waiting to start: ContainerCreating`);
    }
    const follow = q.get('follow') === 'true' && !previous;
    const tail = q.get('tailLines') !== null ? Number(q.get('tailLines')) : undefined;
    const limit = q.get('limitBytes') !== null ? Number(q.get('limitBytes')) : undefined;
    // sinceSeconds, or a later sinceTime, as the kubelet's NewLogOptions combines them.
    let since = q.get('sinceSeconds') !== null ? Date.now() - Number(q.get('sinceSeconds')) * 1000 : undefined;
    const sinceTime = q.get('sinceTime') !== null ? Date.parse(q.get('sinceTime')!) : NaN;
    if (!Number.isNaN(sinceTime) && (since === undefined || sinceTime > since)) since = sinceTime;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    // Both streams interleaved, as the kubelet serves them; limitBytes cuts the answer short.
    const out = new PassThrough();
    let sent = 0;
    const closed = new Promise<void>((r) => { res.once('close', () => r()); });
    out.on('data', (raw: Buffer) => {
      if (limit !== undefined && sent >= limit) return;
      const d = q.get('timestamps') === 'true' ? Buffer.from(rfc3339Nano(raw.toString('utf8'))) : raw;
      const chunk = limit !== undefined ? d.subarray(0, limit - sent) : d;
      sent += chunk.length;
      res.write(chunk);
    });
    const until = follow ? Promise.race([this.o.engine.wait(rec.id).catch(() => 0), closed]) : undefined;
    await streamLogs(new ContainerPaths(this.o.root, rec.id).log, out, out, { follow, tail, since, timestamps: q.get('timestamps') === 'true', until });
    res.end();
  }
}

/** A log line's CRI timestamp ("…+00:00") as kubectl shows it (RFC 3339 with nanoseconds, UTC "Z"). */
export function rfc3339Nano(line: string): string {
  return line.replace(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) /, (_m, base: string, frac = '', zone: string) => {
    if (zone === 'Z' || zone === '+00:00') return `${base}${frac}Z `;
    // Another zone: convert (sub-millisecond digits kept as they were).
    const ms = Date.parse(`${base}${frac.slice(0, 4)}${zone}`);
    return `${new Date(ms).toISOString().slice(0, 19)}${frac}Z `;
  });
}

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain' });
  res.end(body);
}
