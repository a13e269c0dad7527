/**
 * Setting up one volume of a pod, per volume source, as the kubelet's volume plugins do:
 *
 *   emptyDir               <pods>/<uid>/volumes/kubernetes.io~empty-dir/<name>, 0777; medium
 *                          Memory is a tmpfs sized min(sizeLimit, the pod's memory limit,
 *                          the node's allocatable memory)
 *   hostPath               the host's path, after its `type` check
 *   configMap, downwardAPI kubernetes.io~configmap / ~downward-api, on disk, AtomicWriter
 *   secret, projected      <root>/run/volumes/<uid>/kubernetes.io~secret|~projected/<name>, on
 *                          the node's tmpfs for projections (never on disk; see below)
 *   persistentVolumeClaim  the bound PersistentVolume's hostPath or local path
 *
 * ConfigMap, secret, downwardAPI and projected volumes are always mounted read-only and are
 * re-projected on every sync (`updatable`); the others are set up once. The kubelet mounts a
 * tmpfs per secret or projected volume; these volumes are read-only to containers and written
 * by the agent alone, so one tmpfs for the whole node keeps them off the disk just as well and
 * spares a mount(8) per pod (every pod has the service account's projected volume).
 */
import fs from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { KObject } from '../../client/client.js';
import { parseQuantity } from '../../core/quantity.js';
import { AtomicWriter, type Payload } from './atomic-writer.js';
import { checkHostPath } from './hostpath.js';
import { mountTmpfs } from './mounts.js';
import { setVolumeOwnership } from './ownership.js';
import { DEFAULT_MODE, configMapPayload, downwardPayload, projectedPayload, secretPayload, type ProjectionContext, type ProjectionSources } from './payload.js';

/** A volume ready to be bind-mounted. */
export interface ReadyVolume {
  /** The host path containers bind. */
  path: string;
  /** Mounted read-only whatever the volumeMount says. */
  readOnly: boolean;
  /** Re-projected on each sync (configMap, secret, downwardAPI, projected). */
  updatable: boolean;
}

/** Reads PersistentVolumeClaims and PersistentVolumes (the agent's API client). */
export interface ClaimSource {
  claim(namespace: string, name: string): Promise<KObject>;
  volume(name: string): Promise<KObject>;
}

/** What a plugin works with. */
export interface PluginContext {
  /** The pod's volumes directory: <root>/pods/<uid>/volumes. */
  dir: string;
  /** The pod's directory on the node's tmpfs for projections (secret, projected volumes). */
  memoryDir: string;
  /** Makes sure that tmpfs is mounted. */
  memory: () => Promise<void>;
  sources: ProjectionSources;
  claims: ClaimSource;
  allocatable?: Record<string, string>;
}

/** A failure that the kubelet reports before SetUp (PVC lookups), not as "MountVolume.SetUp failed". */
export class ClaimError extends Error {}

/** The on-disk plugin directory names, as the kubelet escapes `kubernetes.io/<plugin>`. */
export const PLUGIN_DIRS: Record<string, string> = {
  emptyDir: 'kubernetes.io~empty-dir', configMap: 'kubernetes.io~configmap', secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api', projected: 'kubernetes.io~projected',
};

/** The pod-level fsGroup and, when every container runs as the same user, that user (fsUser). */
export function podOwnership(pod: KObject): { fsGroup?: number; fsUser?: number; policy?: string } {
  const psc = pod.spec?.securityContext ?? {};
  const users = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c: any) => c.securityContext?.runAsUser ?? psc.runAsUser);
  const fsUser = users.length && users.every((u) => u !== undefined && u === users[0]) ? users[0] : undefined;
  return { fsGroup: psc.fsGroup, fsUser, policy: psc.fsGroupChangePolicy };
}

/** The size of a memory-backed emptyDir (bytes), as the kubelet's calculateEmptyDirMemorySize. */
export function memoryVolumeSize(pod: KObject, sizeLimit: string | undefined, allocatable?: Record<string, string>): number | undefined {
  const podLimit = (pod.spec?.containers ?? []).reduce((sum: number, c: any) => sum + (c.resources?.limits?.memory !== undefined ? parseQuantity(c.resources.limits.memory) : 0), 0);
  const candidates = [allocatable?.memory !== undefined ? parseQuantity(allocatable.memory) : 0, podLimit, sizeLimit !== undefined ? parseQuantity(sizeLimit) : 0].filter((x) => x > 0);
  return candidates.length ? Math.min(...candidates) : undefined;
}

/** The directory of a managed volume (created with the kubelet's 0777 for emptyDir wrappers). */
async function volumeDir(ctx: PluginContext, kind: string, name: string, memory: boolean, sizeBytes?: number): Promise<string> {
  const projection = kind === 'secret' || kind === 'projected';
  const dir = path.join(projection ? ctx.memoryDir : ctx.dir, PLUGIN_DIRS[kind], name);
  if (projection) {
    await ctx.memory();
    mkdirSync(dir, { recursive: true, mode: 0o755 }); // on a tmpfs: cheaper than a trip through the threadpool

  } else if (memory) await mountTmpfs(dir, sizeBytes);
  else {
    await fs.mkdir(dir, { recursive: true });
    const st = await fs.stat(dir);
    if ((st.mode & 0o777) !== 0o777) await fs.chmod(dir, (st.mode & 0o7000) | 0o777);
  }
  return dir;
}

/** Projects `payload` into `dir` (with the fsGroup applied before it shows). */
async function project(dir: string, payload: Payload, pod: KObject): Promise<void> {
  const own = podOwnership(pod);
  await new AtomicWriter(dir).write(payload, own.fsGroup === undefined ? undefined : (ts) => setVolumeOwnership(ts, own.fsGroup, true));
}

/** The kind of a volume source (the first known field), or undefined. */
export function volumeKind(v: any): string | undefined {
  return ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim'].find((k) => v?.[k]);
}

/** The projection of an updatable volume into its directory. */
export async function reproject(pod: KObject, v: any, dir: string, ctx: PluginContext): Promise<void> {
  const own = podOwnership(pod);
  const pctx: ProjectionContext = { allocatable: ctx.allocatable, fsGroup: own.fsGroup, fsUser: own.fsUser };
  let payload: Payload;
  if (v.configMap) payload = await configMapPayload(pod, v.configMap, v.configMap.defaultMode ?? DEFAULT_MODE, ctx.sources);
  else if (v.secret) payload = await secretPayload(pod, v.secret.secretName, v.secret, v.secret.defaultMode ?? DEFAULT_MODE, ctx.sources);
  else if (v.downwardAPI) payload = downwardPayload(pod, v.downwardAPI.items, v.downwardAPI.defaultMode ?? DEFAULT_MODE, pctx);
  else payload = await projectedPayload(pod, v.projected, ctx.sources, pctx);
  await project(dir, payload, pod);
}

/** The PersistentVolume behind a claim volume, and its host path. */
async function claimPath(pod: KObject, v: any, ctx: PluginContext): Promise<string> {
  const ns = pod.metadata.namespace!;
  const name = v.persistentVolumeClaim.claimName;
  const fail = (why: string) => new ClaimError(`error processing PVC ${ns}/${name}: ${why}`);
  let pvc: KObject;
  try {
    pvc = await ctx.claims.claim(ns, name);
  } catch (err) {
    throw fail(`failed to fetch PVC from API server: ${(err as Error).message}`);
  }
  if (pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName) throw fail('PVC is not bound');
  let pv: KObject;
  try {
    pv = await ctx.claims.volume(pvc.spec.volumeName);
  } catch (err) {
    throw fail(`failed to fetch PV ${pvc.spec.volumeName} from API server: ${(err as Error).message}`);
  }
  if (pv.spec?.claimRef?.uid && pv.spec.claimRef.uid !== pvc.metadata.uid) throw fail(`PV ${pv.metadata.name} is bound to another claim`);
  if (pv.spec?.hostPath) {
    await checkHostPath(pv.spec.hostPath.path, pv.spec.hostPath.type);
    return pv.spec.hostPath.path;
  }
  if (pv.spec?.local) {
    await checkHostPath(pv.spec.local.path, undefined);
    if (!(await fs.stat(pv.spec.local.path).catch(() => undefined))) throw new Error(`path "${pv.spec.local.path}" does not exist`);
    return pv.spec.local.path;
  }
  throw new Error('no volume plugin matched');
}

/** Sets up volume `v` of `pod` for the first time. */
export async function setUpVolume(pod: KObject, v: any, ctx: PluginContext): Promise<ReadyVolume> {
  const kind = volumeKind(v);
  switch (kind) {
    case 'emptyDir': {
      const medium = v.emptyDir.medium ?? '';
      if (medium !== '' && medium !== 'Memory') throw new Error(`medium ${medium} is not supported`);
      const dir = await volumeDir(ctx, kind, v.name, medium === 'Memory', medium === 'Memory' ? memoryVolumeSize(pod, v.emptyDir.sizeLimit, ctx.allocatable) : undefined);
      const own = podOwnership(pod);
      await setVolumeOwnership(dir, own.fsGroup, false, own.policy);
      return { path: dir, readOnly: false, updatable: false };
    }
    case 'hostPath':
      await checkHostPath(v.hostPath.path, v.hostPath.type);
      return { path: v.hostPath.path, readOnly: false, updatable: false };
    case 'configMap': case 'secret': case 'downwardAPI': case 'projected': {
      const dir = await volumeDir(ctx, kind, v.name, kind === 'secret' || kind === 'projected');
      const own = podOwnership(pod);
      if (own.fsGroup !== undefined) await setVolumeOwnership(dir, own.fsGroup, true, 'OnRootMismatch');
      await reproject(pod, v, dir, ctx);
      return { path: dir, readOnly: true, updatable: true };
    }
    case 'persistentVolumeClaim':
      return { path: await claimPath(pod, v, ctx), readOnly: !!v.persistentVolumeClaim.readOnly, updatable: false };
    default:
      throw new Error('no volume plugin matched');
  }
}
