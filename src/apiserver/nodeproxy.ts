/**
 * Pod streams through the API server, as Kubernetes proxies them to the kubelet: `pods/log`
 * (a plain streamed GET) and `pods/exec`, `pods/attach`, `pods/portforward` (connections that
 * upgrade to WebSocket or SPDY). The API server resolves the pod's node, checks the container,
 * then relays the request to the node agent's kubelet-style endpoint over TLS with its own
 * client certificate; after an upgrade it splices the two sockets and lets bytes through
 * untouched, so the stream protocols (channel.k8s.io v1-v5, SPDY) are the agent's business.
 *
 * Node agent endpoints (kubelet's paths), at the node's InternalIP and
 * status.daemonEndpoints.kubeletEndpoint.Port:
 *   GET  /containerLogs/{ns}/{pod}/{container}?follow&previous&tailLines&timestamps&sinceSeconds&sinceTime&limitBytes
 *   GET|POST /exec/{ns}/{pod}/{container}?command=...&stdin&stdout&stderr&tty   (upgrade)
 *   GET|POST /attach/{ns}/{pod}/{container}?stdin&stdout&stderr&tty              (upgrade)
 *   GET|POST /portForward/{ns}/{pod}?port=...                                    (upgrade)
 * As in Kubernetes' default configuration, the agent's serving certificate is not verified;
 * the agent verifies ours (signed by the cluster CA, O=system:masters).
 */
import https from 'node:https';
import tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Storage } from './storage.js';
import { BUILTIN, objectKey } from './resources.js';
import { decode } from './storage.js';
import { ApiError, badRequest, notFound } from './status.js';
import { kubeletEndpoint } from '../core/kubelet.js';

const PODS = BUILTIN.find((r) => r.resource === 'pods' && r.group === '')!;
const NODES = BUILTIN.find((r) => r.resource === 'nodes')!;

/** The streaming subresources of pods. */
export const STREAM_SUBRESOURCES = new Set(['log', 'exec', 'attach', 'portforward']);

/** The client identity the API server shows node agents. */
export interface NodeClientCredentials { cert: string; key: string }

/** Where a pod's stream goes. */
interface Target { host: string; port: number; path: string }

// Query parameters passed on to the agent, per subresource (others are dropped).
const PASS: Record<string, string[]> = {
  log: ['follow', 'previous', 'tailLines', 'timestamps', 'sinceSeconds', 'sinceTime', 'limitBytes'],
  exec: ['command', 'stdin', 'stdout', 'stderr', 'tty'],
  attach: ['stdin', 'stdout', 'stderr', 'tty'],
  portforward: [],
};

/** Proxies pod streams to node agents. */
export class NodeProxy {
  constructor(private readonly storage: Storage, private readonly creds: NodeClientCredentials) {}

  /** Resolves the agent URL for a pod stream request, with Kubernetes' errors for bad ones. */
  async target(ns: string, name: string, sub: string, q: URLSearchParams): Promise<Target> {
    const { kv } = await this.storage.backend.get(objectKey(PODS, ns, name));
    if (!kv) throw notFound(PODS, name);
    const pod = decode(kv);
    const out = new URLSearchParams();
    for (const k of PASS[sub] ?? []) for (const v of q.getAll(k)) out.append(k, v);
    let path: string;
    if (sub === 'portforward') {
      // PodPortForwardOptions.ports become the kubelet's `port` parameters (PortForwardLocation).
      for (const p of portForwardPorts(q)) out.append('port', String(p));
      path = `/portForward/${enc(ns)}/${enc(name)}`;
    } else {
      const container = pickContainer(pod, q.get('container'), sub);
      path = `/${sub === 'log' ? 'containerLogs' : sub}/${enc(ns)}/${enc(name)}/${enc(container)}`;
    }
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
    const node = await this.storage.backend.get(objectKey(NODES, undefined, nodeName));
    if (!node.kv) throw new ApiError(404, 'NotFound', `nodes "${nodeName}" not found`, { name: nodeName, kind: 'nodes' });
    const ep = kubeletEndpoint(decode(node.kv));
    if (!ep) throw new ApiError(503, 'ServiceUnavailable', `node ${nodeName} has no reachable agent endpoint (status.daemonEndpoints.kubeletEndpoint.Port)`);
    const qs = out.toString();
    return { ...ep, path: qs ? `${path}?${qs}` : path };
  }

  /** Serves GET pods/{name}/log by streaming the agent's answer. */
  async log(req: IncomingMessage, res: ServerResponse, ns: string, name: string, q: URLSearchParams): Promise<void> {
    const t = await this.target(ns, name, 'log', q);
    await new Promise<void>((done, fail) => {
      const up = https.request({ host: t.host, port: t.port, path: t.path, method: 'GET', cert: this.creds.cert, key: this.creds.key, rejectUnauthorized: false }, (ures) => {
        res.writeHead(ures.statusCode ?? 502, { 'Content-Type': ures.headers['content-type'] ?? 'text/plain', 'Cache-Control': 'no-cache' });
        res.flushHeaders();
        ures.pipe(res);
        ures.on('end', done);
        ures.on('error', done);
      });
      up.on('error', (err) => fail(new ApiError(502, 'ServiceUnavailable', `error dialing node agent at ${t.host}:${t.port}: ${err.message}`)));
      // The client went away (kubectl logs -f interrupted): stop following upstream.
      req.on('close', () => up.destroy());
      res.on('close', () => up.destroy());
      up.end();
    });
  }

  /**
   * Serves `nodes/{name}/proxy/{path}` as kube-apiserver does: the request (any method, its
   * body and headers less the client's credentials) relayed to the node's agent, the answer
   * streamed back as it comes (e.g. `/metrics/resource`, `/stats/summary`).
   */
  async proxyNode(req: IncomingMessage, res: ServerResponse, nodeName: string, path: string, search: string): Promise<void> {
    const node = await this.storage.backend.get(objectKey(NODES, undefined, nodeName));
    if (!node.kv) throw notFound(NODES, nodeName);
    const ep = kubeletEndpoint(decode(node.kv));
    if (!ep) throw new ApiError(503, 'ServiceUnavailable', `node ${nodeName} has no reachable agent endpoint (status.daemonEndpoints.kubeletEndpoint.Port)`);
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: `${ep.host}:${ep.port}` };
    delete headers.authorization;
    await new Promise<void>((done, fail) => {
      const up = https.request({ host: ep.host, port: ep.port, path: `${path || '/'}${search}`, method: req.method, headers, cert: this.creds.cert, key: this.creds.key, rejectUnauthorized: false }, (ures) => {
        const out = { ...ures.headers };
        delete out.connection;
        delete out['transfer-encoding'];
        res.writeHead(ures.statusCode ?? 502, out);
        ures.pipe(res);
        ures.on('end', done);
        ures.on('error', done);
      });
      up.on('error', (err) => fail(new ApiError(503, 'ServiceUnavailable', `error trying to reach service: ${err.message}`)));
      res.on('close', () => up.destroy());
      req.pipe(up);
    });
  }

  /**
   * Serves an upgrading request (exec/attach/portforward): opens TLS to the agent, replays the
   * request line and headers (credentials removed), then splices the sockets.
   */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ns: string, name: string, sub: string, q: URLSearchParams): Promise<void> {
    const t = await this.target(ns, name, sub, q);
    const up = tls.connect({ host: t.host, port: t.port, cert: this.creds.cert, key: this.creds.key, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((ok, fail) => {
      up.once('secureConnect', ok);
      up.once('error', (err) => fail(new ApiError(502, 'ServiceUnavailable', `error dialing node agent at ${t.host}:${t.port}: ${err.message}`)));
    });
    const lines = [`${req.method} ${t.path} HTTP/1.1`, `Host: ${t.host}:${t.port}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i];
      if (/^(host|authorization|content-length)$/i.test(k)) continue;
      lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
    }
    up.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length) up.write(head);
    // Either side gone ends the other: pipe() passes on only an orderly end, and a client that
    // vanished (or an agent that stopped) would otherwise leave its peer open until timeouts.
    socket.once('close', () => up.destroy());
    up.once('close', () => socket.destroy());
    socket.on('error', () => up.destroy());
    up.on('error', () => socket.destroy());
    socket.pipe(up);
    up.pipe(socket);
  }
}

function enc(s: string): string { return encodeURIComponent(s); }

/** The `ports` of a portforward request (repeated or comma-separated), validated as Kubernetes does. */
export function portForwardPorts(q: URLSearchParams): number[] {
  const out: number[] = [];
  for (const v of q.getAll('ports')) {
    for (const part of v.split(',')) {
      const t = part.trim();
      if (!/^\d+$/.test(t)) throw badRequest(`strconv.ParseInt: parsing "${t}": invalid syntax`);
      const n = Number(t);
      if (n < 1 || n > 65535) throw badRequest(`ports: Invalid value: ${n}: must be between 1 and 65535, inclusive`);
      out.push(n);
    }
  }
  return out;
}

/** The container a stream is for: named, the default-container annotation, or the only one. */
export function pickContainer(pod: any, requested: string | null, sub: string): string {
  const names: string[] = (pod.spec?.containers ?? []).map((c: any) => c.name);
  const init: string[] = (pod.spec?.initContainers ?? []).map((c: any) => c.name);
  const eph: string[] = (pod.spec?.ephemeralContainers ?? []).map((c: any) => c.name);
  const podName = pod.metadata.name;
  if (requested) {
    if (![...names, ...init, ...eph].includes(requested)) {
      throw badRequest(`container ${requested} is not valid for pod ${podName}`);
    }
    return requested;
  }
  const dflt = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  if (dflt && names.includes(dflt)) return dflt;
  if (names.length === 1) return names[0];
  const initPart = init.length ? ` or one of the init containers: [${init.join(' ')}]` : '';
  throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]${initPart}`);
}
