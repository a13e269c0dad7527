/**
 * OpenAPI v3: `/openapi/v3` (an index of group-versions) and one document per group-version.
 * Every PATCH operation declares the `fieldValidation` query parameter and carries
 * `x-kubernetes-group-version-kind`, which is how kubectl decides to leave strict validation
 * to the server; components.schemas feed `kubectl explain` and server-side field validation.
 */
import { createHash } from 'node:crypto';
import { DEFINITIONS, definitionName, kindSchema, type Schema } from './schemas.js';
import { groupVersion, type ResourceInfo } from './resources.js';
import { encodeV2 } from './openapi-v2.js';

const q = (name: string, description: string, schema: Schema = { type: 'string', uniqueItems: true }) =>
  ({ name, in: 'query', description, schema });
const P_NS = { name: 'namespace', in: 'path', required: true, description: 'object name and auth scope', schema: { type: 'string', uniqueItems: true } };
const P_NAME = { name: 'name', in: 'path', required: true, description: 'name of the resource', schema: { type: 'string', uniqueItems: true } };
const FIELD_MANAGER = q('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.');
const DRY_RUN = q('dryRun', 'When present, indicates that modifications should not be persisted.');
const FIELD_VALIDATION = q('fieldValidation',
  'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.');
const FORCE = q('force', 'Force is going to "force" Apply requests.', { type: 'boolean', uniqueItems: true });
const PATCH_TYPES = ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];

function resp(ref: string) {
  return { description: 'OK', content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } };
}

/** The paths of one resource (collection and item, plus status/scale subresources). */
function resourcePaths(r: ResourceInfo): Record<string, Schema> {
  const gv = groupVersion(r);
  const base = r.group ? `/apis/${gv}` : `/api/${gv}`;
  const coll = `${base}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.resource}`;
  const def = definitionName(r);
  const gvk = { group: r.group, version: r.version, kind: r.kind };
  const common = r.namespaced ? [P_NS] : [];
  const op = (verb: string, action: string, extra: Schema = {}) => ({
    tags: [gv], operationId: `${verb}${r.kind}`, 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk,
    responses: { '200': resp(def) }, ...extra,
  });
  const patch = (kind = gvk, ref = def) => ({
    tags: [gv], operationId: `patch${r.kind}`, 'x-kubernetes-action': 'patch', 'x-kubernetes-group-version-kind': kind,
    parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE],
    // kubectl picks strategic merge only when the PATCH operation consumes it: never for CRs.
    requestBody: { content: Object.fromEntries(PATCH_TYPES.filter((t) => !r.custom || !t.includes('strategic')).map((t) => [t, { schema: { type: 'object' } }])), required: true },
    responses: { '200': resp(ref) },
  });
  const item: Schema = {
    parameters: [...common, P_NAME],
    get: op('read', 'get'),
    put: op('replace', 'put', { parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], requestBody: { content: { '*/*': { schema: { $ref: `#/components/schemas/${def}` } } }, required: true } }),
    patch: patch(),
    delete: op('delete', 'delete'),
  };
  if (r.review) {
    return { [coll]: { post: op('create', 'post', { parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], requestBody: { content: { '*/*': { schema: { $ref: `#/components/schemas/${def}` } } }, required: true } }) } };
  }
  const out: Record<string, Schema> = {
    [coll]: {
      parameters: common,
      get: op('list', 'list'),
      post: op('create', 'post', { parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], requestBody: { content: { '*/*': { schema: { $ref: `#/components/schemas/${def}` } } }, required: true } }),
      delete: op('deleteCollection', 'deletecollection'),
    },
    [`${coll}/{name}`]: item,
  };
  if (r.subresources?.status) out[`${coll}/{name}/status`] = { parameters: [...common, P_NAME], get: op('read', 'get'), put: op('replace', 'put'), patch: patch() };
  if (r.subresources?.scale) {
    const scale = { group: 'autoscaling', version: 'v1', kind: 'Scale' };
    out[`${coll}/{name}/scale`] = { parameters: [...common, P_NAME], get: op('read', 'get', { 'x-kubernetes-group-version-kind': scale }), patch: patch(scale, 'io.k8s.api.autoscaling.v1.Scale') };
  }
  return out;
}

const SCALE: Schema = {
  type: 'object', description: 'Scale represents a scaling request for a resource.',
  properties: {
    apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }] },
    spec: { type: 'object', properties: { replicas: { type: 'integer', format: 'int32' } } },
    status: { type: 'object', properties: { replicas: { type: 'integer', format: 'int32' }, selector: { type: 'string' } } },
  },
  'x-kubernetes-group-version-kind': [{ group: 'autoscaling', version: 'v1', kind: 'Scale' }],
};

/** The OpenAPI v3 document of one group-version. `schemaOf` gives CRDs' schemas. */
export function groupVersionDoc(gv: string, resources: ResourceInfo[], schemaOf: (r: ResourceInfo) => Schema = kindSchema): Schema {
  const paths: Record<string, Schema> = {};
  const schemas: Record<string, Schema> = { ...DEFINITIONS };
  for (const r of resources) {
    Object.assign(paths, resourcePaths(r));
    schemas[definitionName(r)] = schemaOf(r);
    if (r.subresources?.scale) schemas['io.k8s.api.autoscaling.v1.Scale'] = SCALE;
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.33.0' },
    paths,
    components: { schemas },
  };
}

/** A cache of rendered documents, keyed by group-version, rebuilt when `version` changes. */
export class OpenApiCache {
  private docs = new Map<string, { body: Buffer; hash: string }>();
  private builtFor = -1;
  private v2?: { body: Buffer; etag: string };

  constructor(private readonly source: () => { version: number; byGv: Map<string, ResourceInfo[]>; schemaOf: (r: ResourceInfo) => Schema }) {}

  private refresh() {
    const s = this.source();
    if (s.version === this.builtFor) return;
    this.docs.clear();
    this.v2 = undefined;
    for (const [gv, rs] of s.byGv) {
      const body = Buffer.from(JSON.stringify(groupVersionDoc(gv, rs, s.schemaOf)));
      this.docs.set(gv, { body, hash: createHash('sha512').update(body).digest('hex').slice(0, 128).toUpperCase() });
    }
    this.builtFor = s.version;
  }

  /** The whole API as one OpenAPI v2 protobuf document, with an ETag for HTTP caching. */
  v2Protobuf(): { body: Buffer; etag: string } {
    this.refresh();
    if (!this.v2) {
      const body = encodeV2([...this.docs.values()].map((d) => JSON.parse(d.body.toString('utf8'))));
      this.v2 = { body, etag: `"${createHash('sha512').update(body).digest('hex').slice(0, 64).toUpperCase()}"` };
    }
    return this.v2;
  }

  /** The `/openapi/v3` index. */
  index(): Schema {
    this.refresh();
    const paths: Record<string, Schema> = {};
    for (const [gv, d] of this.docs) {
      const p = gv.includes('/') ? `apis/${gv}` : `api/${gv}`;
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${d.hash}` };
    }
    return { paths };
  }

  /** The serialized document for `api/v1` or `apis/G/V`, or undefined. */
  doc(path: string): Buffer | undefined {
    this.refresh();
    const gv = path.startsWith('api/') ? path.slice(4) : path.startsWith('apis/') ? path.slice(5) : '';
    return this.docs.get(gv)?.body;
  }
}
