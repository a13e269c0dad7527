/**
 * User impersonation (Impersonate-User, Impersonate-Group, Impersonate-Uid and
 * Impersonate-Extra-* headers), as kube-apiserver's impersonation filter: each requested
 * identity needs the `impersonate` verb — on users (or, for system:serviceaccount:NS:NAME, on
 * that service account in NS), groups, uids and userextras/KEY — and the request then runs as
 * the impersonated user. A service account impersonated without groups gets its own; everyone
 * impersonated is in system:authenticated.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../status.js';
import { AUTHENTICATED, SA_PREFIX, forbidden, type Attributes, type UserInfo } from './rules.js';
import type { Decision } from './rbac.js';

const EXTRA = 'impersonate-extra-';

/** The user a request acts as: `user` itself, or whom its headers impersonate (403 when not allowed). */
export function impersonate(req: IncomingMessage, user: UserInfo, authorize: (a: Attributes) => Decision): UserInfo {
  const h = req.headersDistinct;
  const name = h['impersonate-user']?.[0];
  const groups = h['impersonate-group'] ?? [];
  const uid = h['impersonate-uid']?.[0];
  const extra: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(EXTRA) && v) extra[decodeURIComponent(k.slice(EXTRA.length))] = v;
  }
  if (name === undefined) {
    if (groups.length || uid !== undefined || Object.keys(extra).length) throw new ApiError(400, 'BadRequest', 'requested impersonation of groups, uid or extra without impersonating a user');
    return user;
  }
  const check = (a: Omit<Attributes, 'user' | 'verb' | 'resourceRequest' | 'path' | 'apiVersion' | 'subresource'> & { subresource?: string }) => {
    const attrs: Attributes = { user, verb: 'impersonate', resourceRequest: true, path: '', apiVersion: '', subresource: '', ...a };
    const d = authorize(attrs);
    if (!d.allowed) throw forbidden(attrs, d.reason);
  };
  const sa = name.startsWith(SA_PREFIX) ? name.slice(SA_PREFIX.length).split(':') : undefined;
  if (sa?.length === 2) check({ apiGroup: '', resource: 'serviceaccounts', namespace: sa[0], name: sa[1] });
  else check({ apiGroup: '', resource: 'users', namespace: '', name });
  for (const g of groups) check({ apiGroup: '', resource: 'groups', namespace: '', name: g });
  if (uid !== undefined) check({ apiGroup: 'authentication.k8s.io', resource: 'uids', namespace: '', name: uid });
  for (const [k, vs] of Object.entries(extra)) for (const v of vs) check({ apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: k, namespace: '', name: v });
  const out = [...groups];
  if (!groups.length && sa?.length === 2) out.push('system:serviceaccounts', `system:serviceaccounts:${sa[0]}`);
  if (name !== 'system:anonymous' && !out.includes(AUTHENTICATED)) out.push(AUTHENTICATED);
  return { name, groups: out, ...(uid !== undefined ? { uid } : {}), ...(Object.keys(extra).length ? { extra } : {}) };
}
