/**
 * Service account tokens as kube-apiserver issues them: JWTs signed RS256 with the server's
 * service-account key (`<root>/server/sa.key`, RSA 2048, made on first start, 0600), the key
 * ID being the base64url SHA-256 of the public key's DER (Kubernetes' KeyIDFromPublicKey).
 * Claims of a bound token: iss, sub `system:serviceaccount:NS:NAME`, aud, exp, iat, nbf, jti
 * and `kubernetes.io` {namespace, serviceaccount {name, uid}, pod {name, uid}, node {name,
 * uid}, warnafter}.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { writeFileAtomic } from '../../lib/atomic.js';
import { withLock } from '../../lib/lock.js';

/** The issuer (and default audience) of this cluster's tokens, as kubeadm and k3s configure it. */
export const ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** A reference in the kubernetes.io claim. */
export interface Ref { name: string; uid: string }

/** The private claims of a Kubernetes service account token. */
export interface KubernetesClaims {
  namespace: string;
  serviceaccount: Ref;
  pod?: Ref;
  secret?: Ref;
  node?: Ref;
  warnafter?: number;
}

/** The claims of a token. */
export interface Claims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti?: string;
  'kubernetes.io': KubernetesClaims;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The service-account signing key of one data root. */
export class SigningKey {
  readonly kid: string;
  readonly publicKey: KeyObject;

  private constructor(private readonly key: KeyObject) {
    this.publicKey = createPublicKey(key);
    this.kid = b64url(createHash('sha256').update(this.publicKey.export({ type: 'spki', format: 'der' })).digest());
  }

  /** Loads `<root>/server/sa.key`, making it on first start. */
  static async load(root: string): Promise<SigningKey> {
    const dir = path.join(root, 'server');
    const file = path.join(dir, 'sa.key');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const pem = await withLock(path.join(dir, 'sa-key'), async () => {
      try {
        return await fs.readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const out = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
        await writeFileAtomic(file, out, 0o600);
        return out;
      }
    });
    return new SigningKey(createPrivateKey(pem));
  }

  /** A signed token with these claims. */
  sign(claims: Claims): string {
    const head = b64url(JSON.stringify({ alg: 'RS256', kid: this.kid }));
    const body = b64url(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), this.key);
    return `${head}.${body}.${b64url(sig)}`;
  }

  /** The claims of a token this key signed, or undefined when it did not (or it is no JWT). */
  verify(token: string): Claims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    try {
      const head = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      if (head.alg !== 'RS256') return undefined;
      if (!verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), this.publicKey, Buffer.from(parts[2], 'base64url'))) return undefined;
      return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
  }

  /** The public key as a JSON Web Key Set (what /openid/v1/jwks serves). */
  jwks(): { keys: object[] } {
    return { keys: [{ use: 'sig', kty: 'RSA', kid: this.kid, alg: 'RS256', ...this.publicKey.export({ format: 'jwk' }) }] };
  }
}
