/**
 * A small typed client of the Kubernetes API, for Skiff's own components (agent, controllers,
 * CLI, tests, benchmarks): get/list/create/update/patch/delete and watch over HTTPS with a
 * kubeconfig's credentials, one keep-alive connection pool per client. Errors come back as
 * ApiStatusError carrying the server's Status (code, reason, message).
 */
import https from 'node:https';
import { loadKubeconfig, type Credentials } from './kubeconfig.js';

/** Which resource: group ("" for core), version, plural. */
export interface ResourceRef { group: string; version: string; resource: string }

/** A Kubernetes object (loosely typed: callers know their kinds). */
export type KObject = { apiVersion?: string; kind?: string; metadata: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: any }; [k: string]: any };

/** A list response. */
export interface KList<T = KObject> { apiVersion: string; kind: string; metadata: { resourceVersion: string; continue?: string }; items: T[] }

/** One watch event. */
export interface WatchEvent<T = KObject> { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: T }

/** A failed request: the server's Status. */
export class ApiStatusError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly status?: any) {
    super(message);
  }
}

/** Query parameters of list and watch. */
export interface ListOptions {
  labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string;
  resourceVersion?: string; timeoutSeconds?: number; allowWatchBookmarks?: boolean;
}

/** Patch flavours, by their media types. */
export const PATCH_TYPES = {
  json: 'application/json-patch+json', merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json', apply: 'application/apply-patch+yaml',
} as const;

/** The URL path of a resource collection or object. */
export function resourcePath(r: ResourceRef, namespace?: string, name?: string, sub?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${r.resource}${name ? `/${encodeURIComponent(name)}` : ''}${sub ? `/${sub}` : ''}`;
}

function query(o: Record<string, unknown> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** An API client bound to one server and identity. */
export class ApiClient {
  private readonly agent: https.Agent;
  private readonly base: URL;

  constructor(readonly creds: Credentials) {
    this.base = new URL(creds.server);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: creds.ca, cert: creds.cert, key: creds.key });
  }

  /** A client from a kubeconfig file. */
  static async fromKubeconfig(file: string, context?: string): Promise<ApiClient> {
    return new ApiClient(await loadKubeconfig(file, context));
  }

  /** Closes pooled connections. */
  close(): void { this.agent.destroy(); }

  private open(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<import('node:http').IncomingMessage> {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request({
        protocol: 'https:', hostname: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port || 443, method, path, agent: this.agent,
        headers: {
          Accept: 'application/json', 'User-Agent': 'skiff-client/0.1',
          ...(this.creds.token ? { Authorization: `Bearer ${this.creds.token}` } : {}),
          ...(data ? { 'Content-Type': contentType, 'Content-Length': data.length } : {}),
        },
      }, resolve);
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Sends a request and parses the JSON answer; non-2xx becomes ApiStatusError. */
  async request<T = any>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const res = await this.open(method, path, body, contentType);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: any;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    if ((res.statusCode ?? 500) >= 300) {
      throw new ApiStatusError(res.statusCode ?? 500, parsed?.reason ?? 'Unknown', parsed?.message ?? `HTTP ${res.statusCode}: ${text.slice(0, 200)}`, parsed);
    }
    return parsed as T;
  }

  /** GET one object. */
  get<T = KObject>(r: ResourceRef, namespace: string | undefined, name: string): Promise<T> {
    return this.request('GET', resourcePath(r, namespace, name));
  }

  /** GET one object; undefined when it does not exist (404). */
  async find<T = KObject>(r: ResourceRef, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get<T>(r, namespace, name);
    } catch (err) {
      if (err instanceof ApiStatusError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** LIST objects (one page unless `limit` is 0/absent). */
  list<T = KObject>(r: ResourceRef, namespace?: string, o: ListOptions = {}): Promise<KList<T>> {
    return this.request('GET', resourcePath(r, namespace) + query({ ...o }));
  }

  /** POST a new object. */
  create<T = KObject>(r: ResourceRef, namespace: string | undefined, obj: KObject, o: { fieldManager?: string; dryRun?: boolean } = {}): Promise<T> {
    return this.request('POST', resourcePath(r, namespace) + query({ fieldManager: o.fieldManager, dryRun: o.dryRun ? 'All' : undefined }), obj);
  }

  /** PUT an object (optimistic concurrency on its resourceVersion); `sub` = "status" for status writes. */
  update<T = KObject>(r: ResourceRef, namespace: string | undefined, obj: KObject, sub?: string): Promise<T> {
    return this.request('PUT', resourcePath(r, namespace, obj.metadata.name, sub), obj);
  }

  /** PATCH an object with a patch of the given type. */
  patch<T = KObject>(r: ResourceRef, namespace: string | undefined, name: string, patch: unknown, type: keyof typeof PATCH_TYPES = 'merge',
    o: { fieldManager?: string; force?: boolean; subresource?: string } = {}): Promise<T> {
    return this.request('PATCH', resourcePath(r, namespace, name, o.subresource) + query({ fieldManager: o.fieldManager, force: o.force || undefined }), patch, PATCH_TYPES[type]);
  }

  /** DELETE an object. */
  delete<T = KObject>(r: ResourceRef, namespace: string | undefined, name: string, o: { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string } = {}): Promise<T> {
    const body = { kind: 'DeleteOptions', apiVersion: 'v1', ...o };
    return this.request('DELETE', resourcePath(r, namespace, name), body);
  }

  /**
   * WATCH from `resourceVersion`: an async iterator of events; `close()` ends it. An ERROR
   * event (e.g. 410 Expired) is yielded as-is: the caller re-lists.
   */
  watch<T = KObject>(r: ResourceRef, namespace: string | undefined, o: ListOptions = {}): AsyncIterable<WatchEvent<T>> & { close(): void } {
    let res: import('node:http').IncomingMessage | undefined;
    let closed = false;
    const open = this.open('GET', resourcePath(r, namespace) + query({ ...o, watch: 'true' }));
    return {
      close() { closed = true; res?.destroy(); void open.then((x) => x.destroy(), () => {}); },
      async *[Symbol.asyncIterator]() {
        res = await open;
        if ((res.statusCode ?? 500) >= 300) {
          const chunks: Buffer[] = [];
          for await (const c of res) chunks.push(c as Buffer);
          const s = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
          throw new ApiStatusError(res.statusCode ?? 500, s.reason ?? 'Unknown', s.message ?? 'watch failed', s);
        }
        let buf = '';
        try {
          for await (const c of res) {
            buf += (c as Buffer).toString('utf8');
            let i;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              if (line.trim()) yield JSON.parse(line) as WatchEvent<T>;
            }
          }
        } catch (err) {
          if (!closed) throw err;
        }
      },
    };
  }
}
