/**
 * The Kubernetes API server: HTTPS with the generated CA and certificates, authentication by
 * client certificate or bearer token (anything else: 401), impersonation, RBAC authorization
 * (authz/: 403 when denied; system:masters always passes), then discovery, OpenAPI v3, health
 * and version endpoints, and the resource handlers. `startApiServer` is the one entry point.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Backend } from '../store/types.js';
import { InvalidArgumentError, UnavailableError } from '../core/errors.js';
import { ensureCredentials, type Credentials } from './certs.js';
import { Catalog } from './catalog.js';
import { Storage } from './storage.js';
import { makeHooks } from './hooks.js';
import { Handlers } from './handlers.js';
import { NamespaceController, bootstrapNamespaces } from './namespaces.js';
import { GarbageCollector } from './gc.js';
import { ApiMetrics, verbOf } from './metrics.js';
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, wantsAggregated } from './discovery.js';
import { OpenApiCache } from './openapi.js';
import { decodeBody, parseResourcePath, readBody, send, type ResourcePath as ResourcePathT } from './request.js';
import { ApiError, badRequest, toApiError } from './status.js';
import { openStore } from './store.js';
import { NodeProxy, STREAM_SUBRESOURCES } from './nodeproxy.js';
import { bootstrapPriorityClasses } from './admission/pods.js';
import { reconcileKubernetesService } from './kubernetes-service.js';
import { evictPod } from './admission/eviction.js';
import { AggregatedApis } from './aggregated.js';
import type { AggregatedApi } from '../core/aggregated.js';
import type { Registry } from 'prom-client';
import { ISSUER, SigningKey } from './serviceaccount/jwt.js';
import { ServiceAccountAuthenticator } from './serviceaccount/authenticator.js';
import { requestToken } from './serviceaccount/tokenrequest.js';
import { RbacAuthorizer } from './authz/rbac.js';
import { reconcileBootstrapPolicy } from './authz/bootstrap.js';
import { AggregationController } from './authz/aggregation.js';
import { requestAttributes, CREATE_ON_UPGRADE } from './authz/attributes.js';
import { impersonate } from './authz/impersonation.js';
import { AUTHENTICATED, MASTERS, forbidden, type UserInfo } from './authz/rules.js';

/** How to run the server. */
export interface ApiServerOptions {
  /** Data root: credentials under <root>/server, kubeconfig at <root>/kubeconfig.yaml. */
  root: string;
  /** Listen address (default 127.0.0.1; 0.0.0.0 or :: for every address). */
  listen?: string;
  /**
   * The address published to the cluster (kube-apiserver's --advertise-address): the
   * `kubernetes` Service's endpoint, which pods must reach. Default: the listen address, or
   * 127.0.0.1 for a wildcard listen.
   */
  advertiseAddress?: string;
  /** Port (default 6443; 0 picks a free one). */
  port?: number;
  /** Store URL: sqlite://PATH (default <root>/server/state.db), etcd://HOST:PORT or memory://. */
  store?: string;
  /** A ready backend instead of `store` (tests). */
  backend?: Backend;
  /** Interval of watch BOOKMARK events (default 60 s). */
  bookmarkMs?: number;
  /** More Prometheus registries served at /metrics beside the server's own (the scheduler's, the controllers'). */
  metricsRegistries?: Registry[];
}

/** A running server. */
export interface ApiServer {
  url: string;
  port: number;
  kubeconfig: string;
  credentials: Credentials;
  /** Serves an aggregated API group-version (as an APIService would); returns its removal. */
  aggregate(api: AggregatedApi): () => void;
  /** Stops accepting, ends watches, closes the store. */
  close(): Promise<void>;
}

/** The version this server reports (the API level it implements). */
export const SERVER_VERSION = {
  major: '1', minor: '33', gitVersion: 'v1.33.0+skiff', gitCommit: '', gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z', goVersion: `node${process.versions.node}`, compiler: 'tsc', platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

/** Who a request authenticated as. */
type User = UserInfo;

/**
 * Certificate identities per connection (null: the connection has none): a TLS session's peer
 * never changes, and parsing it is costly.
 */
const certUsers = new WeakMap<TLSSocket, User | null>();

function authenticate(req: IncomingMessage, token: Buffer): User | undefined {
  const sock = req.socket as TLSSocket;
  if (sock.authorized) {
    let user = certUsers.get(sock);
    if (user === undefined) {
      // A resumed TLS session of a client that sent no certificate also reads as authorized:
      // only a certificate with a subject names a user (else the bearer token is looked at).
      const cert = sock.getPeerCertificate();
      const o = cert?.subject?.O;
      user = cert?.subject ? { name: String(cert.subject.CN ?? ''), groups: [...(o ? ([] as string[]).concat(o) : []), AUTHENTICATED] } : null;
      certUsers.set(sock, user);
    }
    if (user) return user;
  }
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) {
    const given = Buffer.from(h.slice(7).trim());
    if (given.length === token.length && timingSafeEqual(given, token)) return ADMIN;
  }
  return undefined;
}

const ADMIN: User = { name: 'admin', groups: [MASTERS, AUTHENTICATED] };

/** Whether a request carries Impersonate-* headers (a scan of the raw headers: cheaper than building headersDistinct). */
function wantsImpersonation(req: IncomingMessage): boolean {
  const h = req.rawHeaders;
  for (let i = 0; i < h.length; i += 2) if (h[i].length > 12 && h[i].slice(0, 12).toLowerCase() === 'impersonate-') return true;
  return false;
}

const HEALTH = /^\/(healthz|livez|readyz)(\/.*)?$/;
/** nodes/{name}/proxy/{path}: relayed to the node's agent. */
const NODE_PROXY = /^\/api\/v1\/nodes\/([^/]+)\/proxy(\/.*)?$/;

/** Starts the API server; resolves once it listens. */
export async function startApiServer(o: ApiServerOptions): Promise<ApiServer> {
  const listen = o.listen ?? '127.0.0.1';
  const wildcard = listen === '0.0.0.0' || listen === '::';
  // A wildcard listen has no single address to publish or dial: loopback stands for it.
  const advertise = o.advertiseAddress ?? (wildcard ? '127.0.0.1' : listen);
  const local = wildcard ? (listen === '::' ? '::1' : '127.0.0.1') : listen;
  const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) throw new InvalidArgumentError(`invalid port ${o.port}`);
  const opened = o.backend ? { backend: o.backend, serverCompacts: false } : await openStore(o.store, o.root);
  const backend = opened.backend;
  const catalog = new Catalog();
  let nsc: NamespaceController | undefined;
  let gc: GarbageCollector | undefined;
  // The kubeconfig needs the URL, the URL needs the port: credentials first, rewritten once listening.
  const creds0 = await ensureCredentials(o.root, `https://${bracket(local)}:${o.port ?? 6443}`, [advertise]);
  // RBAC objects are cached from the store's watch; the write hook feeds it this server's own writes at once.
  const rbac = new RbacAuthorizer(backend);
  const storage: Storage = new Storage(backend, makeHooks(catalog, () => storage, () => nsc, creds0.caCert, () => gc, () => rbac));
  // CRDs first: their resources must be served before the first request.
  const crds = catalog.lookup('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  for (const crd of (await storage.list(crds, undefined, {})).items) catalog.applyCrd(crd);
  await bootstrapNamespaces(storage);
  await bootstrapPriorityClasses(storage);
  await rbac.start();
  await reconcileBootstrapPolicy(storage, catalog);
  new AggregationController(rbac, storage, catalog).start();
  gc = new GarbageCollector(storage, catalog);
  void gc.sweep().catch(() => {}); // in the background: serving starts at once
  nsc = new NamespaceController(storage, catalog);
  await nsc.start();
  const handlers = new Handlers(storage, catalog, { bookmarkMs: o.bookmarkMs });
  // Node agents are reached with the admin identity (O=system:masters), as kube-apiserver's kubelet client.
  const nodeProxy = new NodeProxy(storage, { cert: creds0.adminCert, key: creds0.adminKey });
  const isPodStream = (r: ResourcePathT) => r.group === '' && r.resource === 'pods' && !!r.name && !!r.namespace && STREAM_SUBRESOURCES.has(r.subresource ?? '');
  const metrics = new ApiMetrics(o.metricsRegistries);
  const aggregated = new AggregatedApis();
  const openapi = new OpenApiCache(() => ({ version: catalog.version, byGv: catalog.byGroupVersion(), schemaOf: catalog.schemaOf }));

  const token = Buffer.from(creds0.token);
  // Service account tokens: issued by the TokenRequest API, accepted as bearer tokens.
  const saKey = await SigningKey.load(o.root);
  const saAuth = new ServiceAccountAuthenticator(storage, catalog, saKey);
  const bearer = async (req: IncomingMessage): Promise<User | undefined> => {
    const h = req.headers.authorization;
    const u = h?.startsWith('Bearer ') ? (await saAuth.authenticate(h.slice(7).trim())).user : undefined;
    return u && { ...u, groups: [...u.groups, AUTHENTICATED] };
  };
  /**
   * Authentication, impersonation and authorization of one request: the user it runs as, or
   * 401 (no valid credentials) / 403 (RBAC denies; system:masters is never asked about).
   */
  const admit = async (req: IncomingMessage, url: URL): Promise<User> => {
    let user = authenticate(req, token) ?? await bearer(req);
    if (!user) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    if (wantsImpersonation(req)) user = impersonate(req, user, (a) => rbac.authorize(a));
    if (user.groups.includes(MASTERS)) return user;
    const a = requestAttributes(user, req.method ?? 'GET', url.pathname, url.searchParams);
    const d = rbac.authorize(a);
    if (!d.allowed) throw forbidden(a, d.reason);
    // A WebSocket handshake is a GET; running a command or forwarding a port also needs create.
    if (a.verb === 'get' && req.headers.upgrade && a.resource === 'pods' && CREATE_ON_UPGRADE.has(a.subresource)) {
      const c = { ...a, verb: 'create' };
      const d2 = rbac.authorize(c);
      if (!d2.allowed) throw forbidden(c, d2.reason);
    }
    return user;
  };
  let address = '';

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (HEALTH.test(path) && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end('ok');
    }
    const user = await admit(req, url);
    // For access and token reviews, and the escalation checks of RBAC writes.
    Object.assign(req, { user, authz: rbac, token: creds0.token, reviewToken: (t: string, aud?: string[]) => saAuth.authenticate(t, aud?.length ? aud : undefined) });
    const np = NODE_PROXY.exec(url.pathname);
    if (np) return nodeProxy.proxyNode(req, res, decodeURIComponent(np[1]), np[2] ?? '/', url.search);
    const r = parseResourcePath(path);
    if (r && r.group === '' && r.resource === 'pods' && r.subresource === 'eviction' && r.name && r.namespace) {
      if (req.method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      const body = decodeBody(await readBody(req), req.headers['content-type']);
      return send(res, 201, await evictPod(storage, r.namespace, r.name, body));
    }
    if (r && r.group === '' && r.resource === 'serviceaccounts' && r.subresource === 'token' && r.name && r.namespace) {
      if (req.method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      const body = decodeBody(await readBody(req), req.headers['content-type']);
      return send(res, 201, await requestToken(storage, catalog, saKey, r.namespace, r.name, body));
    }
    if (r && isPodStream(r)) {
      if (r.subresource !== 'log') throw badRequest('Upgrade request required');
      return nodeProxy.log(req, res, r.namespace!, r.name!, url.searchParams);
    }
    if (r) {
      const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const labels = { verb: verbOf(req.method ?? 'GET', r.name !== undefined, watching), group: r.group, resource: r.resource, subresource: r.subresource ?? '' };
      const t0 = process.hrtime.bigint();
      if (watching) metrics.watch(1);
      res.once('close', () => {
        if (watching) metrics.watch(-1);
        metrics.observe(labels, res.statusCode, Number(process.hrtime.bigint() - t0) / 1e9);
      });
      const agg = aggregated.find(r.group, r.version);
      if (agg) return aggregated.serve(req, res, agg, r, url.searchParams);
      return handlers.handle(req, res, r, url.searchParams);
    }
    if (path === '/metrics') {
      const m = await metrics.text();
      res.writeHead(200, { 'Content-Type': m.contentType });
      return void res.end(m.body);
    }
    if (req.method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    if (path === '/version') return send(res, 200, SERVER_VERSION);
    // Service account issuer discovery, so others can verify this cluster's tokens.
    if (path === '/.well-known/openid-configuration') {
      return send(res, 200, { issuer: ISSUER, jwks_uri: `https://${address}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (path === '/openid/v1/jwks') {
      const body = JSON.stringify(saKey.jwks());
      res.writeHead(200, { 'Content-Type': 'application/jwk-set+json', 'Content-Length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    if (path === '/api' || path === '/apis') {
      const agg = wantsAggregated(req.headers.accept);
      if (agg) {
        const body = JSON.stringify(aggregatedDiscovery(aggregated.view(catalog), path === '/api', agg));
        res.writeHead(200, { 'Content-Type': `application/json;g=apidiscovery.k8s.io;v=${agg};as=APIGroupDiscoveryList`, 'Content-Length': Buffer.byteLength(body), Vary: 'Accept', 'Cache-Control': 'no-cache, private' });
        return void res.end(body);
      }
      return send(res, 200, path === '/api' ? apiVersions(address) : apiGroupList(aggregated.view(catalog)), false, { Vary: 'Accept' });
    }
    if (path === '/openapi/v3') return send(res, 200, openapi.index());
    if (path.startsWith('/openapi/v3/')) {
      const doc = openapi.doc(path.slice('/openapi/v3/'.length));
      if (doc) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': doc.length, 'Cache-Control': url.searchParams.has('hash') ? 'public, immutable' : 'no-cache, private' });
        return void res.end(doc);
      }
    }
    if (path === '/openapi/v2' && (req.headers.accept ?? '').includes('application/com.github.proto-openapi.spec.v2')) {
      const v2 = openapi.v2Protobuf();
      if (req.headers['if-none-match'] === v2.etag) { res.writeHead(304, { ETag: v2.etag }); return void res.end(); }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': v2.body.length, ETag: v2.etag, 'Cache-Control': 'no-cache, private' });
      return void res.end(v2.body);
    }
    const segs = path.split('/').filter(Boolean);
    if (segs[0] === 'api' && segs.length === 2) {
      const list = apiResourceList(aggregated.view(catalog), segs[1]);
      if (list) return send(res, 200, list);
    }
    if (segs[0] === 'apis' && segs.length === 2) {
      const g = apiGroup(aggregated.view(catalog), segs[1]);
      if (g) return send(res, 200, g);
    }
    if (segs[0] === 'apis' && segs.length === 3) {
      const list = apiResourceList(aggregated.view(catalog), `${segs[1]}/${segs[2]}`);
      if (list) return send(res, 200, list);
    }
    // /openapi/v2 as JSON is not offered: every kubectl asks for the protobuf form.
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  };

  const server = https.createServer({
    key: creds0.servingKey, cert: creds0.servingCert, ca: creds0.caCert,
    requestCert: true, rejectUnauthorized: false, // verified per request: a token may stand in for a cert
  }, (req, res) => {
    route(req, res).catch((err) => {
      const e = toApiError(err);
      if (res.headersSent) { res.destroy(); return; }
      // Drain what is left of a refused body so the client reads our answer, not a reset.
      req.resume();
      send(res, e.code, e.toStatus(), false, e.code === 401 ? { 'WWW-Authenticate': 'Bearer realm="skiff"' } : {});
    });
  });
  server.keepAliveTimeout = 65_000;
  // exec, attach and portforward arrive as upgrade requests (WebSocket or SPDY). The server
  // no longer tracks an upgraded socket as an HTTP connection, so close() ends them itself.
  const upgraded = new Set<import('node:stream').Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const refuse = (e: ApiError) => {
      const body = JSON.stringify(e.toStatus());
      socket.end(`HTTP/1.1 ${e.code} ${e.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    socket.on('error', () => {});
    void (async () => {
      const url = new URL(req.url ?? '/', 'https://x');
      await admit(req, url);
      const r = parseResourcePath(url.pathname.replace(/\/+$/, ''));
      if (!r || !isPodStream(r) || r.subresource === 'log') throw new ApiError(400, 'BadRequest', `upgrade is not supported on ${url.pathname}`);
      await nodeProxy.upgrade(req, socket, head, r.namespace!, r.name!, r.subresource!, url.searchParams);
    })().catch((err) => refuse(toApiError(err)));
  });
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(o.port ?? 6443, listen, () => { server.off('error', fail); ok(); });
    });
  } catch (err) {
    gc.stop();
    nsc.stop();
    rbac.stop();
    if (!o.backend) await backend.close();
    const e = err as NodeJS.ErrnoException;
    throw e.code === 'EADDRINUSE' ? new UnavailableError(`cannot listen on ${listen}:${o.port}: address already in use`) : e;
  }
  const port = (server.address() as AddressInfo).port;
  address = `${bracket(advertise)}:${port}`;
  const url = `https://${bracket(local)}:${port}`;
  const creds = await ensureCredentials(o.root, url, [advertise]); // rewrites the kubeconfig with the real port
  await reconcileKubernetesService(storage, advertise, port);

  const compactor = opened.serverCompacts ? startCompactor(backend) : undefined;
  return {
    url, port, kubeconfig: creds.kubeconfig, credentials: creds,
    aggregate: (api) => aggregated.add(api),
    async close() {
      clearInterval(compactor);
      nsc?.stop();
      gc?.stop();
      rbac.stop();
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
        // Streams too: a paused one (not reading) would hold close() forever and, holding no
        // live handle, let the process run out of work with close() still pending.
        for (const s of upgraded) s.destroy();
      });
      if (!o.backend) await backend.close();
    },
  };
}

/** Keeps about five minutes of history, as the real server's compaction does. */
function startCompactor(backend: Backend): NodeJS.Timeout {
  const marks: number[] = [];
  const t = setInterval(() => {
    void (async () => {
      marks.push(await backend.currentRevision());
      if (marks.length > 5) await backend.compact(marks.shift()!);
    })().catch(() => {});
  }, 60_000);
  t.unref();
  return t;
}
