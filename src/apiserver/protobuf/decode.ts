/**
 * Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), which
 * kubectl 1.32+ sends for `kubectl create deployment|configmap|secret|...` and does not
 * retry as JSON after a 415. The envelope is "k8s\0" + runtime.Unknown{typeMeta, raw}; raw
 * is the object in its generated.proto encoding, decoded here with field tables generated from
 * those .proto files (messages.ts) into the same JSON the object would have.
 */
import { MESSAGES } from './messages.js';
import { ApiError } from '../status.js';

/** Non-pointer `omitempty` fields gogo always writes: their zero value means "unset" in JSON. */
const ZERO_OMITTED = new Set(['generation', 'minReadySeconds', 'paused', 'hostPort', 'stdin', 'stdinOnce', 'tty', 'hostIPC',
  'hostNetwork', 'hostPID', 'nodePort', 'readOnly', 'observedGeneration', 'shareProcessNamespace', 'setHostnameAsFQDN', 'healthCheckNodePort']);

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly end = buf.length) {}
  varint(): bigint {
    let result = 0n, shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.end) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function scalar(type: string, wire: number, r: Reader): unknown {
  switch (type) {
    case 'string': return r.bytes().toString('utf8');
    case 'bytes': return r.bytes().toString('base64');
    case 'bool': return r.varint() !== 0n;
    case 'int32': return Number(BigInt.asIntN(32, r.varint()));
    case 'int64': return Number(BigInt.asIntN(64, r.varint()));
    case 'uint32': case 'uint64': return Number(r.varint());
    case 'double': { const v = r.buf.readDoubleLE(r.pos); r.pos += 8; return v; }
    case 'float': { const v = r.buf.readFloatLE(r.pos); r.pos += 4; return v; }
    default: r.skip(wire); return undefined;
  }
}

/** Messages whose JSON form is not an object of their fields. */
function special(type: string, m: any): unknown {
  switch (type) {
    case 'k8s.io.apimachinery.pkg.apis.meta.v1.Time':
      return m.seconds ? new Date(m.seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : null;
    case 'k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime':
      return m.seconds ? new Date(m.seconds * 1000).toISOString().replace(/\.\d+Z$/, `.${String(Math.floor((m.nanos ?? 0) / 1000)).padStart(6, '0')}Z`) : null;
    case 'k8s.io.apimachinery.pkg.api.resource.Quantity': return m.string ?? '0';
    case 'k8s.io.apimachinery.pkg.util.intstr.IntOrString': return m.type === 1 ? (m.strVal ?? '') : (m.intVal ?? 0);
    case 'k8s.io.apimachinery.pkg.runtime.RawExtension': return m.raw ? JSON.parse(Buffer.from(m.raw, 'base64').toString('utf8')) : undefined;
    case 'k8s.io.apimachinery.pkg.apis.meta.v1.Duration': return m.duration ? `${m.duration / 1e9}s` : '0s';
    default: return m;
  }
}

function value(type: string, wire: number, r: Reader): unknown {
  if (!MESSAGES[type]) return scalar(type, wire, r);
  const b = r.bytes();
  return special(type, message(type, new Reader(b)));
}

function message(type: string, r: Reader): any {
  const fields = MESSAGES[type];
  const out: any = {};
  while (r.pos < r.end) {
    const tag = Number(r.varint());
    const num = tag >>> 3, wire = tag & 7;
    const f = fields.find((x) => x[0] === num);
    if (!f) { r.skip(wire); continue; }
    const [, name, ftype, label] = f;
    if (label === 'm') {
      const b = r.bytes();
      const er = new Reader(b);
      let k = '', v: unknown;
      while (er.pos < er.end) {
        const t = Number(er.varint());
        if (t >>> 3 === 1) k = er.bytes().toString('utf8');
        else if (t >>> 3 === 2) v = value(ftype, t & 7, er);
        else er.skip(t & 7);
      }
      (out[name] ??= {})[k] = v ?? (ftype === 'string' ? '' : v);
    } else if (label === 'r') {
      if (wire === 2 && !MESSAGES[ftype] && ftype !== 'string' && ftype !== 'bytes') {
        const b = r.bytes();
        const packed = new Reader(b);
        while (packed.pos < packed.end) (out[name] ??= []).push(scalar(ftype, 0, packed));
      } else (out[name] ??= []).push(value(ftype, wire, r));
    } else {
      out[name] = value(ftype, wire, r);
    }
  }
  // gogo writes every non-pointer field; JSON omits empty strings and nulls: drop them alike.
  for (const k of Object.keys(out)) {
    if (out[k] === '' || out[k] === null || out[k] === undefined || (ZERO_OMITTED.has(k) && (out[k] === 0 || out[k] === false))) delete out[k];
  }
  return out;
}

/** The message name of an apiVersion/kind (`apps/v1`, `Deployment` → k8s.io.api.apps.v1.Deployment). */
function messageFor(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const short = group === '' ? 'core' : group.replace(/\.k8s\.io$/, '').replace(/\.authorization$/, '');
  return `k8s.io.api.${short}.${version}.${kind}`;
}

/** True when a body starts with the Kubernetes protobuf magic. */
export function isProtobuf(buf: Buffer): boolean {
  return buf.length >= 4 && buf.subarray(0, 4).equals(MAGIC);
}

/** Decodes a protobuf request body into a JSON object; 415 for kinds without a table. */
export function decodeProtobuf(buf: Buffer): any {
  if (!isProtobuf(buf)) throw new ApiError(400, 'BadRequest', 'protobuf body does not start with the Kubernetes magic number');
  let unknown: any;
  try {
    unknown = message('k8s.io.apimachinery.pkg.runtime.Unknown', new Reader(buf.subarray(4)));
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `malformed protobuf body: ${(err as Error).message}`);
  }
  const apiVersion = unknown.typeMeta?.apiVersion ?? '', kind = unknown.typeMeta?.kind ?? '';
  const type = messageFor(apiVersion, kind);
  if (!MESSAGES[type]) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf for ${apiVersion}/${kind} is not supported)`);
  }
  try {
    const obj = message(type, new Reader(Buffer.from(unknown.raw ?? '', 'base64')));
    return { apiVersion, kind, ...obj };
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `malformed protobuf body: ${(err as Error).message}`);
  }
}
