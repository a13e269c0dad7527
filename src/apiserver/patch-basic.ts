/**
 * RFC 7386 merge patch and RFC 6902 JSON patch, used only while this build has no patch
 * engine (src/apiserver/patch/, which owns every patch type and takes over as soon as it is
 * present). Kept because `kubectl label|annotate|scale|patch --type=merge|json` must work
 * on any build; strategic merge and server-side apply need the engine.
 */
import { InvalidArgumentError } from '../core/errors.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** application/merge-patch+json: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(doc: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObj(doc) ? structuredClone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointer(p: unknown): string[] {
  if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw new InvalidArgumentError(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, path: string[], op: string): [any, string] {
  let cur: any = doc;
  for (const k of path.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(k)] : isObj(cur) ? cur[k] : undefined;
    if (cur === undefined) throw new InvalidArgumentError(`${op} operation does not apply: doc is missing path: /${path.join('/')}`);
  }
  return [cur, path[path.length - 1]];
}

function index(arr: unknown[], k: string, forAdd: boolean): number {
  if (forAdd && k === '-') return arr.length;
  const i = Number(k);
  if (!/^\d+$/.test(k) || i > arr.length || (!forAdd && i === arr.length)) throw new InvalidArgumentError(`invalid array index ${k}`);
  return i;
}

function get(doc: unknown, path: string[], op: string): unknown {
  if (!path.length) return doc;
  const [parent, k] = parentOf(doc, path, op);
  const v = Array.isArray(parent) ? parent[index(parent, k, false)] : isObj(parent) ? parent[k] : undefined;
  if (v === undefined) throw new InvalidArgumentError(`${op} operation does not apply: doc is missing path: /${path.join('/')}`);
  return v;
}

function remove(doc: unknown, path: string[], op: string): unknown {
  const v = get(doc, path, op);
  const [parent, k] = parentOf(doc, path, op);
  if (Array.isArray(parent)) parent.splice(index(parent, k, false), 1); else delete parent[k];
  return v;
}

function add(doc: unknown, path: string[], value: unknown, op: string): unknown {
  if (!path.length) return value;
  const [parent, k] = parentOf(doc, path, op);
  if (Array.isArray(parent)) parent.splice(index(parent, k, true), 0, value);
  else if (isObj(parent)) parent[k] = value;
  else throw new InvalidArgumentError(`${op} operation does not apply: doc is missing path: /${path.join('/')}`);
  return doc;
}

/** application/json-patch+json: add, remove, replace, move, copy, test, in order, atomically. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new InvalidArgumentError('a JSON patch must be an array of operations');
  let out = structuredClone(doc);
  for (const o of ops as any[]) {
    const path = pointer(o?.path);
    switch (o?.op) {
      case 'add': out = add(out, path, structuredClone(o.value), 'add'); break;
      case 'remove': remove(out, path, 'remove'); break;
      case 'replace': get(out, path, 'replace'); if (!path.length) out = structuredClone(o.value); else { remove(out, path, 'replace'); out = add(out, path, structuredClone(o.value), 'replace'); } break;
      case 'move': { const v = remove(out, pointer(o.from), 'move'); out = add(out, path, v, 'move'); break; }
      case 'copy': out = add(out, path, structuredClone(get(out, pointer(o.from), 'copy')), 'copy'); break;
      case 'test':
        if (JSON.stringify(get(out, path, 'test')) !== JSON.stringify(o.value)) throw new InvalidArgumentError(`testing value /${path.join('/')} failed: test failed`);
        break;
      default: throw new InvalidArgumentError(`Unexpected kind: ${o?.op}`);
    }
  }
  return out;
}
