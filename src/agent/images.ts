/**
 * Images for a pod's containers, per imagePullPolicy as the kubelet's image manager: `Never`
 * uses what is present (ErrImageNeverPull otherwise), `IfNotPresent` pulls only when absent,
 * `Always` pulls every time (the registry answers quickly when nothing changed, as blobs
 * already present are not fetched again). Without a policy, `:latest` or no tag means Always.
 * Credentials come from the pod's imagePullSecrets (kubernetes.io/dockerconfigjson or
 * dockercfg), then from the data root's `skiff login` file. Pulls of one image are shared by
 * the pods that want it at the same time; failed pulls back off (ImagePullBackOff).
 */
import type { KObject } from '../client/client.js';
import type { ImageStore, ImageRecord, ResolvedImage } from '../engine/image/store.js';
import { pull } from '../engine/image/registry/pull.js';
import { loadCredentials, type Credentials } from '../engine/image/registry/auth.js';
import { parseReference, formatReference, repositoryName, registryHost } from '../engine/image/reference.js';
import type { EnvSources } from './env.js';
import { Backoff } from './backoff.js';

/** Why a container cannot get its image: the waiting reason and message. */
export class ImageError extends Error {
  constructor(readonly reason: 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName', message: string, readonly retryMs?: number) {
    super(message);
  }
}

/** An image ready for a container. */
export interface PulledImage {
  record: ImageRecord;
  resolved: ResolvedImage;
  /** What status.imageID shows: repository@manifest-digest. */
  imageID: string;
  /** The canonical name (status.image). */
  name: string;
}

/** The effective pull policy of a container. */
export function pullPolicy(c: { image?: string; imagePullPolicy?: string }): 'Always' | 'IfNotPresent' | 'Never' {
  if (c.imagePullPolicy === 'Always' || c.imagePullPolicy === 'IfNotPresent' || c.imagePullPolicy === 'Never') return c.imagePullPolicy;
  const img = c.image ?? '';
  if (img.includes('@')) return 'IfNotPresent';
  const last = img.split('/').pop() ?? '';
  return !last.includes(':') || img.endsWith(':latest') ? 'Always' : 'IfNotPresent';
}

/** Credentials for `host` from docker config JSON (`{auths: {host: {auth | username/password}}}`). */
export function credentialsFromDockerConfig(json: any, host: string): Credentials | undefined {
  const auths = json?.auths ?? json ?? {};
  for (const [key, v] of Object.entries<any>(auths)) {
    const h = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (h !== host && !(host === 'registry-1.docker.io' && /(^|\.)docker\.io$/.test(h))) continue;
    if (v?.username) return { username: v.username, password: v.password ?? '' };
    if (v?.auth) {
      const d = Buffer.from(v.auth, 'base64').toString('utf8');
      const i = d.indexOf(':');
      if (i > 0) return { username: d.slice(0, i), password: d.slice(i + 1) };
    }
  }
  return undefined;
}

/** Events the puller reports (the kubelet's reasons). */
export type PullEvents = (type: 'Normal' | 'Warning', reason: string, message: string) => void;

/** Ensures images per policy. */
export class ImagePuller {
  private inflight = new Map<string, Promise<ImageRecord>>();
  readonly backoff = new Backoff();

  constructor(private readonly store: ImageStore, private readonly root: string, private readonly now: () => number = Date.now) {}

  private async present(name: string): Promise<ImageRecord | undefined> {
    return this.store.get(name).catch(() => undefined);
  }

  private async describe(rec: ImageRecord, name: string): Promise<PulledImage> {
    const resolved = await this.store.resolve(rec);
    let repo = name;
    try { repo = repositoryName(parseReference(name)); } catch { /* an image ID */ }
    return { record: rec, resolved, name: rec.name || name, imageID: rec.name ? `${repo}@${resolved.manifestDigest}` : resolved.id };
  }

  /** The image of container `c` of `pod`, pulled if its policy says so. */
  async ensure(pod: KObject, c: any, secrets: EnvSources, events: PullEvents): Promise<PulledImage> {
    const image: string = c.image ?? '';
    let canonical: string;
    try {
      canonical = formatReference(parseReference(image));
    } catch (err) {
      events('Warning', 'InspectFailed', `Failed to apply default image tag "${image}": ${(err as Error).message}`);
      throw new ImageError('InvalidImageName', `Failed to apply default image tag "${image}": ${(err as Error).message}`);
    }
    const policy = pullPolicy(c);
    const have = await this.present(canonical);
    if (policy === 'Never' || (policy === 'IfNotPresent' && have)) {
      if (have) {
        events('Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return this.describe(have, canonical);
      }
      const msg = `Container image "${image}" is not present with pull policy of Never`;
      events('Warning', 'ErrImageNeverPull', msg);
      throw new ImageError('ErrImageNeverPull', msg);
    }
    const key = `${pod.metadata.uid}/${canonical}`;
    const b = this.backoff.check(key, this.now());
    if (!b.ok) {
      events('Normal', 'BackOff', `Back-off pulling image "${image}"`);
      throw new ImageError('ImagePullBackOff', `Back-off pulling image "${image}"`, b.waitMs);
    }
    events('Normal', 'Pulling', `Pulling image "${image}"`);
    const start = this.now();
    try {
      const credentials = await this.credentialsFor(pod, canonical, secrets);
      // Shared only between pods pulling with the same identity: a pod without the secret
      // must not get the image through another pod's credentials.
      const flight = `${canonical}|${credentials?.username ?? ''}|${credentials?.password ?? ''}`;
      let p = this.inflight.get(flight);
      if (!p) {
        p = pull(this.store, canonical, { credentials, userAgent: 'skiff-agent/0.1' }).finally(() => this.inflight.delete(flight));
        this.inflight.set(flight, p);
      }
      const rec = await p;
      this.backoff.reset(key);
      const out = await this.describe(rec, canonical);
      const secs = ((this.now() - start) / 1000).toFixed(3);
      events('Normal', 'Pulled', `Successfully pulled image "${image}" in ${secs}s (${secs}s including waiting). Image size: ${this.store.imageSize(out.resolved)} bytes.`);
      return out;
    } catch (err) {
      const wait = this.backoff.next(key, this.now());
      const msg = `Failed to pull image "${image}": ${(err as Error).message}`;
      events('Warning', 'Failed', msg);
      events('Warning', 'Failed', 'Error: ErrImagePull');
      throw new ImageError('ErrImagePull', msg, wait);
    }
  }

  /** Credentials for pulling `canonical`: the pod's imagePullSecrets first, then `skiff login`'s. */
  private async credentialsFor(pod: KObject, canonical: string, secrets: EnvSources): Promise<Credentials | undefined> {
    const ref = parseReference(canonical);
    const host = registryHost(ref.domain);
    let credentials: Credentials | undefined;
    for (const s of pod.spec?.imagePullSecrets ?? []) {
      const secret = await secrets.secret(pod.metadata.namespace ?? 'default', s.name).catch(() => undefined);
      const raw = secret?.data?.['.dockerconfigjson'] ?? secret?.data?.['.dockercfg'];
      if (!raw) continue;
      try {
        credentials = credentialsFromDockerConfig(JSON.parse(Buffer.from(raw, 'base64').toString('utf8')), host)
          ?? credentialsFromDockerConfig(JSON.parse(Buffer.from(raw, 'base64').toString('utf8')), ref.domain);
      } catch { /* a malformed secret gives no credentials, as the kubelet */ }
      if (credentials) break;
    }
    return credentials ?? (await loadCredentials(this.root, host)) ?? (await loadCredentials(this.root, ref.domain));
  }
}
