/**
 * Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`) and the
 * LabelSelector objects (matchLabels/matchExpressions) workloads carry. Pure: the API server,
 * the scheduler and the controllers all match labels with these.
 */
import { InvalidArgumentError } from './errors.js';

/** A compiled selector: true when the object matches. */
export type Matcher = (obj: any) => boolean;

/** One requirement of a selector. */
export type Req = { key: string; op: 'eq' | 'ne' | 'in' | 'notin' | 'exists' | '!exists'; values: string[] };

function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

/** Parses a label selector string; throws 400 on bad syntax. */
export function parseLabelSelector(s: string | null | undefined): Req[] {
  if (!s) return [];
  return splitTop(s).map((term) => {
    let m = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) return { key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()).filter((v) => v !== '' || true) };
    m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
    if (m) return { key: m[1], op: m[2] === '!=' ? 'ne' : 'eq', values: [m[3]] };
    m = /^(!?)([^\s!=(),]+)$/.exec(term);
    if (m) return { key: m[2], op: m[1] ? '!exists' : 'exists', values: [] };
    throw new InvalidArgumentError(`unable to parse requirement: invalid label selector: "${term}"`);
  });
}

/** True when every requirement holds for the labels `get` reads. */
export function test(reqs: Req[], get: (k: string) => string | undefined): boolean {
  return reqs.every(({ key, op, values }) => {
    const v = get(key);
    switch (op) {
      case 'eq': return v === values[0];
      case 'ne': return v !== values[0];
      case 'in': return v !== undefined && values.includes(v);
      case 'notin': return v === undefined || !values.includes(v);
      case 'exists': return v !== undefined;
      case '!exists': return v === undefined;
    }
  });
}

/** A matcher for a label selector string. */
export function labelMatcher(s: string | null | undefined): Matcher {
  const reqs = parseLabelSelector(s);
  return (obj) => test(reqs, (k) => obj?.metadata?.labels?.[k]);
}

/** A matcher for a LabelSelector object (matchLabels + matchExpressions). */
export function selectorObjectMatcher(sel: any): Matcher {
  const reqs: Req[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) reqs.push({ key: k, op: 'eq', values: [String(v)] });
  for (const e of sel?.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' } as const)[e.operator as 'In'];
    if (op) reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return (labels: any) => test(reqs, (k) => labels?.[k]);
}

/** Renders a LabelSelector object as a selector string (for Scale.status.selector). */
export function selectorString(sel: any): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}
