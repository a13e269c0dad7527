/**
 * Access and token reviews (authorization.k8s.io, authentication.k8s.io): create-only objects
 * answered on the spot and never stored. Until RBAC is enforced every authenticated identity
 * is the admin (system:masters), so access reviews allow; token reviews accept the admin token.
 * They let `kubectl auth can-i` and `kubectl auth whoami` work.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ResourceInfo } from './resources.js';

/** Who asked: user name and groups. */
export interface UserInfo { name: string; groups: string[] }

/** The answered review: the request with its status filled in. */
export function review(r: ResourceInfo, body: any, user: UserInfo | undefined, adminToken: string | undefined): any {
  const out = { ...body, metadata: { ...body.metadata, creationTimestamp: null } };
  const userInfo = { username: user?.name ?? 'admin', groups: [...(user?.groups ?? []), 'system:authenticated'] };
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
      out.status = ok ? { authenticated: true, user: { username: 'admin', groups: ['system:masters', 'system:authenticated'] } } : { authenticated: false, error: 'invalid bearer token' };
      break;
    }
  }
  return out;
}
