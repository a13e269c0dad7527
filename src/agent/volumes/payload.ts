/**
 * What configMap, secret, downwardAPI and projected volumes hold, as the kubelet's
 * MakePayload/CollectData compute it: every key (or only the listed `items`, each with its
 * `path` and `mode`), `defaultMode` (0644) otherwise, `optional` sources that may be absent,
 * the downward API's metadata fields (labels and annotations as sorted `key="value"` lines)
 * and resource fields, and service account tokens. Errors carry the kubelet's words; they
 * become FailedMount events.
 */
import type { KObject } from '../../client/client.js';
import { fieldValue, resourceValue } from '../env.js';
import type { FileProjection, Payload } from './atomic-writer.js';

/** The API's default for defaultMode and items' mode (0644). */
export const DEFAULT_MODE = 0o644;

/** A source of the objects and tokens projections read. */
export interface ProjectionSources {
  configMap(namespace: string, name: string): Promise<KObject | undefined>;
  secret(namespace: string, name: string): Promise<KObject | undefined>;
  /** A token for the pod's service account (TokenRequest bound to the pod). */
  token(pod: KObject, audience: string | undefined, expirationSeconds: number): Promise<string>;
}

/** What a projection needs beyond the pod: the node's allocatable (resourceFieldRef of an unset limit). */
export interface ProjectionContext {
  allocatable?: Record<string, string>;
  /** fsGroup / fsUser: a service account token is then 0600 and owned by them (as the kubelet). */
  fsGroup?: number;
  fsUser?: number;
}

interface KeyToPath { key: string; path: string; mode?: number }

/** Keys of an object as files: all of them, or only `items` (a missing key is an error unless optional). */
function keyPayload(values: Map<string, Buffer>, items: KeyToPath[] | undefined, defaultMode: number, optional: boolean, missing: (k: string) => string): Payload {
  const out: Payload = new Map();
  if (!items?.length) {
    for (const [k, data] of values) out.set(k, { data, mode: defaultMode });
    return out;
  }
  for (const it of items) {
    const data = values.get(it.key);
    if (!data) {
      if (optional) continue;
      throw new Error(missing(it.key));
    }
    out.set(it.path, { data, mode: it.mode ?? defaultMode });
  }
  return out;
}

/** A ConfigMap's data and binaryData as bytes. */
function configMapValues(cm: KObject | undefined): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(cm?.data ?? {})) m.set(k, Buffer.from(String(v), 'utf8'));
  for (const [k, v] of Object.entries(cm?.binaryData ?? {})) m.set(k, Buffer.from(String(v), 'base64'));
  return m;
}

/** A Secret's data as bytes. */
function secretValues(s: KObject | undefined): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(s?.data ?? {})) m.set(k, Buffer.from(String(v), 'base64'));
  return m;
}

/** A configMap volume (or projection): `configmap "x" not found` unless optional. */
export async function configMapPayload(pod: KObject, src: any, defaultMode: number, sources: ProjectionSources): Promise<Payload> {
  const optional = !!src.optional;
  const cm = await sources.configMap(pod.metadata.namespace!, src.name);
  if (!cm && !optional) throw new Error(`configmap "${src.name}" not found`);
  return keyPayload(configMapValues(cm), src.items, defaultMode, optional, (k) => `configmap references non-existent config key: ${k}`);
}

/** A secret volume (or projection): `secret "x" not found` unless optional. */
export async function secretPayload(pod: KObject, name: string, src: any, defaultMode: number, sources: ProjectionSources): Promise<Payload> {
  const optional = !!src.optional;
  const s = await sources.secret(pod.metadata.namespace!, name);
  if (!s && !optional) throw new Error(`secret "${name}" not found`);
  return keyPayload(secretValues(s), src.items, defaultMode, optional, (k) => `references non-existent secret key: ${k}`);
}

/** Labels or annotations as the downward API writes them: sorted `key="value"` lines. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {}).sort().map((k) => `${k}=${JSON.stringify(m![k])}`).join('\n');
}

/** A metadata field of the pod as a downwardAPI volume file holds it (whole maps as sorted lines). */
export function metadataField(pod: KObject, fieldPath: string): string {
  if (fieldPath === 'metadata.labels') return formatMap(pod.metadata.labels);
  if (fieldPath === 'metadata.annotations') return formatMap(pod.metadata.annotations);
  // Volumes take metadata only (the API refuses the rest); one key or name, uid, namespace as env has them.
  if (!fieldPath.startsWith('metadata.')) throw new Error(`unsupported fieldPath: ${fieldPath}`);
  return fieldValue(pod, fieldPath, {});
}

/** A downwardAPI volume (or projection). */
export function downwardPayload(pod: KObject, items: any[] | undefined, defaultMode: number, ctx: ProjectionContext): Payload {
  const out: Payload = new Map();
  const errs: string[] = [];
  for (const it of items ?? []) {
    const f: FileProjection = { data: Buffer.alloc(0), mode: it.mode ?? defaultMode };
    try {
      if (it.fieldRef) f.data = Buffer.from(metadataField(pod, it.fieldRef.fieldPath));
      else if (it.resourceFieldRef) {
        const r = it.resourceFieldRef;
        const c = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((x: any) => x.name === r.containerName);
        if (!c) throw new Error(`container ${r.containerName} not found`);
        f.data = Buffer.from(resourceValue(c, r, { allocatable: ctx.allocatable }));
      }
    } catch (err) {
      errs.push((err as Error).message);
      continue;
    }
    out.set(it.path, f);
  }
  if (errs.length) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);
  return out;
}

/**
 * A projected volume: its sources merged in order (a later path wins); every failing source
 * is reported, as the kubelet aggregates them (`[a, b]`).
 */
export async function projectedPayload(pod: KObject, src: any, sources: ProjectionSources, ctx: ProjectionContext): Promise<Payload> {
  const defaultMode = src.defaultMode ?? DEFAULT_MODE;
  const out: Payload = new Map();
  const errs: string[] = [];
  for (const s of src.sources ?? []) {
    try {
      let part: Payload = new Map();
      if (s.secret) part = await secretPayload(pod, s.secret.name, s.secret, defaultMode, sources);
      else if (s.configMap) part = await configMapPayload(pod, s.configMap, defaultMode, sources);
      else if (s.downwardAPI) part = downwardPayload(pod, s.downwardAPI.items, defaultMode, ctx);
      else if (s.serviceAccountToken) {
        const t = s.serviceAccountToken;
        const token = await sources.token(pod, t.audience || undefined, t.expirationSeconds ?? 3600);
        // Readable by the pod's user only when the kubelet knows who that is (fsGroup / fsUser).
        const owned = ctx.fsGroup !== undefined || ctx.fsUser !== undefined;
        part.set(t.path, { data: Buffer.from(token), mode: owned ? 0o600 : defaultMode, ...(owned ? { uid: ctx.fsUser, gid: ctx.fsGroup } : {}) });
      }
      for (const [k, v] of part) out.set(k, v);
    } catch (err) {
      errs.push((err as Error).message);
    }
  }
  if (errs.length) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);
  return out;
}
