/**
 * `/openapi/v2` as gnostic protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`),
 * converted from the v3 documents. kubectl 1.27 needs it: its strict validation looks for the
 * `fieldValidation` parameter here (not in v3), and `explain`/client-side apply read models
 * from it. Field numbers follow gnostic's openapiv2/OpenAPIv2.proto.
 */
import YAML from 'yaml';
import type { Schema } from './schemas.js';

/** A minimal protobuf writer: every method appends one field. */
class W {
  private parts: Buffer[] = [];
  private varint(n: number | bigint): void {
    let v = BigInt(n);
    if (v < 0n) v = BigInt.asUintN(64, v);
    const out: number[] = [];
    do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; out.push(b); } while (v);
    this.parts.push(Buffer.from(out));
  }
  private tag(n: number, wire: number) { this.varint((n << 3) | wire); }
  bytes(n: number, b: Buffer): this { this.tag(n, 2); this.varint(b.length); this.parts.push(b); return this; }
  str(n: number, s: unknown): this { if (s !== undefined && s !== null && s !== '') this.bytes(n, Buffer.from(String(s))); return this; }
  strs(n: number, a: unknown[] | undefined): this { for (const s of a ?? []) this.bytes(n, Buffer.from(String(s))); return this; }
  msg(n: number, w: W | undefined): this { if (w) this.bytes(n, w.done()); return this; }
  bool(n: number, b: unknown): this { if (b) { this.tag(n, 0); this.varint(1); } return this; }
  int(n: number, v: unknown): this { if (typeof v === 'number') { this.tag(n, 0); this.varint(v); } return this; }
  dbl(n: number, v: unknown): this { if (typeof v === 'number') { this.tag(n, 1); const b = Buffer.alloc(8); b.writeDoubleLE(v); this.parts.push(b); } return this; }
  done(): Buffer { return Buffer.concat(this.parts); }
}

const anyYaml = (v: unknown) => new W().str(2, YAML.stringify(v));
const namedAny = (name: string, v: unknown) => new W().str(1, name).msg(2, anyYaml(v));
const refName = (r: string) => r.replace('#/components/schemas/', '#/definitions/');

function extensions(w: W, n: number, o: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(o)) {
    if (!k.startsWith('x-')) continue;
    // Operations carry one GVK map; definitions a list of them (as Kubernetes publishes).
    w.msg(n, namedAny(k, v));
  }
}

function schema(s: Schema): W {
  const w = new W();
  const ref = s.$ref ?? (s.allOf?.length === 1 ? s.allOf[0].$ref : undefined);
  if (ref) return w.str(1, refName(ref)).str(4, s.description);
  const intOrString = s['x-kubernetes-int-or-string'];
  w.str(2, intOrString ? 'int-or-string' : s.format).str(4, s.description);
  w.dbl(7, s.maximum).dbl(9, s.minimum).int(11, s.maxLength).int(12, s.minLength).str(13, s.pattern).int(14, s.maxItems).int(15, s.minItems);
  w.strs(19, s.required);
  for (const e of s.enum ?? []) w.msg(20, anyYaml(e));
  if (s.additionalProperties && typeof s.additionalProperties === 'object') w.msg(21, new W().msg(1, schema(s.additionalProperties)));
  const type = intOrString ? 'string' : s.type;
  if (type) w.msg(22, new W().strs(1, [type]));
  if (s.items) w.msg(23, new W().msg(1, schema(s.items)));
  // As kube-apiserver publishes preserve-unknown-fields schemas in v2 (ToStructuralOpenAPIV2):
  // without properties, since v2 validators (kubectl's for `kind: List`) refuse any field a
  // schema with properties does not name.
  if (s.properties && !s['x-kubernetes-preserve-unknown-fields']) {
    const props = new W();
    for (const [k, v] of Object.entries(s.properties as Record<string, Schema>)) props.msg(1, new W().str(1, k).msg(2, schema(v)));
    w.msg(25, props);
  }
  extensions(w, 31, Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'x-kubernetes-int-or-string')));
  return w;
}

function parameter(p: Schema): W {
  if (p.in === 'body') return new W().msg(1, new W().msg(1, new W().str(1, p.description).str(2, p.name).str(3, 'body').bool(4, p.required).msg(5, schema(p.schema ?? { type: 'object' }))));
  const sub = new W().bool(1, p.required).str(2, p.in).str(3, p.description).str(4, p.name);
  if (p.in === 'path') sub.str(5, p.schema?.type ?? 'string').bool(19, true);
  else sub.str(6, p.schema?.type ?? 'string').bool(20, true);
  return new W().msg(1, new W().msg(2, new W().msg(p.in === 'path' ? 4 : 3, sub)));
}

function operation(op: Schema): W {
  const w = new W().strs(1, op.tags).str(3, op.description).str(5, op.operationId);
  w.strs(6, ['application/json', 'application/yaml']);
  const consumes = op.requestBody?.content ? Object.keys(op.requestBody.content) : [];
  w.strs(7, consumes.filter((c) => c !== '*/*'));
  for (const p of op.parameters ?? []) w.msg(8, parameter(p));
  if (op.requestBody) {
    const body = Object.values(op.requestBody.content ?? {})[0] as any;
    w.msg(8, parameter({ in: 'body', name: 'body', required: true, schema: body?.schema }));
  }
  const responses = new W();
  for (const [code, r] of Object.entries(op.responses ?? {}) as [string, any][]) {
    const sch = r.content?.['application/json']?.schema;
    const resp = new W().str(1, r.description ?? 'OK').msg(2, sch ? new W().msg(1, schema(sch)) : undefined);
    responses.msg(1, new W().str(1, code).msg(2, new W().msg(1, resp)));
  }
  w.msg(9, responses);
  extensions(w, 13, op);
  return w;
}

/** Encodes the union of v3 group-version documents as one OpenAPI v2 protobuf document. */
export function encodeV2(docs: Schema[]): Buffer {
  const paths = new W();
  const defs = new W();
  const seen = new Set<string>();
  for (const d of docs) {
    for (const [p, item] of Object.entries(d.paths ?? {}) as [string, Schema][]) {
      const pi = new W();
      const slots: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, patch: 8 };
      for (const [verb, n] of Object.entries(slots)) if (item[verb]) pi.msg(n, operation(item[verb]));
      for (const prm of item.parameters ?? []) pi.msg(9, parameter(prm));
      paths.msg(2, new W().str(1, p).msg(2, pi));
    }
    for (const [name, s] of Object.entries(d.components?.schemas ?? {}) as [string, Schema][]) {
      if (seen.has(name)) continue;
      seen.add(name);
      defs.msg(1, new W().str(1, name).msg(2, schema(s)));
    }
  }
  return new W().str(1, '2.0').msg(2, new W().str(1, 'Kubernetes').str(2, 'v1.33.0')).msg(8, paths).msg(9, defs).done();
}
