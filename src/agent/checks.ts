/**
 * The checks behind probes and lifecycle hooks, as the kubelet's probers make them: a command
 * in the container (exec, with its timeout enforced by killing the command), an HTTP GET from
 * the host to the pod IP (2xx/3xx succeed; redirects followed only to the same host; at most
 * 10), a TCP connect, and grpc.health.v1.Health/Check. Failures carry the kubelet's words (Go's
 * error texts: `dial tcp 10.0.0.5:80: connect: connection refused`, `HTTP probe failed with
 * statuscode: 500`), since users read them in events.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type * as Grpc from '@grpc/grpc-js';
import type { ContainerEngine } from '../engine/container/engine.js';

/** What a check found, in the kubelet's probe.Result words; `error` means it could not be made. */
export interface CheckOutcome {
  result: 'success' | 'warning' | 'failure' | 'unknown';
  output: string;
  error?: string;
}

/** The outcome of a command run in a container. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the command could not be run at all (not running, no such executable). */
  error?: string;
}

/** Runs a command in a running container; `timeoutMs` kills it, as does `signal`. */
export type ContainerExec = (containerId: string, cmd: string[], opts?: { timeoutMs?: number; signal?: AbortSignal }) => Promise<ExecResult>;

/**
 * Runs `fn` after `ms`, then once more round the event loop: a loop held up past the deadline
 * (a busy agent) must not count an answer already waiting in the poll queue as a timeout.
 */
function deadlineTimer(ms: number, fn: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(fn), ms);
}

/** The kubelet reads at most 10 KiB of a probe's output. */
const MAX_OUTPUT = 10 * 1024;

/** The User-Agent of probe requests ("kube-probe/1.33") and hook requests ("kube-lifecycle/1.33"). */
export const PROBE_AGENT = 'kube-probe/1.33';
export const LIFECYCLE_AGENT = 'kube-lifecycle/1.33';

/** Container exec through the engine (runc exec), killing the command itself on a timeout or abort. */
export function engineExec(engine: ContainerEngine): ContainerExec {
  return async (id, cmd, opts = {}) => {
    const pidFile = path.join(os.tmpdir(), `skiff-exec-${randomBytes(6).toString('hex')}.pid`);
    let started;
    try {
      started = await engine.execPiped(id, { cmd, pidFile });
    } catch (err) {
      return { code: -1, stdout: '', stderr: '', timedOut: false, error: (err as Error).message };
    }
    const { child, done } = started;
    const out: Buffer[] = [], errs: Buffer[] = [];
    let size = 0;
    const keep = (into: Buffer[]) => (d: Buffer) => { if (size < MAX_OUTPUT) { into.push(d.subarray(0, MAX_OUTPUT - size)); size += d.length; } };
    child.stdout!.on('data', keep(out));
    // The runtime's own complaints ("runc exec failed") are the error, not the command's stderr.
    child.stderr!.on('data', (d: Buffer) => { if (!/level=error|runc exec failed/.test(d.toString())) keep(errs)(d); });
    let timedOut = false;
    // The command in the container by its PID, then runc (which forwards catchable signals only).
    const kill = () => started.kill();
    let exited = false;
    const timer = opts.timeoutMs !== undefined ? deadlineTimer(opts.timeoutMs, () => { if (!exited) { timedOut = true; void kill(); } }) : undefined;
    child.once('exit', () => { exited = true; });
    const onAbort = () => { void kill(); };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await done;
      return { code: r.code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errs).toString(), timedOut, ...(r.message && !timedOut ? { error: r.message } : {}) };
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      await fs.rm(pidFile, { force: true });
    }
  };
}

/** An exec probe: exit 0 succeeds; a timeout fails with the kubelet's "command ... timed out". */
export async function execCheck(exec: ContainerExec, id: string, cmd: string[], timeoutMs: number): Promise<CheckOutcome> {
  const r = await exec(id, cmd, { timeoutMs });
  if (r.timedOut) return { result: 'failure', output: `command ${JSON.stringify(cmd.join(' '))} timed out` };
  if (r.error) return { result: 'unknown', output: '', error: r.error };
  return { result: r.code === 0 ? 'success' : 'failure', output: r.stdout + r.stderr };
}

/** host:port as Go's net.JoinHostPort writes it. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A probe's or hook's port: a number, or the name of one of the container's ports, or a
 * number written as a string (the kubelet's extractPort). Throws the kubelet's error otherwise.
 */
export function resolvePort(port: unknown, container: any): number {
  let n: number;
  if (typeof port === 'number') n = port;
  else {
    const s = String(port ?? '');
    const named = (container?.ports ?? []).find((p: any) => p?.name === s);
    if (named) n = Number(named.containerPort);
    else if (/^[+-]?\d+$/.test(s)) n = Number(s);
    else throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  }
  if (!(n > 0 && n < 65536)) throw new Error(`invalid port number: ${n}`);
  return n;
}

/** Go's text for a failed dial or read (what users see in kubelet events). */
function goNetError(err: NodeJS.ErrnoException, host: string, port: number): string {
  const addr = joinHostPort(host, port);
  switch (err.code) {
    case 'ECONNREFUSED': return `dial tcp ${addr}: connect: connection refused`;
    case 'EHOSTUNREACH': return `dial tcp ${addr}: connect: no route to host`;
    case 'ENETUNREACH': return `dial tcp ${addr}: connect: network is unreachable`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `dial tcp: lookup ${host}: no such host`;
    case 'ECONNRESET': return err.message === 'socket hang up' ? 'EOF' : 'read: connection reset by peer';
    default: return err.message;
  }
}

/** What an HTTP GET ended with. */
export interface HttpAnswer { status: number; body: string }

/** Options of an HTTP GET as the kubelet makes it. */
export interface HttpGetOptions {
  headers: [string, string][];
  /** The whole exchange's limit (hooks have none). */
  timeoutMs?: number;
  /** Ends the request (a hook whose container goes away). */
  signal?: AbortSignal;
  userAgent: string;
  /** Follow redirects to other hosts (hooks: yes; probes: no, the kubelet stops and warns). */
  followNonLocal: boolean;
}

/** A probe's or hook's URL: scheme, host (default the pod IP), resolved port, path (default "/"). */
export function actionURL(action: any, container: any, podIP: string): URL {
  const scheme = String(action?.scheme ?? 'HTTP').toLowerCase();
  const host = action?.host || podIP;
  const port = resolvePort(action?.port, container);
  let p = String(action?.path ?? '');
  if (!p.startsWith('/')) p = `/${p}`;
  return new URL(`${scheme}://${joinHostPort(host, port)}${p}`);
}

/**
 * A request's headers as the kubelet builds them: the action's headers grouped by name (values
 * of a repeated name all sent), User-Agent and Accept (any type) unless given (an empty Accept
 * removes it); a Host header names the host asked for.
 */
export function requestHeaders(given: [string, string][], userAgent: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of given) {
    const key = Object.keys(out).find((h) => h.toLowerCase() === k.toLowerCase()) ?? k;
    (out[key] ??= []).push(v);
  }
  const has = (n: string) => Object.keys(out).find((h) => h.toLowerCase() === n.toLowerCase());
  if (!has('user-agent')) out['User-Agent'] = [userAgent];
  const accept = has('accept');
  if (!accept) out.Accept = ['*/*'];
  else if (!out[accept][0]) delete out[accept];
  const host = has('host');
  if (host) out[host] = [out[host][0]];
  out.Connection = ['close'];
  return out;
}

/**
 * One GET with Go's http.Client behaviour: no keep-alive, no compression, TLS without
 * verification, redirects (301/302/303/307/308) followed up to 10, to other hosts only when
 * asked (else the 3xx is the answer); the timeout covers the whole exchange. Rejects with Go's
 * `Get "url": ...` error text.
 */
export function httpGet(url: URL, o: HttpGetOptions): Promise<HttpAnswer> {
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
  const first = url.hostname;
  const once = (u: URL, hops: number): Promise<HttpAnswer> => new Promise((resolve, reject) => {
    // One value as a string: Node refuses an array for Host.
    const headers = Object.fromEntries(Object.entries(requestHeaders(o.headers, o.userAgent)).map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
    const fail = (msg: string) => reject(new Error(`Get ${JSON.stringify(u.toString())}: ${msg}`));
    const left = deadline - Date.now();
    if (left <= 0) return fail('context deadline exceeded (Client.Timeout exceeded while awaiting headers)');
    const mod = u.protocol === 'https:' ? https : http;
    const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const req = mod.request({ host, port, path: `${u.pathname}${u.search}`, method: 'GET', headers, agent: false, rejectUnauthorized: false }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        res.resume();
        let next: URL;
        try { next = new URL(location, u); } catch { return fail(`failed to parse Location header ${JSON.stringify(location)}`); }
        if (!o.followNonLocal && next.hostname !== first) return resolve({ status, body: '' });
        if (hops >= 10) return reject(new Error(`Get ${JSON.stringify(next.toString())}: stopped after 10 redirects`));
        clearTimeout(timer);
        return once(next, hops + 1).then(resolve, reject);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => { if (size < MAX_OUTPUT) { chunks.push(d.subarray(0, MAX_OUTPUT - size)); size += d.length; } });
      res.on('end', () => { clearTimeout(timer); resolve({ status, body: Buffer.concat(chunks).toString() }); });
      res.on('error', (err) => { clearTimeout(timer); fail(err.message); });
    });
    const timer = Number.isFinite(left) ? deadlineTimer(left, () => { req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_CLIENT' })); }) : undefined;
    if (o.signal?.aborted) req.destroy(new Error('context canceled'));
    o.signal?.addEventListener('abort', () => req.destroy(new Error('context canceled')), { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ETIMEDOUT_CLIENT') return fail('context deadline exceeded (Client.Timeout exceeded while awaiting headers)');
      fail(goNetError(err, host, port));
    });
    req.end();
  });
  return once(url, 0);
}

/** An httpGet probe: 200–399 succeed (a redirect it did not follow is a warning), else the status code. */
export async function httpCheck(url: URL, headers: [string, string][], timeoutMs: number): Promise<CheckOutcome> {
  try {
    const r = await httpGet(url, { headers, timeoutMs, userAgent: PROBE_AGENT, followNonLocal: false });
    if (r.status >= 200 && r.status < 400) {
      if (r.status >= 300) return { result: 'warning', output: `Probe terminated redirects, Response body: ${r.body}` };
      return { result: 'success', output: r.body };
    }
    return { result: 'failure', output: `HTTP probe failed with statuscode: ${r.status}` };
  } catch (err) {
    return { result: 'failure', output: (err as Error).message };
  }
}

/** A tcpSocket probe: the connection opens (and is closed at once). */
export function tcpCheck(host: string, port: number, timeoutMs: number): Promise<CheckOutcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const timer = deadlineTimer(timeoutMs, () => { sock.destroy(); resolve({ result: 'failure', output: `dial tcp ${joinHostPort(host, port)}: i/o timeout` }); });
    sock.once('connect', () => { clearTimeout(timer); sock.destroy(); resolve({ result: 'success', output: '' }); });
    sock.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve({ result: 'failure', output: goNetError(err, host, port) }); });
  });
}

/** Protobuf of grpc.health.v1.HealthCheckRequest { string service = 1; }. */
export function encodeHealthRequest(service: string): Buffer {
  if (!service) return Buffer.alloc(0);
  const b = Buffer.from(service, 'utf8');
  const len: number[] = [];
  for (let n = b.length; ; n >>>= 7) { if (n < 0x80) { len.push(n); break; } len.push((n & 0x7f) | 0x80); }
  return Buffer.concat([Buffer.from([0x0a, ...len]), b]);
}

/** The status field of grpc.health.v1.HealthCheckResponse (unknown fields skipped). */
export function decodeHealthStatus(buf: Buffer): number {
  let i = 0, status = 0;
  const varint = () => { let v = 0, shift = 0; for (;;) { const b = buf[i++]; v += (b & 0x7f) * 2 ** shift; if (b < 0x80 || i >= buf.length) return v; shift += 7; } };
  while (i < buf.length) {
    const key = varint(), field = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) { const v = varint(); if (field === 1) status = v; }
    else if (wire === 1) i += 8;
    else if (wire === 2) i += varint();
    else if (wire === 5) i += 4;
    else break;
  }
  return status;
}

const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** @grpc/grpc-js and a Health client, loaded on the first grpc probe (most agents never need them). */
let grpcLib: Promise<{ grpc: typeof Grpc; Health: Grpc.ServiceClientConstructor }> | undefined;
function loadGrpc() {
  return grpcLib ??= import('@grpc/grpc-js').then((grpc) => ({
    grpc,
    Health: grpc.makeGenericClientConstructor({
      Check: {
        path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false,
        requestSerialize: (service: string) => encodeHealthRequest(service),
        requestDeserialize: (b: Buffer) => b.toString(),
        responseSerialize: (n: number) => Buffer.from([0x08, n]),
        responseDeserialize: (b: Buffer) => decodeHealthStatus(b),
      },
    }, 'Health'),
  }));
}

/** Go's rendering of a duration of whole seconds ("1s", "1m0s"). */
function goSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

/** A grpc probe: grpc.health.v1.Health/Check answers SERVING (the kubelet's messages otherwise). */
export async function grpcCheck(host: string, port: number, service: string, timeoutMs: number): Promise<CheckOutcome> {
  const { grpc, Health } = await loadGrpc();
  const addr = joinHostPort(host, port);
  const client = new Health(addr, grpc.credentials.createInsecure(), { 'grpc.primary_user_agent': PROBE_AGENT });
  const deadline = Date.now() + timeoutMs;
  return new Promise<CheckOutcome>((resolve) => {
    client.waitForReady(deadline, (err) => {
      if (err) return resolve({ result: 'failure', output: `timeout: failed to connect service ${JSON.stringify(addr)} within ${goSeconds(timeoutMs)}: context deadline exceeded` });
      (client as any).Check(service, new grpc.Metadata(), { deadline }, (e: Grpc.ServiceError | null, status: number) => {
        if (e) {
          if (e.code === grpc.status.UNIMPLEMENTED) return resolve({ result: 'failure', output: `this server does not implement the grpc health protocol (grpc.health.v1.Health): ${e.details}` });
          if (e.code === grpc.status.DEADLINE_EXCEEDED) return resolve({ result: 'failure', output: `timeout: health rpc did not complete within ${goSeconds(timeoutMs)}` });
          const code = (grpc.status as unknown as Record<number, string>)[e.code] ?? String(e.code);
          const name = code.split('_').map((w) => w[0] + w.slice(1).toLowerCase()).join('');
          return resolve({ result: 'failure', output: `error: health rpc probe failed: rpc error: code = ${name} desc = ${e.details}` });
        }
        if (status !== 1) return resolve({ result: 'failure', output: `service unhealthy (responded with ${JSON.stringify(SERVING_STATUS[status] ?? String(status))})` });
        resolve({ result: 'success', output: 'service healthy' });
      });
    });
  }).finally(() => client.close());
}
