/**
 * A real registry for tests: Debian's docker-registry (distribution 2.8) bound to 127.0.0.1
 * on a free port with its storage in a temporary directory, optionally behind htpasswd Basic
 * auth or Docker token auth (with a small token server here that signs RS256 JWTs the
 * registry verifies against a certificate made by openssl). Always stopped by `stop()`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { createSign, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

const exec = promisify(execFile);

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, the domain to use in references. */
  host: string;
  /** Users accepted when auth is on. */
  users: Record<string, string>;
  stop(): Promise<void>;
}

/** Registry options. */
export interface RegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts docker-registry; resolves once it answers on /v2/. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-registry-'));
  const port = await freePort();
  const users = { alice: 'wonderland' };
  let authYaml = '';
  let tokenServer: http.Server | undefined;
  if (opts.auth === 'htpasswd') {
    const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`).join('\n');
    await fs.writeFile(path.join(dir, 'htpasswd'), lines + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: skiff-test\n    path: ${dir}/htpasswd\n`;
  } else if (opts.auth === 'token') {
    await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/token.key`, '-out', `${dir}/token.crt`, '-days', '2', '-subj', '/CN=skiff-test-token']);
    const key = await fs.readFile(`${dir}/token.key`, 'utf8');
    const certDer = (await fs.readFile(`${dir}/token.crt`, 'utf8')).replace(/-----[^-]+-----|\s/g, '');
    tokenServer = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization;
      let user: string | undefined;
      if (auth?.startsWith('Basic ')) {
        const [n, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
        if ((users as Record<string, string>)[n] !== p) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
          return;
        }
        user = n;
      }
      // Authenticated users get every action they ask for; anonymous users get nothing.
      const access = user ? u.searchParams.getAll('scope').map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop()!.split(',');
        return { type, name: rest.join(':'), actions };
      }) : [];
      const now = Math.floor(Date.now() / 1000);
      const token = signJwt({ x5c: [certDer] }, {
        iss: 'skiff-test-issuer', sub: user ?? '', aud: u.searchParams.get('service'),
        exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access,
      }, key);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((r) => tokenServer!.listen(0, '127.0.0.1', () => r()));
    const tport = (tokenServer.address() as net.AddressInfo).port;
    authYaml = `auth:\n  token:\n    realm: http://127.0.0.1:${tport}/token\n    service: skiff-test-registry\n    issuer: skiff-test-issuer\n    rootcertbundle: ${dir}/token.crt\n`;
  }
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${authYaml}`;
  await fs.writeFile(path.join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    if (tokenServer) await new Promise((r) => tokenServer!.close(r));
    await fs.rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    const ok = await new Promise<boolean>((resolve) => {
      http.get(`http://127.0.0.1:${port}/v2/`, (res) => { res.resume(); resolve(true); }).on('error', () => resolve(false));
    });
    if (ok) return { host: `127.0.0.1:${port}`, users, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`docker-registry did not start: ${stderr}`);
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

function signJwt(extraHeader: Record<string, unknown>, claims: Record<string, unknown>, keyPem: string): string {
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', ...extraHeader }));
  const body = b64url(JSON.stringify(claims));
  const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(keyPem);
  return `${head}.${body}.${b64url(sig)}`;
}

/**
 * An HTTP proxy in front of a registry that can misbehave: cut the first response of a blob
 * GET after `cutAfter` bytes, or answer 500 to blob GETs. Records the requests it saw.
 */
export async function startFaultyProxy(upstream: string, faults: { cutAfter?: number; fail500?: boolean }): Promise<{ host: string; seen: Array<{ method: string; url: string; range?: string }>; stop(): Promise<void> }> {
  const seen: Array<{ method: string; url: string; range?: string }> = [];
  const cut = new Set<string>();
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, range: req.headers.range });
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url!);
    if (isBlobGet && faults.fail500) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}');
      return;
    }
    const up = http.request(`http://${upstream}${req.url}`, { method: req.method, headers: { ...req.headers, host: upstream } }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      const cutThis = isBlobGet && faults.cutAfter !== undefined && !cut.has(req.url!) && Number(ur.headers['content-length'] ?? 0) > faults.cutAfter;
      if (!cutThis) {
        ur.pipe(res);
        return;
      }
      cut.add(req.url!);
      let sent = 0;
      ur.on('data', (chunk: Buffer) => {
        if (sent >= faults.cutAfter!) return;
        const part = chunk.subarray(0, faults.cutAfter! - sent);
        sent += part.length;
        res.write(part);
        if (sent >= faults.cutAfter!) {
          ur.destroy();
          res.socket?.destroy(); // the connection drops mid-blob
        }
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
