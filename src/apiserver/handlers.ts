/**
 * The REST verbs on one resource path: get, list (+watch), create, update, patch, delete,
 * deletecollection, and the status/scale/binding subresources. Everything kind-specific lives
 * in the storage hooks, the resource table and the schema data.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Storage } from './storage.js';
import type { Catalog } from './catalog.js';
import { groupVersion, type ResourceInfo } from './resources.js';
import { ApiError, badRequest, methodNotAllowed } from './status.js';
import { decodeBody, negotiate, readBody, send, type ResourcePath, type Want } from './request.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { toTable, type IncludeObject } from './table.js';
import { pruneUnknown, unknownFields } from './schemas.js';
import { serveWatch } from './watch.js';
import { checkNamespaceWritable } from './namespaces.js';
import { patchEngine, unwrap, applyPatchDocument, patchMediaType, type GVK } from './patching.js';
import { getScale, setScaleReplicas, bindPod } from './subresources.js';
import { review } from './reviews.js';
import { now } from './storage.js';

const NOT_FOUND = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource');

/** Per-request context: the parsed path, its resource and query. */
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  r: ResourceInfo;
  p: ResourcePath;
  q: URLSearchParams;
  want: Want;
  warnings: string[];
}

/** Serves resource requests against a storage and a catalog. */
export class Handlers {
  constructor(private readonly storage: Storage, private readonly catalog: Catalog, private readonly opts: { bookmarkMs?: number } = {}) {}

  /** Handles one request whose path parsed as a resource path. */
  async handle(req: IncomingMessage, res: ServerResponse, p: ResourcePath, q: URLSearchParams): Promise<void> {
    const r = this.catalog.lookup(p.group, p.version, p.resource);
    if (!r) throw NOT_FOUND();
    if (!r.namespaced && p.namespace) throw NOT_FOUND();
    const sub = p.subresource;
    if (sub && !((sub === 'status' && r.subresources?.status) || (sub === 'scale' && r.subresources?.scale) || (sub === 'binding' && r.subresources?.binding)
      || (sub === 'finalize' && r.kind === 'Namespace' && !r.group))) throw NOT_FOUND();
    const want = negotiate(req.headers.accept);
    const c: Ctx = { req, res, r, p, q, want, warnings: [] };
    const m = req.method ?? 'GET';
    const named = p.name !== undefined;
    if (r.namespaced && !p.namespace && (named || m === 'POST')) throw NOT_FOUND();
    if (r.review) {
      if (m !== 'POST' || named) throw methodNotAllowed();
      const body = await this.body(c);
      this.checkIdentity(c, body);
      return this.reply(c, 201, await review(r, body, { user: (req as any).user, adminToken: (req as any).token, validate: (req as any).reviewToken, authz: (req as any).authz, namespace: p.namespace }));
    }
    if (sub === 'scale') return this.scale(c);
    if (sub === 'binding') {
      if (m !== 'POST') throw methodNotAllowed();
      const body = decodeBody(await readBody(req), req.headers['content-type']);
      await bindPod(this.storage, r, p.namespace!, p.name!, body, q.get('dryRun') === 'All');
      return send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    }
    if (m === 'GET' && !named) return q.get('watch') === 'true' || q.get('watch') === '1' ? this.watch(c) : this.list(c);
    if (m === 'GET') return this.reply(c, 200, (await this.storage.get(r, p.namespace, p.name!)).obj);
    if (m === 'POST' && !named) return this.create(c);
    if (m === 'PUT' && named) return this.update(c);
    if (m === 'PATCH' && named) return this.patch(c);
    if (m === 'DELETE' && named) return this.delete(c);
    if (m === 'DELETE') return this.deleteCollection(c);
    throw methodNotAllowed();
  }

  /** Writes an object (or its Table/metadata rendering) with warnings. */
  private reply(c: Ctx, code: number, obj: any): void {
    send(c.res, code, this.render(c.r, c.want, obj, c.q), c.want.as === 'yaml', c.warnings.length ? { Warning: c.warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {});
  }

  private render(r: ResourceInfo, want: Want, obj: any, q: URLSearchParams): any {
    if (r.custom && obj?.apiVersion && obj.kind === r.kind) obj.apiVersion = groupVersion(r); // CRD versions share storage (conversion None)
    if (want.as === 'Table') return toTable(r, [obj], { resourceVersion: obj.metadata?.resourceVersion }, (q.get('includeObject') as IncludeObject) || 'Metadata', want.version);
    if (want.as === 'PartialObjectMetadata') return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${want.version}`, metadata: obj.metadata };
    return obj;
  }

  private matcher(c: Ctx) {
    const labels = labelMatcher(c.q.get('labelSelector'));
    const fields = fieldMatcher(c.q.get('fieldSelector'), c.r.kind, c.r.custom);
    return (o: any) => labels(o) && fields(o);
  }

  private async list(c: Ctx): Promise<void> {
    const { r, q, want } = c;
    const limit = Number(q.get('limit') ?? 0);
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`invalid limit: ${q.get('limit')}`);
    const { items, revision, cont } = await this.storage.list(r, c.p.namespace, {
      match: this.matcher(c), limit, cont: q.get('continue') || undefined,
      resourceVersion: q.get('resourceVersion') ?? undefined, exact: q.get('resourceVersionMatch') === 'Exact',
    });
    const meta = { resourceVersion: String(revision), ...(cont ? { continue: cont } : {}) };
    if (r.custom) for (const o of items) o.apiVersion = groupVersion(r);
    let body: any;
    if (want.as === 'Table') body = toTable(r, items, meta, (q.get('includeObject') as IncludeObject) || 'Metadata', want.version);
    else if (want.as === 'PartialObjectMetadata') body = { kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${want.version}`, metadata: meta, items: items.map((o) => ({ kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${want.version}`, metadata: o.metadata })) };
    else body = { kind: `${r.kind}List`, apiVersion: groupVersion(r), metadata: meta, items };
    send(c.res, 200, body, want.as === 'yaml');
  }

  private async watch(c: Ctx): Promise<void> {
    const { r, q, want } = c;
    const timeout = q.get('timeoutSeconds');
    await serveWatch(c.res, this.storage, r, c.p.namespace, {
      match: this.matcher(c),
      resourceVersion: q.get('resourceVersion') ?? undefined,
      allowBookmarks: q.get('allowWatchBookmarks') === 'true',
      timeoutSeconds: timeout ? Number(timeout) : undefined,
      sendInitialEvents: q.has('sendInitialEvents') ? q.get('sendInitialEvents') === 'true' : undefined,
      render: (o) => this.render(r, want.as === 'yaml' ? { as: 'object' } : want, o, q),
      bookmarkMs: this.opts.bookmarkMs,
    });
  }

  /** The field manager of a write: the query parameter, else the User-Agent's program name. */
  private manager(c: Ctx): string {
    const m = c.q.get('fieldManager');
    if (m) return m;
    return (c.req.headers['user-agent'] ?? 'unknown').split('/')[0] || 'unknown';
  }

  /** fieldValidation: unknown fields are an error (Strict), a warning (Warn, default) or dropped. */
  private checkFields(c: Ctx, obj: any, ignoreExisting?: any): void {
    const mode = c.q.get('fieldValidation') ?? 'Warn';
    if (!['Strict', 'Warn', 'Ignore'].includes(mode)) throw badRequest(`fieldValidation parameter unsupported: ${mode}`);
    const schema = this.catalog.schemaOf(c.r);
    let unknown = unknownFields(obj, schema);
    if (ignoreExisting) {
      const old = new Set(unknownFields(ignoreExisting, schema));
      unknown = unknown.filter((f) => !old.has(f));
    }
    if (unknown.length && mode === 'Strict') {
      const v = c.r.version;
      throw badRequest(`${c.r.kind} in version "${v}" cannot be handled as a ${c.r.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
    }
    if (mode === 'Warn') c.warnings.push(...unknown.map((f) => `unknown field "${f}"`));
    pruneUnknown(obj, schema);
  }

  private async body(c: Ctx): Promise<any> {
    const obj = decodeBody(await readBody(c.req), c.req.headers['content-type']);
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw badRequest('the request body must be a JSON or YAML object');
    return obj;
  }

  /** Checks a body's apiVersion/kind/namespace against the URL. */
  private checkIdentity(c: Ctx, obj: any): void {
    const { r } = c;
    // Typed endpoints default a missing apiVersion/kind from the URL, as the real decoder does;
    // custom resources are decoded as unstructured, which requires them.
    if (!obj.kind && r.custom) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
    obj.kind ??= r.kind;
    obj.apiVersion ??= groupVersion(r);
    const gv = String(obj.apiVersion ?? '');
    const group = gv.includes('/') ? gv.split('/')[0] : '';
    if (obj.kind !== r.kind || group !== r.group || !gv) {
      throw badRequest(`the API version in the data (${gv}) does not match the expected API version (${groupVersion(r)})`);
    }
    obj.apiVersion = groupVersion(r);
    const ns = obj.metadata?.namespace;
    if (r.namespaced && ns && ns !== c.p.namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }

  private async managed(c: Ctx, prev: any, next: any, operation: string): Promise<void> {
    const e = await patchEngine();
    if (!e) return;
    const gvk: GVK = { group: c.r.group, version: c.r.version, kind: c.r.kind };
    const out = unwrap(e.updateManagedFields(prev, next, { manager: this.manager(c), operation, now: now(), gvk }));
    if (out?.metadata && out !== next) next.metadata.managedFields = out.metadata.managedFields;
  }

  private async create(c: Ctx): Promise<void> {
    const { r, p } = c;
    const obj = await this.body(c);
    this.checkIdentity(c, obj);
    this.checkFields(c, obj);
    if (r.namespaced) await checkNamespaceWritable(this.storage, p.namespace!);
    await this.managed(c, undefined, obj, 'Update');
    const out = await this.storage.create(r, p.namespace, obj, { dryRun: c.q.get('dryRun') === 'All', user: (c.req as any).user });
    this.reply(c, 201, out);
  }

  private async update(c: Ctx): Promise<void> {
    const { r, p } = c;
    const obj = await this.body(c);
    this.checkIdentity(c, obj);
    this.checkFields(c, obj);
    const sub = p.subresource === 'finalize' ? undefined : p.subresource;
    const { obj: out, created } = await this.storage.update(r, p.namespace, p.name!, async (cur) => {
      const next = structuredClone(obj);
      if (p.subresource === 'finalize' && cur) return { ...cur, spec: { ...cur.spec, finalizers: next.spec?.finalizers ?? [] }, metadata: { ...cur.metadata, resourceVersion: next.metadata?.resourceVersion } };
      await this.managed(c, cur, next, 'Update');
      return next;
    }, { subresource: sub, dryRun: c.q.get('dryRun') === 'All', allowCreate: false, user: (c.req as any).user });
    this.reply(c, created ? 201 : 200, out);
  }

  /** Applies a patch document of the request's type to `cur` (undefined for apply-create). */
  private applyPatch(c: Ctx, cur: any, patch: any, ctype: string, gvk: GVK): Promise<any> {
    return applyPatchDocument(c.r, c.p.name!, cur, patch, ctype, gvk, { fieldManager: c.q.get('fieldManager') ?? '', force: c.q.get('force') === 'true' });
  }

  private patchType(c: Ctx): string {
    return patchMediaType(c.req.headers['content-type'], c.r, c.q.get('fieldManager'));
  }

  private async patch(c: Ctx): Promise<void> {
    const { r, p } = c;
    const ctype = this.patchType(c);
    const patch = decodeBody(await readBody(c.req), ctype === 'application/json-patch+json' ? 'application/json' : ctype);
    const isApply = ctype === 'application/apply-patch+yaml';
    if (isApply) this.checkIdentity(c, patch);
    const gvk: GVK = { group: r.group, version: r.version, kind: r.kind };
    if (isApply && r.namespaced) await checkNamespaceWritable(this.storage, p.namespace!);
    const sub = p.subresource;
    const pins = ctype === 'application/json-patch+json'
      ? Array.isArray(patch) && patch.some((o: any) => o?.path === '/metadata/resourceVersion' && o?.op !== 'remove')
      : patch?.metadata?.resourceVersion !== undefined && patch?.metadata?.resourceVersion !== null;
    const { obj: out, created } = await this.storage.update(r, p.namespace, p.name!, async (cur) => {
      const next = await this.applyPatch(c, cur, patch, ctype, gvk);
      c.warnings = [];
      this.checkFields(c, next, cur);
      if (!isApply) await this.managed(c, cur, next, 'Update');
      // A patch that does not name a resourceVersion is retried on a lost race (the patched
      // copy still carries the version it was read at); one that names it is a precondition.
      if (next?.metadata && !pins) delete next.metadata.resourceVersion;
      return next;
    }, { subresource: sub, dryRun: c.q.get('dryRun') === 'All', allowCreate: isApply && !sub, user: (c.req as any).user });
    this.reply(c, created ? 201 : 200, out);
  }

  private deleteOptions(c: Ctx, body: any) {
    const grace = c.q.get('gracePeriodSeconds') ?? body?.gracePeriodSeconds;
    return {
      dryRun: c.q.get('dryRun') === 'All' || (body?.dryRun ?? []).includes('All'),
      preconditions: body?.preconditions,
      propagationPolicy: c.q.get('propagationPolicy') ?? body?.propagationPolicy ?? (body?.orphanDependents === true ? 'Orphan' : undefined),
      gracePeriodSeconds: grace === undefined || grace === null ? undefined : Number(grace),
    };
  }

  private async delete(c: Ctx): Promise<void> {
    const { r, p } = c;
    const raw = await readBody(c.req);
    const body = raw.length ? decodeBody(raw, c.req.headers['content-type']) : undefined;
    const { obj, deleted } = await this.storage.delete(r, p.namespace, p.name!, this.deleteOptions(c, body));
    if (!deleted) return this.reply(c, 202, obj);
    if (r.custom || r.kind === 'Pod' || r.kind === 'Namespace' || r.kind === 'CustomResourceDefinition') return this.reply(c, 200, obj);
    send(c.res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: p.name, group: r.group, kind: r.resource, uid: obj.metadata?.uid } });
  }

  private async deleteCollection(c: Ctx): Promise<void> {
    const { r, p } = c;
    const raw = await readBody(c.req);
    const body = raw.length ? decodeBody(raw, c.req.headers['content-type']) : undefined;
    const { items, revision } = await this.storage.list(r, p.namespace, { match: this.matcher(c) });
    const out: any[] = [];
    for (const o of items) {
      try {
        out.push((await this.storage.delete(r, o.metadata.namespace, o.metadata.name, this.deleteOptions(c, body))).obj);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    send(c.res, 200, { kind: `${r.kind}List`, apiVersion: groupVersion(r), metadata: { resourceVersion: String(revision) }, items: out });
  }

  private async scale(c: Ctx): Promise<void> {
    const { r, p, req } = c;
    const m = req.method;
    if (m === 'GET') return this.reply(c, 200, getScale(r, (await this.storage.get(r, p.namespace, p.name!)).obj));
    if (m !== 'PUT' && m !== 'PATCH') throw methodNotAllowed();
    const ctype = m === 'PATCH' ? this.patchType(c) : '';
    const body = decodeBody(await readBody(req), m === 'PATCH' && ctype === 'application/json-patch+json' ? 'application/json' : req.headers['content-type']);
    const { obj } = await this.storage.update(r, p.namespace, p.name!, async (cur) => {
      const scale = getScale(r, cur);
      const next = m === 'PUT' ? body : await this.applyPatch(c, scale, body, ctype, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
      const replicas = next?.spec?.replicas;
      if (!Number.isInteger(replicas) || replicas < 0) {
        throw new ApiError(422, 'Invalid', `Scale.autoscaling "${p.name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`,
          { name: p.name, group: 'autoscaling', kind: 'Scale', causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${replicas}: must be greater than or equal to 0`, field: 'spec.replicas' }] });
      }
      const pinned = next?.metadata?.resourceVersion;
      const out = setScaleReplicas(r, cur, replicas);
      if (pinned) out.metadata.resourceVersion = pinned;
      return out;
    }, { dryRun: c.q.get('dryRun') === 'All' });
    this.reply(c, 200, getScale(r, obj));
  }
}
