/**
 * Access and token reviews (authorization.k8s.io, authentication.k8s.io): create-only objects
 * answered on the spot and never stored. Until RBAC is enforced every authenticated identity
 * is the admin (system:masters), so access reviews allow; token reviews accept the admin token
 * and service account tokens. They let `kubectl auth can-i` and `kubectl auth whoami` work.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ResourceInfo } from './resources.js';

/** Who asked: user name and groups (and, for service accounts, uid and extra). */
export interface UserInfo { name: string; groups: string[]; uid?: string; extra?: Record<string, string[]> }

/** Validates a service account token for TokenReview (the server's authenticator). */
export type TokenValidator = (token: string, audiences?: string[]) => Promise<{ user?: UserInfo; error?: string }>;

/** The userInfo of a review: authenticated users are also in system:authenticated. */
function userInfoOf(u: UserInfo): any {
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: [...u.groups, 'system:authenticated'], ...(u.extra && Object.keys(u.extra).length ? { extra: u.extra } : {}) };
}

/** The answered review: the request with its status filled in. */
export async function review(r: ResourceInfo, body: any, user: UserInfo | undefined, adminToken: string | undefined, validate?: TokenValidator): Promise<any> {
  const out = { ...body, metadata: { ...body.metadata, creationTimestamp: null } };
  const userInfo = userInfoOf(user ?? { name: 'admin', groups: [] });
  switch (r.kind) {
    case 'SelfSubjectAccessReview': case 'SubjectAccessReview':
      out.status = { allowed: true, reason: 'Skiff does not enforce RBAC yet: every authenticated user is an administrator' };
      break;
    case 'SelfSubjectRulesReview':
      out.status = { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false };
      break;
    case 'SelfSubjectReview':
      out.status = { userInfo };
      break;
    case 'TokenReview': {
      const given = Buffer.from(String(body.spec?.token ?? ''));
      const ok = !!adminToken && given.length === adminToken.length && timingSafeEqual(given, Buffer.from(adminToken));
      if (ok) { out.status = { authenticated: true, user: { username: 'admin', groups: ['system:masters', 'system:authenticated'] } }; break; }
      const audiences: string[] | undefined = body.spec?.audiences?.length ? body.spec.audiences : undefined;
      const sa = validate && given.length ? await validate(given.toString(), audiences) : { error: 'invalid bearer token' };
      out.status = sa.user ? { authenticated: true, user: userInfoOf(sa.user), ...(audiences ? { audiences } : {}) } : { authenticated: false, error: sa.error ?? 'invalid bearer token' };
      break;
    }
  }
  return out;
}
