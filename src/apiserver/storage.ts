/**
 * The generic registry: one implementation of create/get/list/update/delete for every
 * resource, over the revisioned store. Objects are stored as JSON under
 * /registry/<group>/<resource>/<ns>/<name>; `metadata.resourceVersion` is the key's
 * modRevision and is never stored. Kind-specific behaviour (defaults, validation, status
 * and generation rules, graceful deletion) is data or a hook, never a subclass.
 */
import { randomUUID } from 'node:crypto';
import type { Backend, KeyValue } from '../store/types.js';
import { isCode } from '../core/errors.js';
import { keyPrefix, objectKey, groupVersion, type ResourceInfo } from './resources.js';
import { ApiError, alreadyExists, conflict, invalid, notFound, badRequest } from './status.js';
import { applyDefaults } from './defaults.js';
import { validate, validateUpdate } from './validation.js';
import type { Matcher } from './selectors.js';
import type { UserInfo } from './authz/rules.js';

/** Kind-specific steps the server plugs in (namespaces, services, CRDs). */
export interface Hooks {
  /** Runs before an object is first stored (after defaults), e.g. to allocate a cluster IP or admit it. */
  beforeCreate?(r: ResourceInfo, obj: any, opts?: WriteOptions): Promise<void>;
  /** Runs on an update after defaults, before validation (e.g. to carry over or allocate a Service's ports). */
  beforeUpdate?(r: ResourceInfo, cur: any, next: any, opts?: WriteOptions): Promise<void>;
  /** Runs after any stored write of `r` (create, update, delete). */
  afterWrite?(r: ResourceInfo, obj: any, type: 'create' | 'update' | 'delete'): Promise<void> | void;
  /** Runs after defaults on every write; returns extra validation causes (CR schemas). */
  validate?(r: ResourceInfo, obj: any): { field?: string; message: string; reason: string }[];
}

/** Options shared by writes. `system` writes (bindings, controllers in this process) may set anything. */
export interface WriteOptions {
  dryRun?: boolean;
  subresource?: string;
  /** Who asks, for admission that depends on it (RBAC escalation checks); absent for the server's own writes. */
  user?: UserInfo;
}

/** Now, at second precision, as Kubernetes timestamps are. */
export const now = () => new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const RANDOM = 'bcdfghjklmnpqrstvwxz2456789';

/** Decodes a stored value, stamping its resourceVersion. */
export function decode(kv: KeyValue): any {
  const obj = JSON.parse(kv.value.toString('utf8'));
  obj.metadata ??= {};
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

/** Empty metadata collections are omitted, as Go's omitempty does on the real server. */
const OMIT_EMPTY = ['labels', 'annotations', 'finalizers', 'ownerReferences', 'managedFields'];

function encode(obj: any): Buffer {
  const { resourceVersion: _rv, selfLink: _sl, ...metadata } = obj.metadata ?? {};
  for (const k of OMIT_EMPTY) {
    const v = metadata[k];
    if (v && typeof v === 'object' && Object.keys(v).length === 0) delete metadata[k];
  }
  return Buffer.from(JSON.stringify({ ...obj, metadata }));
}

/** Everything but metadata and status: what a generation bump compares. */
function specPart(obj: any): string {
  const { metadata: _m, status: _s, ...rest } = obj;
  return JSON.stringify(rest);
}

/** The generic registry over a store backend. */
export class Storage {
  constructor(readonly backend: Backend, readonly hooks: Hooks = {}) {}

  /** Reads one object; 404 when absent. */
  async get(r: ResourceInfo, ns: string | undefined, name: string): Promise<{ obj: any; kv: KeyValue }> {
    const { kv } = await this.backend.get(objectKey(r, ns, name));
    if (!kv) throw notFound(r, name);
    return { obj: decode(kv), kv };
  }

  /**
   * Lists objects matching `match`, `limit` at a time (0 = all) from an opaque `continue`
   * token. Reads at one revision across pages, as etcd-backed Kubernetes does.
   */
  async list(r: ResourceInfo, ns: string | undefined, opts: { match?: Matcher; limit?: number; cont?: string; resourceVersion?: string; exact?: boolean }) {
    const prefix = keyPrefix(r, ns);
    let revision = 0;
    let startKey: string | undefined;
    if (opts.cont) {
      try {
        const t = JSON.parse(Buffer.from(opts.cont, 'base64').toString('utf8'));
        revision = Number(t.rv);
        startKey = String(t.start);
        if (!startKey.startsWith(prefix) || !Number.isInteger(revision)) throw new Error('bad');
      } catch {
        throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
    } else if (opts.resourceVersion && opts.resourceVersion !== '0') {
      const want = Number(opts.resourceVersion);
      if (!Number.isInteger(want) || want < 0) throw badRequest(`invalid resource version: ${opts.resourceVersion}`);
      const cur = await this.backend.currentRevision();
      if (want > cur) throw new ApiError(504, 'Timeout', `Too large resource version: ${want}, current: ${cur}`, { retryAfterSeconds: 1 } as any);
      if (opts.exact) revision = want;
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const items: any[] = [];
    let more = false;
    let next: string | undefined;
    try {
      for (;;) {
        const chunk = Math.max(limit ? limit - items.length + 1 : 0, limit ? 50 : 0);
        const res = await this.backend.list(prefix, { revision: revision || undefined, limit: chunk || undefined, startKey });
        revision ||= res.revision;
        for (const kv of res.kvs) {
          const obj = decode(kv);
          if (opts.match && !opts.match(obj)) continue;
          if (limit && items.length === limit) { more = true; next = kv.key; break; }
          items.push(obj);
        }
        if (more || !res.more || !res.kvs.length) break;
        startKey = res.kvs[res.kvs.length - 1].key + '\u0000';
      }
    } catch (err) {
      if (isCode(err, 'GONE')) {
        throw new ApiError(410, 'Expired', opts.cont
          ? 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue parameter from the previous list.'
          : `too old resource version: ${revision}`);
      }
      throw err;
    }
    const cont = more ? Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: revision, start: next })).toString('base64') : undefined;
    return { items, revision, cont };
  }

  /** Completes server-set metadata, defaults and validates a new object, then stores it. */
  async create(r: ResourceInfo, ns: string | undefined, obj: any, opts: WriteOptions = {}): Promise<any> {
    const meta = (obj.metadata ??= {});
    if (r.namespaced) meta.namespace = ns; else delete meta.namespace;
    for (let attempt = 0; ; attempt++) {
      if (!meta.name && meta.generateName) {
        meta.name = meta.generateName + Array.from({ length: 5 }, () => RANDOM[Math.floor(Math.random() * RANDOM.length)]).join('');
      }
      meta.uid = randomUUID();
      meta.creationTimestamp = now();
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
      delete meta.resourceVersion;
      if (r.subresources?.status && r.kind !== 'Node' && r.kind !== 'Namespace') delete obj.status;
      applyDefaults(r, obj, true);
      if (obj.spec !== undefined || r.custom) meta.generation = 1; else delete meta.generation;
      const causes = [...validate(r, obj), ...(this.hooks.validate?.(r, obj) ?? [])];
      if (causes.length) throw invalid(r.kind, r.group, meta.name ?? meta.generateName ?? '', causes);
      await this.hooks.beforeCreate?.(r, obj, opts);
      if (opts.dryRun) return obj;
      try {
        const { kv } = await this.backend.create(objectKey(r, ns, meta.name), encode(obj));
        const out = decode(kv);
        await this.hooks.afterWrite?.(r, out, 'create');
        return out;
      } catch (err) {
        if (!isCode(err, 'ALREADY_EXISTS')) throw err;
        // A generated name that collided is retried, as the real server does (a few times).
        if (meta.generateName && attempt < 3 && obj.metadata.name.startsWith(meta.generateName)) { delete meta.name; continue; }
        throw alreadyExists(r, meta.name);
      }
    }
  }

  /**
   * Read-modify-write with optimistic concurrency: `mutate` gets the current object (or
   * undefined) and returns the desired one; a lost race is retried unless the caller pinned a
   * resourceVersion. Main-resource writes keep status; status writes keep everything else.
   */
  async update(r: ResourceInfo, ns: string | undefined, name: string, mutate: (cur: any | undefined) => Promise<any> | any,
    opts: WriteOptions & { allowCreate?: boolean; system?: boolean } = {}): Promise<{ obj: any; created: boolean }> {
    const key = objectKey(r, ns, name);
    for (let attempt = 0; attempt < 20; attempt++) {
      const { kv } = await this.backend.get(key);
      const cur = kv ? decode(kv) : undefined;
      if (!cur && !opts.allowCreate) throw notFound(r, name);
      const next = await mutate(cur ? structuredClone(cur) : undefined);
      if (!next || typeof next !== 'object') throw badRequest('the request body must be an object');
      next.metadata ??= {};
      if (next.metadata.name !== undefined && next.metadata.name !== name) {
        throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
      }
      next.metadata.name = name;
      if (!cur) {
        if (opts.subresource) throw notFound(r, name);
        return { obj: await this.create(r, ns, next, opts), created: true };
      }
      const pinned = next.metadata.resourceVersion;
      if (pinned && pinned !== cur.metadata.resourceVersion) throw conflict(r, name);
      this.carryOver(r, cur, next, opts.system ? 'system' : opts.subresource);
      applyDefaults(r, next, false);
      await this.hooks.beforeUpdate?.(r, cur, next, opts);
      if (specPart(next) !== specPart(cur) && cur.metadata.generation !== undefined) next.metadata.generation = (cur.metadata.generation ?? 0) + 1;
      const causes = [...validate(r, next), ...(opts.system ? [] : validateUpdate(r, cur, next)), ...(this.hooks.validate?.(r, next) ?? [])];
      if (causes.length) throw invalid(r.kind, r.group, name, causes);
      if (opts.dryRun) return { obj: next, created: false };
      if (encode(next).equals(encode(cur))) return { obj: cur, created: false }; // a no-op write keeps its resourceVersion
      // An object being deleted whose last finalizer was just removed goes away now.
      if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length && !this.awaitsKubelet(r, next)
        && !(r.kind === 'Namespace' && r.group === '' && (next.spec?.finalizers ?? []).length)) {
        try {
          await this.backend.delete(key, kv!.modRevision);
        } catch (err) {
          if (isCode(err, 'CONFLICT') && !pinned) continue;
          if (isCode(err, 'CONFLICT')) throw conflict(r, name);
          throw err;
        }
        await this.hooks.afterWrite?.(r, next, 'delete');
        return { obj: next, created: false };
      }
      try {
        const res = await this.backend.update(key, encode(next), kv!.modRevision);
        const out = decode(res.kv);
        await this.hooks.afterWrite?.(r, out, 'update');
        return { obj: out, created: false };
      } catch (err) {
        if (isCode(err, 'CONFLICT') && !pinned) continue;
        if (isCode(err, 'CONFLICT')) throw conflict(r, name);
        if (isCode(err, 'NOT_FOUND')) throw notFound(r, name);
        throw err;
      }
    }
    throw conflict(r, name);
  }

  /** Fields a client cannot change through this endpoint are taken from the stored object. */
  private carryOver(r: ResourceInfo, cur: any, next: any, sub?: string): void {
    const m = next.metadata, c = cur.metadata;
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'namespace']) {
      if (c[k] === undefined) delete m[k]; else m[k] = c[k];
    }
    if (!next.apiVersion) next.apiVersion = groupVersion(r);
    if (r.kind === 'Service' && !r.group && next.spec && cur.spec?.clusterIP && !next.spec.clusterIP) {
      // clusterIP is allocated once; an update that leaves it out keeps it (as kubectl replace expects).
      next.spec.clusterIP = cur.spec.clusterIP;
      next.spec.clusterIPs = cur.spec.clusterIPs;
    }
    if (!next.kind) next.kind = r.kind;
    if (sub === 'status') {
      // A status write changes only status (and nothing of metadata but its own bookkeeping).
      const status = next.status;
      for (const k of Object.keys(next)) if (k !== 'status') delete next[k];
      Object.assign(next, { ...structuredClone(cur), status });
      next.metadata.resourceVersion = m.resourceVersion;
      if (m.managedFields) next.metadata.managedFields = m.managedFields;
    } else if (r.subresources?.status && sub !== 'system') {
      if (cur.status === undefined) delete next.status; else next.status = structuredClone(cur.status);
    }
  }

  /** Pods bound to a node are removed by their node agent after graceful termination. */
  private awaitsKubelet(r: ResourceInfo, obj: any): boolean {
    return r.kind === 'Pod' && r.group === '' && !!obj.spec?.nodeName && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0
      && obj.status?.phase !== 'Succeeded' && obj.status?.phase !== 'Failed';
  }

  /**
   * Deletes an object: at once, or by setting deletionTimestamp when finalizers remain, the
   * object is a namespace (its controller empties it first) or a running pod is bound to a node.
   * Returns the object and whether it is gone already.
   */
  async delete(r: ResourceInfo, ns: string | undefined, name: string, opts: WriteOptions & { preconditions?: { uid?: string; resourceVersion?: string }; gracePeriodSeconds?: number; propagationPolicy?: string } = {}): Promise<{ obj: any; deleted: boolean }> {
    const key = objectKey(r, ns, name);
    for (let attempt = 0; attempt < 20; attempt++) {
      const { kv } = await this.backend.get(key);
      if (!kv) throw notFound(r, name);
      const cur = decode(kv);
      const pre = opts.preconditions ?? {};
      if (pre.uid && pre.uid !== cur.metadata.uid) throw conflict(r, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
      if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) throw conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
      let grace = opts.gracePeriodSeconds;
      if (r.kind === 'Pod' && r.group === '') grace ??= cur.spec?.terminationGracePeriodSeconds ?? 30;
      const pendingGrace = r.kind === 'Pod' && r.group === '' && this.awaitsKubelet(r, { ...cur, metadata: { ...cur.metadata, deletionGracePeriodSeconds: grace } });
      const isNs = r.kind === 'Namespace' && r.group === '';
      // Orphan and Foreground propagation are finalizers the garbage collector (gc.ts) honours.
      const policyFinalizer = opts.propagationPolicy === 'Orphan' ? 'orphan' : opts.propagationPolicy === 'Foreground' ? 'foregroundDeletion' : undefined;
      const addFinalizer = policyFinalizer && !cur.metadata.deletionTimestamp && !(cur.metadata.finalizers ?? []).includes(policyFinalizer);
      const hasFinalizers = (cur.metadata.finalizers ?? []).length > 0 || (isNs && (cur.spec?.finalizers ?? []).length > 0) || !!addFinalizer;
      if (hasFinalizers || pendingGrace) {
        const next = structuredClone(cur);
        if (addFinalizer) next.metadata.finalizers = [...(next.metadata.finalizers ?? []), policyFinalizer];
        if (!next.metadata.deletionTimestamp) next.metadata.deletionTimestamp = new Date(Date.now() + (pendingGrace ? grace! * 1000 : 0)).toISOString().replace(/\.\d+Z$/, 'Z');
        // A shorter grace period shortens a deletion under way, as Kubernetes: the node agent's
        // final grace-0 delete of a pod that still has finalizers lets it go when they are removed.
        if (next.metadata.deletionGracePeriodSeconds === undefined || (r.kind === 'Pod' && r.group === '' && grace! < next.metadata.deletionGracePeriodSeconds)) next.metadata.deletionGracePeriodSeconds = pendingGrace ? grace : 0;
        if (isNs) next.status = { ...next.status, phase: 'Terminating' };
        if (opts.dryRun || encode(next).equals(encode(cur))) return { obj: cur, deleted: false };
        try {
          const res = await this.backend.update(key, encode(next), kv.modRevision);
          const out = decode(res.kv);
          await this.hooks.afterWrite?.(r, out, 'update');
          return { obj: out, deleted: false };
        } catch (err) {
          if (isCode(err, 'CONFLICT')) continue;
          throw err;
        }
      }
      if (opts.dryRun) return { obj: cur, deleted: true };
      try {
        await this.backend.delete(key, kv.modRevision);
      } catch (err) {
        if (isCode(err, 'CONFLICT')) continue;
        if (isCode(err, 'NOT_FOUND')) throw notFound(r, name);
        throw err;
      }
      await this.hooks.afterWrite?.(r, cur, 'delete');
      return { obj: cur, deleted: true };
    }
    throw conflict(r, name);
  }
}
