/**
 * Field sets in Kubernetes' `FieldsV1` form, as `metadata.managedFields` carries them:
 * `{"f:spec":{"f:replicas":{}}}`, keyed list items as `k:{"name":"web"}` (with `.` for the
 * item itself), set items as `v:"value"`. Internally a set is a Set of token paths joined by
 * a separator, which makes intersections and differences plain set operations.
 */
import { itemKey, listRule, KEY_DEFAULTS } from './strategic.js';

/** Group, version and kind. */
export interface GVK { group: string; version: string; kind: string }

const SEP = '\u0000';
const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

// Set by the server, never owned by a manager.
const IGNORED_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink']);

/** The leaf paths of an object, as token paths. */
export function fieldSet(obj: unknown, gvk: GVK): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, tokens: string[], path: string[]) => {
    if (isObj(v)) {
      const entries = Object.entries(v).filter(([k]) => {
        if (tokens.length === 0) return k !== 'apiVersion' && k !== 'kind' && k !== 'status';
        return !(tokens.length === 1 && tokens[0] === 'f:metadata' && IGNORED_META.has(k));
      });
      if (!Object.keys(v).length && tokens.length) out.add(tokens.join(SEP));
      for (const [k, x] of entries) walk(x, [...tokens, `f:${k}`], [...path, k]);
      return;
    }
    if (Array.isArray(v)) {
      const rule = listRule(path, gvk);
      if (rule?.mergeKey) {
        for (const item of v) {
          if (!isObj(item)) continue;
          const t = [...tokens, `k:${JSON.stringify(itemKey(rule, item))}`];
          out.add([...t, '.'].join(SEP));
          for (const [k, x] of Object.entries(item)) walk(x, [...t, `f:${k}`], [...path, '[]', k]);
        }
        return;
      }
      if (rule) {
        for (const item of v) out.add([...tokens, `v:${JSON.stringify(item)}`].join(SEP));
        return;
      }
    }
    if (tokens.length) out.add(tokens.join(SEP));
  };
  walk(obj, [], []);
  return out;
}

/** FieldsV1 JSON from a set. */
export function toFieldsV1(set: Set<string>): Record<string, any> {
  const root: Record<string, any> = {};
  for (const p of [...set].sort()) {
    let cur = root;
    for (const t of p.split(SEP)) cur = (cur[t] ??= {});
  }
  return root;
}

/** A set from FieldsV1 JSON. */
export function fromFieldsV1(f: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, tokens: string[]) => {
    if (!isObj(node)) return;
    const keys = Object.keys(node);
    if (!keys.length && tokens.length) out.add(tokens.join(SEP));
    for (const k of keys) walk(node[k], [...tokens, k]);
  };
  walk(f, []);
  return out;
}

/** The value at a token path (undefined when absent). */
export function valueAt(obj: unknown, path: string): unknown {
  let cur: any = obj;
  for (const t of path.split(SEP)) {
    if (cur === undefined) return undefined;
    if (t === '.') return cur;
    if (t.startsWith('f:')) cur = isObj(cur) ? cur[t.slice(2)] : undefined;
    else if (t.startsWith('k:')) {
      const key = JSON.parse(t.slice(2)) as Record<string, unknown>;
      cur = Array.isArray(cur) ? cur.find((x) => matchesKey(x, key)) : undefined;
    } else if (t.startsWith('v:')) {
      const v = JSON.parse(t.slice(2));
      return Array.isArray(cur) && cur.includes(v) ? v : undefined;
    }
  }
  return cur;
}

// A list item matches a `k:` token when every key field agrees (protocol defaults to TCP).
function matchesKey(x: unknown, key: Record<string, unknown>): boolean {
  return isObj(x) && Object.entries(key).every(([k, v]) => (x[k] ?? KEY_DEFAULTS[k]) === v);
}

/** Removes the field at a token path from `obj` (in place). */
export function deletePath(obj: unknown, path: string): void {
  const tokens = path.split(SEP);
  let cur: any = obj;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const last = i === tokens.length - 1 || tokens[i + 1] === '.';
    if (t.startsWith('f:')) {
      if (!isObj(cur)) return;
      if (last) {
        delete cur[t.slice(2)];
        return;
      }
      cur = cur[t.slice(2)];
    } else if (t.startsWith('k:')) {
      if (!Array.isArray(cur)) return;
      const key = JSON.parse(t.slice(2)) as Record<string, unknown>;
      const idx = cur.findIndex((x) => matchesKey(x, key));
      if (idx < 0) return;
      if (last) {
        cur.splice(idx, 1);
        return;
      }
      cur = cur[idx];
    } else if (t.startsWith('v:')) {
      if (!Array.isArray(cur)) return;
      const v = JSON.parse(t.slice(2));
      const idx = cur.indexOf(v);
      if (idx >= 0) cur.splice(idx, 1);
      return;
    }
  }
}

/** `.spec.replicas`, `.spec.containers[name="web"].image`: a path as Kubernetes prints it. */
export function describePath(path: string): string {
  return path.split(SEP).filter((t) => t !== '.').map((t) => {
    if (t.startsWith('f:')) return `.${t.slice(2)}`;
    if (t.startsWith('k:')) {
      return `[${Object.entries(JSON.parse(t.slice(2)) as Record<string, unknown>).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    }
    return `[${t.slice(2)}]`;
  }).join('');
}
