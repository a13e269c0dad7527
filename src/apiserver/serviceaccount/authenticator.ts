/**
 * Authentication by service account token, as kube-apiserver's: the JWT must carry this
 * server's signature, issuer and an audience of it, and not be expired; the service account
 * must still exist with the uid in the token, and so must the object the token is bound to (a
 * pod deleted more than a minute ago invalidates its tokens). The identity is
 * `system:serviceaccount:NS:NAME` in the groups `system:serviceaccounts` and
 * `system:serviceaccounts:NS`, with the pod and node in `extra`. Results are cached ten
 * seconds, as the real server's token cache.
 */
import type { Storage } from '../storage.js';
import type { Catalog } from '../catalog.js';
import { ISSUER, type Claims, type SigningKey } from './jwt.js';

/** An authenticated service account. */
export interface TokenUser {
  name: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** Leeway for clocks, as the real validator's (nbf, and a pod's deletion). */
const LEEWAY_S = 60;
const CACHE_MS = 10_000;

/** Validates service account tokens against the signing key and the store. */
export class ServiceAccountAuthenticator {
  private cache = new Map<string, { user: TokenUser; until: number }>();

  constructor(private readonly storage: Storage, private readonly catalog: Catalog, private readonly key: SigningKey, private readonly now: () => number = Date.now) {}

  /** The user a token stands for, or undefined (with why, for TokenReview). */
  async authenticate(token: string, audiences: string[] = [ISSUER]): Promise<{ user?: TokenUser; error?: string }> {
    const nowMs = this.now();
    const cacheKey = `${audiences.join(',')}|${token}`;
    const hit = this.cache.get(cacheKey);
    if (hit && hit.until > nowMs) return { user: hit.user };
    const claims = this.key.verify(token);
    if (!claims) return { error: 'invalid bearer token' };
    const why = await this.check(claims, audiences, nowMs / 1000);
    if (why) return { error: why };
    const k = claims['kubernetes.io'];
    const extra: Record<string, string[]> = {};
    if (k.pod) { extra['authentication.kubernetes.io/pod-name'] = [k.pod.name]; extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid]; }
    if (k.node) { extra['authentication.kubernetes.io/node-name'] = [k.node.name]; extra['authentication.kubernetes.io/node-uid'] = [k.node.uid]; }
    if (claims.jti) extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
    const user: TokenUser = {
      name: claims.sub, uid: k.serviceaccount.uid, groups: ['system:serviceaccounts', `system:serviceaccounts:${k.namespace}`], extra,
    };
    if (this.cache.size > 1024) this.cache.clear();
    this.cache.set(cacheKey, { user, until: Math.min(nowMs + CACHE_MS, claims.exp * 1000) });
    return { user };
  }

  private async check(c: Claims, audiences: string[], now: number): Promise<string | undefined> {
    if (c.iss !== ISSUER) return 'token issuer is not this server';
    if (!(c.aud ?? []).some((a) => audiences.includes(a))) return 'token audiences do not match';
    if (now >= c.exp) return 'service account token has expired';
    if (c.nbf !== undefined && now + LEEWAY_S < c.nbf) return 'service account token is not valid yet';
    const k = c['kubernetes.io'];
    if (!k?.namespace || !k.serviceaccount) return 'token is not a service account token';
    const get = async (resource: string, ns: string | undefined, name: string) =>
      (await this.storage.get(this.catalog.lookup('', 'v1', resource)!, ns, name).catch(() => undefined))?.obj;
    const sa = await get('serviceaccounts', k.namespace, k.serviceaccount.name);
    if (!sa || sa.metadata.uid !== k.serviceaccount.uid || sa.metadata.deletionTimestamp) return `service account ${k.namespace}/${k.serviceaccount.name} has been deleted`;
    if (k.pod) {
      const pod = await get('pods', k.namespace, k.pod.name);
      if (!pod || pod.metadata.uid !== k.pod.uid) return `pod ${k.namespace}/${k.pod.name} has been deleted`;
      const del = Date.parse(pod.metadata.deletionTimestamp ?? '');
      if (del && del / 1000 + LEEWAY_S < now) return `pod ${k.namespace}/${k.pod.name} has been deleted`;
    }
    if (k.node && !k.pod) {
      const n = await get('nodes', undefined, k.node.name);
      if (!n || n.metadata.uid !== k.node.uid) return `node ${k.node.name} has been deleted`;
    }
    if (k.secret) {
      const s = await get('secrets', k.namespace, k.secret.name);
      if (!s || s.metadata.uid !== k.secret.uid) return `secret ${k.namespace}/${k.secret.name} has been deleted`;
    }
    return undefined;
  }
}
