/**
 * Request plumbing: the resource path grammar (/api/v1/..., /apis/G/V/...), bounded body
 * reading (3 MiB, as the real server), body decoding by Content-Type, and Accept negotiation
 * (JSON, YAML, meta.k8s.io Table, PartialObjectMetadata).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import YAML from 'yaml';
import { ApiError, badRequest } from './status.js';
import { decodeProtobuf } from './protobuf/decode.js';

/** The most a request body may hold. */
export const MAX_BODY = 3 * 1024 * 1024;

/** A parsed resource request path. */
export interface ResourcePath {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

/**
 * Parses `/api/v1/namespaces/ns/pods/name/status` and friends; undefined when the path is not
 * a resource path (discovery paths are handled elsewhere).
 */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const segs = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string, version: string, rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) { group = ''; version = segs[1]; rest = segs.slice(2); }
  else if (segs[0] === 'apis' && segs.length >= 4) { group = segs[1]; version = segs[2]; rest = segs.slice(3); }
  else return undefined;
  let namespace: string | undefined;
  // namespaces/<ns>/<resource>... — but namespaces/<name>/status|finalize is the namespace itself.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length > 3) return undefined;
  return { group, version, namespace, resource: rest[0], name: rest[1], subresource: rest[2] };
}

/** Reads the request body, refusing more than MAX_BODY with 413. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const len = Number(req.headers['content-length'] ?? 0);
  if (len > MAX_BODY) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    total += (c as Buffer).length;
    if (total > MAX_BODY) throw tooLarge();
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

const tooLarge = () => new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY}`);

/** Media types this server decodes for object bodies. */
const ACCEPTED = 'application/json, application/yaml';

/** Decodes an object body (JSON or YAML); 415 for protobuf/CBOR and other types, 400 when malformed. */
export function decodeBody(buf: Buffer, contentType: string | undefined): any {
  const ct = (contentType ?? 'application/json').split(';')[0].trim().toLowerCase();
  if (ct === 'application/vnd.kubernetes.protobuf') return decodeProtobuf(buf);
  const yaml = ct === 'application/yaml' || ct === 'application/apply-patch+yaml' || ct === 'text/yaml';
  const json = ct === 'application/json' || ct.endsWith('+json') || ct === '' || ct === '*/*';
  if (!yaml && !json) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${ACCEPTED}`);
  }
  const text = buf.toString('utf8');
  if (!text.trim()) throw badRequest('the request body is empty');
  try {
    if (json) return JSON.parse(text);
    const docs = YAML.parseAllDocuments(text);
    if (docs.length !== 1) throw new Error('expected exactly one YAML document');
    if (docs[0].errors.length) throw docs[0].errors[0];
    return docs[0].toJS({ maxAliasCount: 50 });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw badRequest(json ? `couldn't get version/kind; json parse error: ${msg}` : `error converting YAML to JSON: yaml: ${msg}`);
  }
}

/** What the client asked the response to be. */
export type Want = { as: 'object' } | { as: 'Table'; version: string } | { as: 'PartialObjectMetadata'; version: string; list: boolean } | { as: 'yaml' };

/** Reads the Accept header: the first entry this server can produce wins; 406 when none can. */
export function negotiate(accept: string | undefined): Want {
  if (!accept) return { as: 'object' };
  for (const part of accept.split(',')) {
    const [type, ...ps] = part.split(';').map((s) => s.trim());
    const params = Object.fromEntries(ps.map((p) => p.split('=').map((s) => s.trim())));
    if (type === 'application/json' && params.as) {
      if (params.as === 'Table' && params.g === 'meta.k8s.io' && (params.v === 'v1' || params.v === 'v1beta1')) return { as: 'Table', version: params.v };
      if ((params.as === 'PartialObjectMetadata' || params.as === 'PartialObjectMetadataList') && params.g === 'meta.k8s.io' && (params.v === 'v1' || params.v === 'v1beta1'))
        return { as: 'PartialObjectMetadata', version: params.v, list: params.as.endsWith('List') };
      continue; // e.g. aggregated discovery: not offered, try the next entry
    }
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return { as: 'object' };
    if (type === 'application/yaml') return { as: 'yaml' };
  }
  throw new ApiError(406, 'NotAcceptable', `only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io`);
}

/** Sends a JSON (or YAML) body with the given status. */
export function send(res: ServerResponse, code: number, body: unknown, yaml = false, headers: Record<string, string | string[]> = {}): void {
  const data = yaml ? YAML.stringify(body) : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': yaml ? 'application/yaml' : 'application/json', 'Content-Length': Buffer.byteLength(data), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(data);
}
