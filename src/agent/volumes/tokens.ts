/**
 * Service account tokens for projected volumes, as the kubelet's token manager gets them: a
 * TokenRequest (`POST .../serviceaccounts/NAME/token`) bound to the pod, cached per pod,
 * service account, audience and lifetime, and requested again once 80 % of its lifetime has
 * passed or it is older than 24 hours. Failures read as the kubelet's: `failed to fetch
 * token: <the API's message>`.
 */
import type { ApiClient, KObject } from '../../client/client.js';
import { resourcePath } from '../../client/client.js';
import { R } from '../../client/resources.js';

interface Cached { token: string; issuedAt: number; expiresAt: number }

/** The kubelet's ceiling on a token's age before it is refreshed. */
const MAX_AGE_MS = 24 * 3600 * 1000;

/** Requests and caches bound service account tokens. */
export class ServiceAccountTokens {
  private cache = new Map<string, Cached>();

  constructor(private readonly client: ApiClient, private readonly now: () => number = Date.now) {}

  /** Whether a cached token must be replaced (80 % of its lifetime or 24 h passed). */
  static needsRefresh(c: Cached, now: number): boolean {
    if (now >= c.expiresAt) return true;
    if (now - c.issuedAt > MAX_AGE_MS) return true;
    return now >= c.issuedAt + 0.8 * (c.expiresAt - c.issuedAt);
  }

  /** A token for `pod`'s service account, bound to the pod. */
  async token(pod: KObject, audience: string | undefined, expirationSeconds: number): Promise<string> {
    const sa = pod.spec?.serviceAccountName || 'default';
    const ns = pod.metadata.namespace!;
    const key = `${pod.metadata.uid}|${ns}/${sa}|${audience ?? ''}|${expirationSeconds}`;
    const now = this.now();
    const have = this.cache.get(key);
    if (have && !ServiceAccountTokens.needsRefresh(have, now)) return have.token;
    let tr: any;
    try {
      tr = await this.client.request('POST', resourcePath(R.serviceaccounts, ns, sa, 'token'), {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
        spec: {
          ...(audience ? { audiences: [audience] } : {}), expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
        },
      });
    } catch (err) {
      // A token still valid is better than none while the API server is away.
      if (have && now < have.expiresAt) return have.token;
      throw new Error(`failed to fetch token: ${(err as Error).message}`);
    }
    const expiresAt = Date.parse(tr?.status?.expirationTimestamp ?? '') || now + expirationSeconds * 1000;
    this.cache.set(key, { token: tr.status.token, issuedAt: now, expiresAt });
    return tr.status.token;
  }

  /** Forgets a pod's tokens (its volumes were torn down). */
  forget(podUid: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(`${podUid}|`)) this.cache.delete(k);
  }
}
