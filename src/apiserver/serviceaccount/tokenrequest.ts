/**
 * The TokenRequest API (`POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`), as
 * kube-apiserver serves it: a token for the service account, for the requested audiences
 * (default: the API server's), lasting `expirationSeconds` (default 3600, at least 600),
 * optionally bound to a Pod, Secret or Node that must exist with the given uid. The node
 * agent asks for 3607 s for its projected volumes: such pod-bound tokens are extended to a
 * year with a `warnafter` claim (`--service-account-extend-token-expiration`, on by default),
 * while the response still reports the requested lifetime, so the agent refreshes on time.
 * `kubectl create token NAME` uses it.
 */
import { randomUUID } from 'node:crypto';
import type { Storage } from '../storage.js';
import type { Catalog } from '../catalog.js';
import { ApiError, badRequest, invalid } from '../status.js';
import { ISSUER, type Claims, type KubernetesClaims, type SigningKey } from './jwt.js';

/** The lifetime the kubelet asks for, which the server extends (WarnOnlyBoundTokenExpirationSeconds). */
export const KUBELET_TOKEN_SECONDS = 3607;
/** What such a token really lasts: a year (ExpirationExtensionSeconds). */
const EXTENDED_SECONDS = 365 * 24 * 3600;

const BOUND_KINDS: Record<string, string> = { Pod: 'pods', Secret: 'secrets', Node: 'nodes' };

/** Issues a token for service account `ns/name`; returns the answered TokenRequest. */
export async function requestToken(storage: Storage, catalog: Catalog, key: SigningKey, ns: string, name: string, body: any, nowMs = Date.now()): Promise<any> {
  if (body?.kind && body.kind !== 'TokenRequest') throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (authentication.k8s.io/v1)`);
  const sa = (await storage.get(catalog.lookup('', 'v1', 'serviceaccounts')!, ns, name)).obj;
  const spec = { ...(body?.spec ?? {}) };
  spec.expirationSeconds ??= 3600;
  const exp = spec.expirationSeconds;
  const bad = (msg: string) => invalid('TokenRequest', 'authentication.k8s.io', name, [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `Invalid value: ${exp}: ${msg}` }]);
  if (!Number.isInteger(exp)) throw bad('must be an integer');
  if (exp < 600) throw bad('may not specify a duration less than 10 minutes');
  if (exp > 2 ** 32) throw bad('may not specify a duration larger than 2^32 seconds');
  if (!spec.audiences?.length) spec.audiences = [ISSUER];

  const now = Math.floor(nowMs / 1000);
  const k8s: KubernetesClaims = { namespace: ns, serviceaccount: { name, uid: sa.metadata.uid } };
  let lifetime = exp;
  const ref = spec.boundObjectRef;
  if (ref) {
    const resource = BOUND_KINDS[ref.kind];
    if (!resource) throw badRequest(`cannot bind token for object of kind "${ref.kind}": only Pod, Secret and Node are supported`);
    const r = catalog.lookup('', 'v1', resource)!;
    const obj = (await storage.get(r, r.namespaced ? ns : undefined, ref.name)).obj;
    if (ref.uid && ref.uid !== obj.metadata.uid) {
      throw new ApiError(409, 'Conflict', `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
    }
    const bound = { name: obj.metadata.name, uid: obj.metadata.uid };
    if (ref.kind === 'Pod') {
      if ((obj.spec?.serviceAccountName || 'default') !== name) throw badRequest(`cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`);
      k8s.pod = bound;
      const nodeName = obj.spec?.nodeName;
      if (nodeName) {
        const node = await storage.get(catalog.lookup('', 'v1', 'nodes')!, undefined, nodeName).catch(() => undefined);
        if (node) k8s.node = { name: nodeName, uid: node.obj.metadata.uid };
      }
      if (exp === KUBELET_TOKEN_SECONDS) {
        lifetime = EXTENDED_SECONDS;
        k8s.warnafter = now + exp;
      }
    } else if (ref.kind === 'Secret') k8s.secret = bound;
    else k8s.node = bound;
    spec.boundObjectRef = { kind: ref.kind, apiVersion: ref.apiVersion ?? 'v1', name: ref.name, uid: obj.metadata.uid };
  }
  const claims: Claims = {
    aud: spec.audiences, exp: now + lifetime, iat: now, iss: ISSUER, jti: randomUUID(), 'kubernetes.io': k8s, nbf: now,
    sub: `system:serviceaccount:${ns}:${name}`,
  };
  return {
    kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1',
    metadata: { name, namespace: ns, creationTimestamp: null },
    spec,
    status: { token: key.sign(claims), expirationTimestamp: new Date((now + exp) * 1000).toISOString().replace('.000Z', 'Z') },
  };
}
