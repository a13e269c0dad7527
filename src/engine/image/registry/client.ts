/**
 * An HTTP client for one registry, per the OCI distribution specification: it adds the
 * authorization a 401 challenge asks for (Basic, or a Bearer token fetched from the realm for
 * the request's scope, cached until it expires), follows blob redirects, and turns error
 * answers into Skiff's error classes with the registry's own message.
 *
 * Plain HTTP is used only for loopback registries or when the caller says the registry is
 * insecure; everything else is HTTPS.
 */
import { request, Agent, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { NotFoundError, UnauthorizedError, UnavailableError, InvalidArgumentError, SkiffError } from '../../../core/errors.js';
import { isLoopbackHost, registryHost } from '../reference.js';
import { type Credentials, basicAuth, parseChallenge } from './auth.js';

/** Options of a registry client. */
export interface RegistryClientOptions {
  /** Allow plain HTTP (and unverified TLS) for a non-loopback registry. */
  insecure?: boolean;
  /** Credentials for Basic auth and for token requests. */
  credentials?: Credentials;
  /** User-Agent sent with every request. */
  userAgent?: string;
}

/** What `send` returns: status, headers and the body as a stream. */
export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/** Options of one request. */
export interface SendOptions {
  headers?: Record<string, string>;
  body?: Buffer | Readable | string;
  /** Token scope, e.g. `repository:library/busybox:pull`. */
  scope?: string;
  /** Statuses the caller handles itself (others become errors). */
  ok?: number[];
}

const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
const insecureAgent = new Agent({ keepAliveTimeout: 10_000, connections: 16, connect: { rejectUnauthorized: false } });

/** A client for one registry domain (`127.0.0.1:5000`, `docker.io`). */
export class RegistryClient {
  /** `http://host` or `https://host`. */
  readonly base: string;
  /** The registry domain this client talks to. */
  readonly domain: string;
  private readonly opts: RegistryClientOptions;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private basic = false;

  constructor(domain: string, opts: RegistryClientOptions = {}) {
    this.domain = domain;
    this.opts = opts;
    const plain = isLoopbackHost(domain) || opts.insecure;
    this.base = `${plain ? 'http' : 'https'}://${registryHost(domain)}`;
  }

  /** Sends a request to a path under the registry (or an absolute URL from a Location). */
  async send(method: string, pathOrUrl: string, o: SendOptions = {}): Promise<RegistryResponse> {
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : this.base + pathOrUrl;
    let res = await this.raw(method, url, o, this.authHeader(o.scope));
    if (res.status === 401) {
      const challenge = parseChallenge(first(res.headers['www-authenticate']));
      await res.body.dump();
      const auth = await this.authorize(challenge, o.scope);
      if (auth && !(o.body && typeof o.body === 'object' && 'pipe' in o.body)) {
        res = await this.raw(method, url, o, auth);
      } else if (auth) {
        throw new UnavailableError(`${method} ${pathOrUrl}: authorization needed after the body was sent`);
      }
    }
    if (res.status === 401) {
      await res.body.dump();
      throw new UnauthorizedError(`unauthorized: authentication required by ${this.domain} (try skiff login ${this.domain})`);
    }
    if ((res.status === 302 || res.status === 303 || res.status === 307) && method === 'GET') {
      const loc = first(res.headers.location);
      await res.body.dump();
      if (!loc) throw new UnavailableError(`${this.domain} redirected without a location`);
      // Redirect targets (object stores) get no registry credentials.
      return this.raw('GET', new URL(loc, url).toString(), { headers: o.headers }, undefined);
    }
    if (res.status >= 400 && !(o.ok ?? []).includes(res.status)) {
      throw await this.errorFor(res, method, pathOrUrl);
    }
    return res;
  }

  private async raw(method: string, url: string, o: SendOptions, auth: string | undefined): Promise<RegistryResponse> {
    const headers: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'skiff/0.1', ...o.headers };
    if (auth) headers.authorization = auth;
    try {
      const r = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body: o.body,
        dispatcher: this.opts.insecure ? insecureAgent : agent,
        headersTimeout: 60_000,
        bodyTimeout: 120_000,
      });
      return { status: r.statusCode, headers: r.headers, body: r.body };
    } catch (err) {
      throw new UnavailableError(`cannot reach registry ${this.domain}: ${(err as Error).message}`, { cause: err });
    }
  }

  private authHeader(scope: string | undefined): string | undefined {
    if (this.basic && this.opts.credentials) return basicAuth(this.opts.credentials);
    const t = this.tokens.get(scope ?? '');
    if (t && t.expires > Date.now()) return `Bearer ${t.token}`;
    return undefined;
  }

  private async authorize(challenge: ReturnType<typeof parseChallenge>, scope: string | undefined): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      if (!this.opts.credentials) return undefined;
      this.basic = true;
      return basicAuth(this.opts.credentials);
    }
    const realm = challenge.params.realm;
    if (!realm) throw new UnavailableError(`${this.domain} sent a Bearer challenge without a realm`);
    const u = new URL(realm);
    if (challenge.params.service) u.searchParams.set('service', challenge.params.service);
    const wanted = scope ?? challenge.params.scope;
    if (wanted) for (const s of wanted.split(' ')) u.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (this.opts.credentials) headers.authorization = basicAuth(this.opts.credentials);
    let r;
    try {
      r = await request(u, { headers, dispatcher: this.opts.insecure ? insecureAgent : agent });
    } catch (err) {
      throw new UnavailableError(`cannot reach the token server ${u.origin}: ${(err as Error).message}`, { cause: err });
    }
    if (r.statusCode === 401 || r.statusCode === 403) {
      await r.body.dump();
      throw new UnauthorizedError(`unauthorized: ${this.domain} refused the credentials (try skiff login ${this.domain})`);
    }
    if (r.statusCode >= 400) {
      await r.body.dump();
      throw new UnavailableError(`token server ${u.origin} answered ${r.statusCode}`);
    }
    const body = (await r.body.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new UnavailableError(`token server ${u.origin} returned no token`);
    // Tokens live at least 60 s by the spec; keep a margin.
    this.tokens.set(scope ?? '', { token, expires: Date.now() + Math.max(30, (body.expires_in ?? 60) - 10) * 1000 });
    return `Bearer ${token}`;
  }

  private async errorFor(res: RegistryResponse, method: string, what: string): Promise<SkiffError> {
    let detail = '';
    try {
      const text = await res.body.text();
      const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (j.errors ?? []).map((e) => `${(e.code ?? '').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`.trim()).join('; ');
    } catch {
      // Not a distribution error body.
    }
    const msg = `${method} ${this.domain}${what}: ${detail || `HTTP ${res.status}`}`;
    if (res.status === 404) return new NotFoundError(detail ? `${detail} (${this.domain}${what})` : `not found: ${this.domain}${what}`);
    if (res.status === 403) return new UnauthorizedError(`denied: ${msg}`);
    if (res.status === 400 || res.status === 405 || res.status === 413 || res.status === 416) return new InvalidArgumentError(msg);
    return new UnavailableError(`registry error: ${msg}`);
  }
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
