/**
 * Access and token reviews (authorization.k8s.io, authentication.k8s.io): create-only objects
 * answered on the spot and never stored. Access reviews (self, subject, local) ask the RBAC
 * authorizer; SelfSubjectRulesReview lists the rules RBAC grants; SelfSubjectReview echoes the
 * (possibly impersonated) requester; token reviews accept the admin token and service account
 * tokens. They make `kubectl auth can-i` and `kubectl auth whoami` work.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ResourceInfo } from './resources.js';
import { badRequest, invalid } from './status.js';
import { AUTHENTICATED, type Attributes, type PolicyRule, type UserInfo } from './authz/rules.js';
import type { RbacAuthorizer } from './authz/rbac.js';

export type { UserInfo } from './authz/rules.js';

/** Validates a service account token for TokenReview (the server's authenticator). */
export type TokenValidator = (token: string, audiences?: string[]) => Promise<{ user?: UserInfo; error?: string }>;

/** What a review is answered with. */
export interface ReviewContext {
  user?: UserInfo;
  adminToken?: string;
  validate?: TokenValidator;
  authz?: RbacAuthorizer;
  /** The namespace of the request path (LocalSubjectAccessReview). */
  namespace?: string;
}

/** The userInfo of a review: authenticated users are also in system:authenticated. */
function userInfoOf(u: UserInfo): any {
  const groups = u.groups.includes(AUTHENTICATED) ? u.groups : [...u.groups, AUTHENTICATED];
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups, ...(u.extra && Object.keys(u.extra).length ? { extra: u.extra } : {}) };
}

/** The attributes an access review asks about, for `user`. */
function reviewAttributes(spec: any, user: UserInfo): Attributes {
  const ra = spec?.resourceAttributes;
  const nra = spec?.nonResourceAttributes;
  if (ra) {
    return { user, verb: String(ra.verb ?? ''), resourceRequest: true, path: '', apiGroup: String(ra.group ?? ''), apiVersion: String(ra.version ?? ''),
      resource: String(ra.resource ?? ''), subresource: String(ra.subresource ?? ''), namespace: String(ra.namespace ?? ''), name: String(ra.name ?? '') };
  }
  if (nra) return { user, verb: String(nra.verb ?? ''), resourceRequest: false, path: String(nra.path ?? ''), apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  throw invalid('SubjectAccessReview', 'authorization.k8s.io', '', [{ reason: 'FieldValueRequired', field: 'spec.resourceAttributes', message: 'Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified' }]);
}

/** The status of an access review: allowed, and why when RBAC says. */
function decide(ctx: ReviewContext, a: Attributes): any {
  const d = ctx.authz ? ctx.authz.authorize(a) : { allowed: false, reason: 'no authorizer' };
  return { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) };
}

/** The answered review: the request with its status filled in. */
export async function review(r: ResourceInfo, body: any, ctx: ReviewContext): Promise<any> {
  const { user, adminToken, validate } = ctx;
  const out = { ...body, metadata: { ...body.metadata, creationTimestamp: null } };
  const userInfo = userInfoOf(user ?? { name: 'admin', groups: [] });
  switch (r.kind) {
    case 'SelfSubjectAccessReview':
      out.status = decide(ctx, reviewAttributes(body.spec, user ?? { name: '', groups: [] }));
      break;
    case 'SubjectAccessReview': case 'LocalSubjectAccessReview': {
      const spec = body.spec ?? {};
      if (!spec.user && !(spec.groups ?? []).length) {
        throw invalid(r.kind, 'authorization.k8s.io', '', [{ reason: 'FieldValueInvalid', field: 'spec.user', message: 'Invalid value: "": at least one of user or group must be specified' }]);
      }
      if (r.kind === 'LocalSubjectAccessReview') {
        if (!spec.resourceAttributes) throw badRequest('spec.resourceAttributes: Required value: resourceAttributes are required for a local review');
        spec.resourceAttributes.namespace ||= ctx.namespace;
        if (spec.resourceAttributes.namespace !== ctx.namespace) throw badRequest(`spec.resourceAttributes.namespace must match namespace: ${ctx.namespace}`);
      }
      // The subject is taken as given: no system:authenticated is added, as upstream.
      out.status = decide(ctx, reviewAttributes(spec, { name: String(spec.user ?? ''), groups: spec.groups ?? [], uid: spec.uid, extra: spec.extra }));
      break;
    }
    case 'SelfSubjectRulesReview': {
      const ns = String(body.spec?.namespace ?? '');
      const { rules, errors } = ctx.authz?.rulesFor(user ?? { name: '', groups: [] }, ns) ?? { rules: [], errors: ['no authorizer'] };
      const isUrl = (x: PolicyRule) => !!x.nonResourceURLs?.length;
      out.status = {
        resourceRules: rules.filter((x) => !isUrl(x)).map((x) => ({ verbs: x.verbs, apiGroups: x.apiGroups ?? [], resources: x.resources ?? [], ...(x.resourceNames?.length ? { resourceNames: x.resourceNames } : {}) })),
        nonResourceRules: rules.filter(isUrl).map((x) => ({ verbs: x.verbs, nonResourceURLs: x.nonResourceURLs })),
        incomplete: errors.length > 0,
        ...(errors.length ? { evaluationError: errors.join(', ') } : {}),
      };
      break;
    }
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
