/**
 * The node agent's volume manager (the kubelet's, in small): before a pod's sandbox and
 * containers are made, every volume a container mounts is set up (plugins.ts) under
 * <root>/pods/<uid>/volumes; containers then get bind mounts (with subPath / subPathExpr and
 * readOnly) through the engine. A volume that cannot be set up is a FailedMount event with
 * the kubelet's message (`MountVolume.SetUp failed for volume "x" : configmap "y" not
 * found`) and the pod stays ContainerCreating while the worker retries with the kubelet's
 * back-off (0.5 s doubling to about 2 min).
 *
 * Secret and projected volumes live on one tmpfs for the node (<root>/run/volumes/<uid>/...;
 * plugins.ts says why). ConfigMap, secret, downwardAPI and projected volumes are projected
 * again on the worker's syncs and every `syncMs` (1 min, the kubelet's sync period), so
 * updates of their sources (and service account token rotation) reach the mounted files. A
 * pod's volumes are torn down (tmpfs unmounted, directories removed) when the pod goes or
 * finishes; what a crash leaves behind is found by `removeOrphans` at start.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { KObject } from '../../client/client.js';
import type { Clock, TimerHandle } from '../../controllers/runtime/clock.js';
import type { BindMount } from '../../engine/container/spec.js';
import { ConfigError } from '../env.js';
import { mountTmpfs, removeDirSafely } from './mounts.js';
import { ClaimError, reproject, setUpVolume, volumeKind, type ClaimSource, type ReadyVolume } from './plugins.js';
import type { ProjectionSources } from './payload.js';
import { resolveSubPath, subPathOf } from './subpath.js';

/** What the volume manager needs. */
export interface VolumeManagerOptions {
  /** The agent's data root: pod volumes live under <root>/pods. */
  root: string;
  sources: ProjectionSources;
  claims: ClaimSource;
  allocatable: () => Record<string, string> | undefined;
  /** Records an event about a pod (FailedMount of a background re-projection). */
  event: (pod: KObject, type: 'Normal' | 'Warning', reason: string, message: string) => void;
  clock: Clock;
  log: (msg: string) => void;
  /** How often updatable volumes are projected again (default 60 s). */
  syncMs?: number;
  /** Called when a pod's tokens can be forgotten. */
  forget?: (uid: string) => void;
}

/** The outcome of setting up a pod's volumes. */
export interface SetUpResult {
  /** FailedMount messages, one per failing volume. */
  errors: string[];
  /** When to try again (ms), with errors. */
  retryMs?: number;
}

interface Mounted extends ReadyVolume { synced: number; spec: string }

interface PodState {
  pod: KObject;
  volumes: Map<string, Mounted>;
  failures: number;
  meta: string;
  lock: Promise<unknown>;
  /** Torn down: a refresh queued behind the teardown must not set anything up again. */
  gone?: boolean;
}

/** The tmpfs of the node's projections: <root>/run/volumes. */
export function memoryRoot(root: string): string {
  return path.join(root, 'run', 'volumes');
}

/** The kubelet's volume operation back-off: 500 ms doubling up to 2 min 2 s. */
export function mountBackoffMs(failures: number): number {
  return Math.min(122_000, 500 * 2 ** Math.max(0, failures - 1));
}

/** Names of the volumes some container (init, app or ephemeral) mounts: the kubelet sets up only those. */
export function usedVolumes(pod: KObject): Set<string> {
  const cs = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  return new Set(cs.flatMap((c: any) => (c.volumeMounts ?? []).map((m: any) => m.name)));
}

/** Sets up, refreshes and tears down the volumes of the agent's pods. */
export class VolumeManager {
  private pods = new Map<string, PodState>();
  private timer?: TimerHandle;
  private stopped = false;
  /** Mounts and unmounts of the projections' tmpfs, one after the other. */
  private memoryOps: Promise<unknown> = Promise.resolve();
  private memoryMounted = false;

  constructor(private readonly o: VolumeManagerOptions) {}

  /** Where a pod's directories live. */
  podDir(uid: string): string {
    return path.join(this.o.root, 'pods', uid);
  }

  /** The node's tmpfs for projections (secret and projected volumes of every pod). */
  private get memoryRoot(): string {
    return memoryRoot(this.o.root);
  }

  private memoryOp(fn: () => Promise<void>): Promise<void> {
    const run = this.memoryOps.then(fn);
    this.memoryOps = run.catch(() => {});
    return run;
  }

  /** Mounts the projections' tmpfs when it is not (a mount left by an earlier run is reused). */
  private memory(): Promise<void> {
    if (this.memoryMounted) return Promise.resolve();
    return this.memoryOp(async () => {
      if (this.memoryMounted) return;
      await mountTmpfs(this.memoryRoot);
      this.memoryMounted = true;
    });
  }

  /**
   * Unmounts the projections' tmpfs once no pod has volumes (nothing stays mounted for pods that
   * are gone). A pod's state exists before it asks for the tmpfs, and both go through
   * `memoryOp`, so a pod being set up meanwhile keeps it mounted or mounts it again after.
   */
  private releaseMemory(): Promise<void> {
    return this.memoryOp(async () => {
      if (this.pods.size) return;
      const left = await fs.readdir(this.memoryRoot).catch(() => [] as string[]);
      if (left.length) return;
      await removeDirSafely(this.memoryRoot);
      this.memoryMounted = false;
    });
  }

  private state(pod: KObject): PodState {
    const uid = pod.metadata.uid!;
    let s = this.pods.get(uid);
    if (!s) {
      s = { pod, volumes: new Map(), failures: 0, meta: '', lock: Promise.resolve() };
      this.pods.set(uid, s);
    }
    s.pod = pod;
    return s;
  }

  /** Runs `fn` alone for one pod (a worker's sync and the periodic refresh never overlap). */
  private locked<T>(s: PodState, fn: () => Promise<T>): Promise<T> {
    const run = s.lock.then(fn, fn);
    s.lock = run.catch(() => {});
    return run;
  }

  /** Sets up the pod's volumes (or refreshes updatable ones when due); never throws. */
  async setUp(pod: KObject): Promise<SetUpResult> {
    const s = this.state(pod);
    return this.locked(s, () => this.sync(s, false));
  }

  private async sync(s: PodState, force: boolean): Promise<SetUpResult> {
    if (s.gone) return { errors: [] };
    const pod = s.pod;
    const now = this.o.clock.now();
    const syncMs = this.o.syncMs ?? 60_000;
    // The downward API reads labels and annotations: a change of them is due at once.
    const meta = JSON.stringify([pod.metadata.labels, pod.metadata.annotations]);
    const metaChanged = meta !== s.meta;
    s.meta = meta;
    const ctx = {
      dir: path.join(this.podDir(pod.metadata.uid!), 'volumes'), memoryDir: path.join(this.memoryRoot, pod.metadata.uid!), memory: () => this.memory(),
      sources: this.o.sources, claims: this.o.claims, allocatable: this.o.allocatable(),
    };
    const used = usedVolumes(pod);
    const errors: string[] = [];
    for (const v of pod.spec?.volumes ?? []) {
      if (!used.has(v.name)) continue;
      const have = s.volumes.get(v.name);
      const spec = JSON.stringify(v);
      try {
        if (!have || have.spec !== spec) {
          const ready = await setUpVolume(pod, v, ctx);
          s.volumes.set(v.name, { ...ready, synced: now, spec });
        } else if (have.updatable && (force || metaChanged || now - have.synced >= syncMs)) {
          await reproject(pod, v, have.path, ctx);
          have.synced = now;
        }
      } catch (err) {
        const msg = (err as Error).message;
        if (err instanceof ClaimError) errors.push(`Unable to attach or mount volumes: unmounted volumes=[${v.name}], unattached volumes=[${[...used].sort().join(' ')}]: ${msg}`);
        else errors.push(`MountVolume.SetUp failed for volume "${v.name}" : ${msg}`);
        if (have) have.synced = now; // a failed refresh keeps the files it had; retried at the next period
        this.o.log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: volume ${v.name}: ${msg} (${volumeKind(v) ?? 'unknown'})`);
      }
    }
    if (!errors.length) {
      s.failures = 0;
      return { errors };
    }
    s.failures++;
    return { errors, retryMs: mountBackoffMs(s.failures) };
  }

  /**
   * The bind mounts of container `c` (`env` expands subPathExpr), parents before children.
   * A subPath that cannot be prepared is a ConfigError (CreateContainerConfigError), as the kubelet.
   */
  async mounts(pod: KObject, c: any, env: string[]): Promise<BindMount[]> {
    const s = this.pods.get(pod.metadata.uid!);
    const out: BindMount[] = [];
    for (const m of c.volumeMounts ?? []) {
      const vol = s?.volumes.get(m.name);
      if (!vol) throw new ConfigError(`cannot find volume "${m.name}" to mount into container "${c.name}"`);
      let source = vol.path;
      const sub = subPathOf(m, env);
      if (sub) {
        try {
          source = await resolveSubPath(vol.path, sub);
        } catch (err) {
          this.o.log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: subPath ${sub}: ${(err as Error).message}`);
          throw new ConfigError(`failed to prepare subPath for volumeMount "${m.name}" of container "${c.name}"`);
        }
      }
      out.push({ source, destination: m.mountPath, readonly: !!m.readOnly || vol.readOnly });
    }
    return out.sort((a, b) => a.destination.split('/').filter(Boolean).length - b.destination.split('/').filter(Boolean).length);
  }

  /** Unmounts and removes everything of a pod's volumes (idempotent). */
  async tearDown(uid: string): Promise<void> {
    const s = this.pods.get(uid);
    const run = async () => {
      if (s) s.gone = true;
      await removeDirSafely(this.podDir(uid));
      await removeDirSafely(path.join(this.memoryRoot, uid));
      this.pods.delete(uid);
      this.o.forget?.(uid);
    };
    await (s ? this.locked(s, run) : run());
    await this.releaseMemory();
  }

  /** Removes the directories of pods not in `keep` (left by a crash or a pod deleted while away). */
  async removeOrphans(keep: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    const names = new Set([
      ...await fs.readdir(path.join(this.o.root, 'pods')).catch(() => [] as string[]),
      ...await fs.readdir(this.memoryRoot).catch(() => [] as string[]),
    ]);
    for (const uid of names) {
      if (keep.has(uid) || this.pods.has(uid)) continue;
      try {
        await removeDirSafely(this.podDir(uid));
        await removeDirSafely(path.join(this.memoryRoot, uid));
        removed.push(uid);
      } catch (err) {
        this.o.log(`volumes of pod ${uid}: ${(err as Error).message}`);
      }
    }
    await this.releaseMemory().catch((err) => this.o.log(`projected volumes: ${(err as Error).message}`));
    return removed;
  }

  /** Starts the periodic refresh of updatable volumes. */
  start(): void {
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.after(this.o.syncMs ?? 60_000, () => { void this.refreshAll().finally(() => this.schedule()); });
  }

  /** Projects every pod's updatable volumes again now (the periodic sync); failures become events. */
  async refreshAll(): Promise<void> {
    for (const s of [...this.pods.values()]) {
      const res = await this.locked(s, () => this.sync(s, true)).catch((err) => ({ errors: [(err as Error).message] }));
      for (const e of res.errors) this.o.event(s.pod, 'Warning', 'FailedMount', e);
    }
  }

  /** Stops the periodic refresh (mounts stay: running containers use them). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }
}
