/**
 * The node agent's HTTPS endpoint, at the kubelet's paths, which the API server relays pod
 * streams to (src/apiserver/nodeproxy.ts): `GET /containerLogs/{ns}/{pod}/{container}` with
 * follow, tailLines, timestamps, previous and limitBytes. Clients must present a certificate
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
import { PassThrough } from 'node:stream';
import type { ContainerEngine } from '../engine/container/engine.js';
import { ContainerPaths } from '../engine/container/state.js';
import { streamLogs } from '../engine/container/logs.js';
import { L } from './labels.js';
import { WebSocketServer, type WebSocket } from 'ws';

/** The stream protocols the exec endpoint speaks (channel byte first in every message). */
const CHANNEL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const run = promisify(execFile);

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
  /** The port bound. */
  port = 0;

  constructor(private readonly o: {
    root: string; nodeName: string; engine: ContainerEngine; clientCA: Buffer | string; host?: string; port?: number;
    /** More GET endpoints by path (the metrics ones, metrics/routes.ts). */
    routes?: Record<string, (req: IncomingMessage, res: ServerResponse, q: URLSearchParams) => Promise<void>>;
  }) {}

  /** Listens (default port 10250, as the kubelet). */
  async start(): Promise<void> {
    const { key, cert } = await servingCert(this.o.root, this.o.nodeName);
    this.server = https.createServer({ key, cert, ca: this.o.clientCA, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      this.route(req, res).catch((err) => {
        if (!res.headersSent) { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end(String((err as Error).message)); } else res.destroy();
      });
    });
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (ps) => CHANNEL_PROTOCOLS.find((p) => ps.has(p)) ?? false });
    this.server.on('upgrade', (req: IncomingMessage, socket, head) => {
      const url = new URL(req.url ?? '/', 'https://agent');
      const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const groups = ([] as string[]).concat(((req.socket as TLSSocket).getPeerCertificate()?.subject as any)?.O ?? []);
      if (!groups.includes('system:masters') || segs[0] !== 'exec' || segs.length !== 4) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => { void this.exec(ws, segs[1], segs[2], segs[3], url.searchParams); });
    });
    await new Promise<void>((ok, fail) => {
      this.server!.once('error', fail);
      this.server!.listen(this.o.port ?? 10250, this.o.host ?? '0.0.0.0', () => ok());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and ends open streams. */
  async stop(): Promise<void> {
    if (!this.server) return;
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

  /** kubectl exec (no terminal): the command's stdio over the channel protocol, its exit as a Status. */
  private async exec(ws: WebSocket, ns: string, pod: string, container: string, q: URLSearchParams): Promise<void> {
    const send = (ch: number, data: Buffer | string) => { if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data)])); };
    const finish = (status: object) => { send(3, JSON.stringify({ metadata: {}, ...status })); ws.close(1000); };
    const failure = (message: string, code?: number) => finish({
      status: 'Failure', message, reason: code === undefined ? 'InternalError' : 'NonZeroExitCode',
      ...(code === undefined ? {} : { details: { causes: [{ reason: 'ExitCode', message: String(code) }] } }),
    });
    // stdin may arrive before the command has started: keep it until then.
    const early: Buffer[] = [];
    let deliver: (m: Buffer) => void = (m) => { early.push(m); };
    ws.on('message', (m: Buffer) => deliver(m));
    try {
      const rec = (await this.findContainer(ns, pod, container))[0];
      if (!rec || rec.status !== 'running') return failure(`container ${container} is not valid for pod ${pod}`);
      if (q.get('tty') === 'true') return failure('a terminal (exec -t) is not supported by this node agent yet');
      const cmd = q.getAll('command');
      const { child, done } = await this.o.engine.execPiped(rec.id, { cmd, interactive: q.get('stdin') === 'true' });
      child.stdout!.on('data', (d: Buffer) => send(1, d));
      // The runtime's own complaints are reported in the Status, not as the command's stderr.
      child.stderr!.on('data', (d: Buffer) => { const t = d.toString(); if (!/level=error|runc exec failed/.test(t)) send(2, d); });
      deliver = (m: Buffer) => {
        if (m[0] === 0) child.stdin?.write(m.subarray(1));
        else if (m[0] === 255 && m[1] === 0) child.stdin?.end();
      };
      for (const m of early.splice(0)) deliver(m);
      ws.on('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
      const { code, message } = await done;
      if (code === 0) return finish({ status: 'Success' });
      return failure(message ?? `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${code}`, code);
    } catch (err) {
      failure((err as Error).message);
    }
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
    await streamLogs(new ContainerPaths(this.o.root, rec.id).log, out, out, { follow, tail, timestamps: q.get('timestamps') === 'true', until });
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
