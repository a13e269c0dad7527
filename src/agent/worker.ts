/**
 * One pod's worker, as the kubelet's pod workers: every change to the pod (watch) or to its
 * containers (relist) wakes it, and it runs one sync at a time. A sync does what can be done
 * now and returns: make the sandbox; run the init containers one after another, each to
 * completion; then start the app containers; restart exited ones per restartPolicy with
 * CrashLoopBackOff; write the status when it changed. A pod being deleted is stopped
 * gracefully (stop signal, terminationGracePeriodSeconds, SIGKILL), its containers and sandbox
 * removed, and the pod object deleted for good (grace 0, uid precondition). A finished pod
 * (Succeeded/Failed) keeps its exited containers, and its sandbox is stopped.
 */
import type { ApiClient, KObject } from '../client/client.js';
import { ApiStatusError } from '../client/client.js';
import { R } from '../client/resources.js';
import type { Clock, TimerHandle } from '../controllers/runtime/clock.js';
import type { EventRecorder, EventType } from '../controllers/runtime/events.js';
import type { DnsOptions } from '../engine/network/files.js';
import type { Backoff } from './backoff.js';
import { ConfigError, containerEnv, type EnvSources } from './env.js';
import { ImageError, type ImagePuller } from './images.js';
import { L, type ContainerKind, type PodContainer, containerName, podLabels } from './labels.js';
import { type PodRuntime, type PodRuntimeState, podHostname, sandboxNetwork } from './runtime.js';
import type { PodCgroups } from './cgroups.js';
import { containerOptions } from './spec.js';
import { engineExec } from './checks.js';
import { type HookDeps, type KillReason, killContainer, runHandler } from './hooks.js';
import type { ProbeManager } from './probes.js';
import { type Waiting, instancesOf, isSidecar, podStatus } from './status.js';
import type { VolumeManager } from './volumes/manager.js';

/** What every worker shares. */
export interface WorkerDeps {
  client: ApiClient;
  runtime: PodRuntime;
  images: ImagePuller;
  sources: EnvSources;
  recorder: EventRecorder;
  backoff: Backoff;
  clock: Clock;
  nodeName: string;
  hostIP: () => string;
  allocatable: () => Record<string, string> | undefined;
  dns?: (pod: KObject) => DnsOptions | undefined | Promise<DnsOptions | undefined>;
  /** Liveness, readiness and startup probes (probes.ts); without it containers are ready when running. */
  probes?: ProbeManager;
  /** Pod volumes (none: containers get no volume mounts). */
  volumes?: VolumeManager;
  /** Pod-level cgroups (none: containers go under the engine's default parent). */
  cgroups?: PodCgroups;
  log: (msg: string) => void;
}

/** The kubelet's floor for a kill's grace period (seconds). */
const MIN_GRACE = 2;

/** Go's rendering of a duration in whole seconds ("10s", "1m20s", "5m0s"), as back-off messages show it. */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

/** The worker of one pod (by uid). */
export class PodWorker {
  private pod?: KObject;
  private gone = false;
  private waiting = new Map<string, Waiting>();
  private dirty = false;
  private running?: Promise<void>;
  private timer?: { handle: TimerHandle; due: number };
  private stopped = false;
  private lastStatus = '';
  private lastIP?: string;
  /** The pod's cgroup, once made. */
  private cgroup?: string;
  /**
   * Instances the runtime could not start (runc create failed: no such executable, ...),
   * as containerd reports them: terminated, exit code 128, reason StartError. They count as
   * exits for restarts, back-off and the phase; kept in memory only.
   */
  private startFailures: PodContainer[] = [];
  /** True once the pod is gone and everything of it removed. */
  finished = false;
  /** Ends a postStart hook under way when the pod is deleted. */
  private readonly hookAbort = new AbortController();
  private hooksDeps?: HookDeps;
  /** Containers killed because their spec changed: restarted at once, whatever the restartPolicy. */
  private readonly changed = new Set<string>();
  /** Why the agent failed the pod itself (activeDeadlineSeconds), as status.reason/message. */
  private evicted?: { reason: string; message: string };

  constructor(readonly uid: string, private readonly d: WorkerDeps, private readonly gate: Promise<void>) {}

  /** A new version of the pod (undefined: deleted from the API). */
  update(pod: KObject | undefined): void {
    if (pod) this.pod = pod;
    else this.gone = true;
    if (!pod || pod.metadata.deletionTimestamp) this.hookAbort.abort();
    this.kick();
  }

  /** Asks for a sync (coalesced with one pending). */
  kick(): void {
    if (this.stopped || this.finished) return;
    this.dirty = true;
    if (!this.running) this.running = this.loop().finally(() => { this.running = undefined; });
  }

  /** Stops the worker: waits for a sync under way, cancels timers; containers stay as they are. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.handle.cancel();
    await this.running;
  }

  private async loop(): Promise<void> {
    await this.gate;
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      try {
        const again = await this.sync();
        if (again !== undefined) this.after(again);
      } catch (err) {
        this.d.log(`pod ${this.describe()}: ${(err as Error).message}`);
        this.after(2000);
      }
    }
  }

  private after(ms: number): void {
    const due = this.d.clock.now() + Math.max(0, ms);
    if (this.timer && this.timer.due <= due) return;
    this.timer?.handle.cancel();
    this.timer = { due, handle: this.d.clock.after(Math.max(0, ms), () => { this.timer = undefined; this.kick(); }) };
  }

  private describe(): string {
    return `${this.pod?.metadata.namespace}/${this.pod?.metadata.name} (${this.uid})`;
  }

  private get hooks(): HookDeps {
    return this.hooksDeps ??= {
      exec: engineExec(this.d.runtime.engine), stop: (id, grace) => this.d.runtime.stop(id, grace),
      event: (t, r, m) => this.event(t, r, m), clock: this.d.clock,
    };
  }

  /** The spec of a pod's container (app or init) by name. */
  private specOf(name: string): any {
    const spec = this.pod?.spec ?? {};
    return [...(spec.containers ?? []), ...(spec.initContainers ?? [])].find((c: any) => c?.name === name);
  }

  /** Kills running containers whose liveness or startup probe failed; true when any was. */
  private async killUnhealthy(pod: KObject, state: PodRuntimeState): Promise<boolean> {
    const probes = this.d.probes;
    if (!probes) return false;
    const sick: [PodContainer, any, KillReason][] = [];
    for (const c of state.containers) {
      const spec = this.specOf(c.name);
      const why = c.rec.status === 'running' && c.rec.id ? probes.failed(spec, `skiff://${c.rec.id}`) : undefined;
      if (why) sick.push([c, spec, why]);
    }
    await Promise.all(sick.map(([c, spec, why]) => {
      const restart = c.kind === 'sidecar' || (pod.spec?.restartPolicy ?? 'Always') !== 'Never';
      const message = `Container ${c.name} failed ${why} probe${restart ? ', will be restarted' : ''}`;
      return killContainer(this.hooks, pod, spec, { id: c.rec.id, name: c.name, podIP: this.lastIP }, { message, reason: why });
    }));
    return sick.length > 0;
  }

  /**
   * Kills running containers whose spec changed (a new image: the only container field a pod
   * update may change), as the kubelet does when a container's hash differs from its spec's;
   * true when any was. They are restarted whatever the restartPolicy, without back-off.
   */
  private async killChanged(pod: KObject, state: PodRuntimeState): Promise<boolean> {
    const stale = state.containers.filter((c) => {
      if (c.rec.status !== 'running' || (c.kind !== 'app' && c.kind !== 'sidecar')) return false;
      const spec = this.specOf(c.name);
      const was = c.rec.options.labels?.[L.specImage];
      return !!spec && was !== undefined && was !== spec.image;
    });
    await Promise.all(stale.map((c) => {
      this.changed.add(c.name);
      return killContainer(this.hooks, pod, this.specOf(c.name), { id: c.rec.id, name: c.name, podIP: this.lastIP }, { message: `Container ${c.name} definition changed, will be restarted` });
    }));
    return stale.length > 0;
  }

  /** Milliseconds left before the pod's activeDeadlineSeconds (from status.startTime), if it has one. */
  private deadlineLeft(pod: KObject): number | undefined {
    const ads = pod.spec?.activeDeadlineSeconds;
    const start = Date.parse(pod.status?.startTime ?? '');
    if (typeof ads !== 'number' || Number.isNaN(start)) return undefined;
    return start + ads * 1000 - this.d.clock.now();
  }

  /** The kubelet's active deadline handler: the pod fails (DeadlineExceeded) and everything in it stops. */
  private async failDeadline(pod: KObject, state: PodRuntimeState): Promise<void> {
    const message = 'Pod was active on the node longer than the specified deadline';
    if (!this.evicted) this.event('Normal', 'DeadlineExceeded', message);
    this.evicted = { reason: 'DeadlineExceeded', message };
    this.d.probes?.removePod(this.uid);
    await Promise.all(state.containers.filter((c) => c.rec.status === 'running').map((c) =>
      killContainer(this.hooks, pod, this.specOf(c.name), { id: c.rec.id, name: c.name, podIP: this.lastIP })));
    const after = await this.d.runtime.state(this.uid);
    await this.writeStatus(await this.withFailures(after));
    await this.finish(after);
  }

  private event(type: EventType, reason: string, message: string): void {
    const m = this.pod!.metadata;
    this.d.recorder.event({ apiVersion: 'v1', kind: 'Pod', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }, type, reason, message);
  }

  /** One pass; returns when to come back (ms), if a wait is pending. */
  private async sync(): Promise<number | undefined> {
    let state = await this.d.runtime.state(this.uid);
    const pod = this.pod;
    if (!pod || this.gone || pod.metadata.deletionTimestamp) {
      await this.terminate(state);
      return undefined;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      await this.finish(state);
      return undefined;
    }
    const left = this.deadlineLeft(pod);
    if (left !== undefined && left <= 0) {
      await this.failDeadline(pod, state);
      return undefined;
    }
    if (await this.killUnhealthy(pod, state)) state = await this.d.runtime.state(this.uid);
    if (await this.killChanged(pod, state)) state = await this.d.runtime.state(this.uid);
    let requeue: number | undefined;
    const soon = (ms: number | undefined) => { if (ms !== undefined) requeue = Math.min(requeue ?? ms, ms); };
    soon(left);

    // Half-made instances (created, never started: the agent stopped in between) go first.
    for (const c of state.containers.filter((x) => x.rec.status === 'created' || x.rec.status === 'creating')) {
      await this.d.runtime.remove(c.rec.id);
    }
    state.containers = [...state.containers.filter((x) => x.rec.status === 'running' || x.rec.status === 'exited'), ...this.startFailures];

    // Volumes before the sandbox, as the kubelet's WaitForAttachAndMount: the pod stays ContainerCreating.
    const mounted = await this.d.volumes?.setUp(pod);
    if (mounted?.errors.length) {
      for (const e of mounted.errors) this.event('Warning', 'FailedMount', e);
      await this.writeStatus(state);
      return mounted.retryMs;
    }

    // The pod cgroup before anything runs in it (the kubelet's EnsureExists in syncPod).
    if (this.d.cgroups && !this.cgroup) {
      try {
        this.cgroup = await this.d.cgroups.ensure(pod);
      } catch (err) {
        this.event('Warning', 'FailedCreatePodContainer', `unable to ensure pod container exists: ${(err as Error).message}`);
        await this.writeStatus(state);
        return 5000;
      }
    }

    let sandbox = state.sandboxes.find((s) => s.state === 'ready');
    if (!sandbox) {
      // A new sandbox means new namespaces: containers of the old one cannot stay (as the kubelet).
      for (const c of state.containers.filter((x) => x.rec.status === 'running')) await this.d.runtime.stop(c.rec.id, MIN_GRACE);
      for (const s of state.sandboxes) await this.d.runtime.removeSandbox(s.id);
      try {
        sandbox = await this.d.runtime.createSandbox({ uid: this.uid, name: pod.metadata.name!, namespace: pod.metadata.namespace!, hostname: podHostname(pod) }, await this.d.dns?.(pod), sandboxNetwork(pod));
      } catch (err) {
        this.event('Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(err as Error).message}`);
        await this.writeStatus({ ...state, sandboxes: [] });
        return 5000;
      }
      state.sandboxes = [sandbox];
      this.lastIP = this.podIP(sandbox);
    }
    this.lastIP = this.podIP(sandbox) ?? this.lastIP;

    const spec = pod.spec ?? {};
    const restartPolicy: string = spec.restartPolicy ?? 'Always';
    let initDone = true;
    for (const ic of spec.initContainers ?? []) {
      const [latest] = instancesOf(state.containers, ic.name);
      if (isSidecar(ic)) {
        // The next init container waits until the sidecar has started (its startup probe passed).
        if (latest?.rec.status === 'running' && (!this.d.probes || this.d.probes.containerState(ic, `skiff://${latest.rec.id}`).started)) continue;
        if (latest?.rec.status === 'running') { initDone = false; break; }
        soon(await this.startContainer(pod, ic, 'sidecar', state, sandbox, latest));
        initDone = false;
        break;
      }
      if (latest?.rec.status === 'exited' && latest.rec.exitCode === 0) continue;
      initDone = false;
      if (latest?.rec.status === 'running') break;
      if (latest?.rec.status === 'exited' && restartPolicy === 'Never') break; // the pod has failed
      soon(await this.startContainer(pod, ic, 'init', state, sandbox, latest));
      break;
    }
    if (initDone) {
      for (const c of spec.containers ?? []) {
        const [latest] = instancesOf(state.containers, c.name);
        if (latest?.rec.status === 'running') continue;
        if (latest?.rec.status === 'exited') {
          const restart = this.changed.has(c.name) || restartPolicy === 'Always' || (restartPolicy === 'OnFailure' && latest.rec.exitCode !== 0);
          if (!restart) { this.waiting.delete(c.name); continue; }
        }
        soon(await this.startContainer(pod, c, 'app', state, sandbox, latest));
      }
    }
    const status = await this.writeStatus(await this.withFailures(await this.d.runtime.state(this.uid)));
    if (status?.phase === 'Succeeded' || status?.phase === 'Failed') await this.finish(await this.d.runtime.state(this.uid));
    return requeue;
  }

  /** The pod's IP: its sandbox's, or the node's for a pod in the host's network. */
  private podIP(sandbox: { ip?: string }): string | undefined {
    return this.pod?.spec?.hostNetwork ? this.d.hostIP() : sandbox.ip;
  }

  private async withFailures(state: PodRuntimeState): Promise<PodRuntimeState> {
    return { ...state, containers: [...state.containers, ...this.startFailures] };
  }

  /** Records an instance that could not start, so it counts as an exit (code 128, StartError). */
  private startFailed(c: any, attempt: number, labels: Record<string, string>, message: string): void {
    const at = new Date(this.d.clock.now()).toISOString();
    const rec = {
      id: '', name: '', image: c.image, imageId: '', options: { image: c.image, labels }, command: [], status: 'exited' as const,
      createdAt: at, startedAt: '1970-01-01T00:00:00Z', finishedAt: at, exitCode: 128, error: message, runtime: '', lowerDirs: [],
    };
    this.startFailures = this.startFailures.filter((f) => !(f.name === c.name && f.attempt === attempt));
    this.startFailures.push({ rec, name: c.name, kind: (labels[L.containerType] as ContainerKind) ?? 'app', attempt });
  }

  /** Starts a new instance of a container (a restart when `prev` exited); returns a retry delay when it must wait. */
  private async startContainer(pod: KObject, c: any, kind: ContainerKind, state: PodRuntimeState, sandbox: NonNullable<PodRuntimeState['sandboxes'][0]>, prev?: PodContainer): Promise<number | undefined> {
    const { name: podName, namespace } = pod.metadata as { name: string; namespace: string };
    const key = `${this.uid}/${c.name}`;
    const now = this.d.clock.now();
    // A restart for a changed spec is no failure: no back-off before it, none recorded after.
    // It stays pending until an instance is made (an image still to pull is retried).
    const changed = this.changed.has(c.name);
    if (prev?.rec.status === 'exited' && !changed) {
      // A start failure never ran (its startedAt is the epoch, as containerd reports it).
      const ran = prev.rec.id ? (Date.parse(prev.rec.finishedAt ?? '') || now) - (Date.parse(prev.rec.startedAt ?? '') || now) : 0;
      const b = this.d.backoff.check(key, now, ran);
      if (!b.ok) {
        this.waiting.set(c.name, { reason: 'CrashLoopBackOff', message: `back-off ${goDuration(b.delayMs)} restarting failed container=${c.name} pod=${podName}_${namespace}(${this.uid})` });
        this.event('Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${podName}_${namespace}(${this.uid})`);
        return b.waitMs;
      }
    }
    const failed = (reason: string, message: string, retry: number) => {
      this.waiting.set(c.name, { reason, message });
      this.event('Warning', 'Failed', `Error: ${message}`);
      return retry;
    };
    let image;
    try {
      image = await this.d.images.ensure(pod, c, this.d.sources, (t, r, m) => this.event(t, r, m));
    } catch (err) {
      if (err instanceof ImageError) {
        this.waiting.set(c.name, { reason: err.reason, message: err.message });
        return err.retryMs ?? 10_000;
      }
      throw err;
    }
    let opts;
    const attempt = prev ? prev.attempt + 1 : 0;
    try {
      const env = await containerEnv(pod, c, this.d.sources, { podIP: this.podIP(sandbox), hostIP: this.d.hostIP(), allocatable: this.d.allocatable() });
      const mounts = await this.d.volumes?.mounts(pod, c, env);
      opts = containerOptions(pod, c, {
        sandbox, env, mounts, imageId: image.resolved.id, image: image.resolved.config, cgroupParent: this.cgroup,
        name: containerName({ uid: this.uid, name: podName, namespace }, c.name, attempt),
        labels: {
          ...podLabels({ uid: this.uid, name: podName, namespace }, this.d.nodeName),
          [L.containerName]: c.name, [L.restartCount]: String(attempt), [L.containerType]: kind,
          [L.specImage]: c.image, [L.imageName]: image.name, [L.imageID]: image.imageID, [L.sandbox]: sandbox.id,
        },
      });
    } catch (err) {
      if (err instanceof ConfigError) return failed('CreateContainerConfigError', err.message, 10_000);
      throw err;
    }
    let rec;
    try {
      rec = await this.d.runtime.create(opts);
    } catch (err) {
      // The runtime ran and could not execute the command (the engine's 126/127): an exit.
      if ((err as { exitCode?: number }).exitCode === 126 || (err as { exitCode?: number }).exitCode === 127) {
        this.startFailed(c, attempt, opts.labels ?? {}, (err as Error).message);
        if (prev) this.d.backoff.next(key, now);
        this.changed.delete(c.name);
        this.waiting.delete(c.name);
        this.event('Warning', 'Failed', `Error: ${(err as Error).message}`);
        return undefined;
      }
      return failed('CreateContainerError', (err as Error).message, 10_000);
    }
    this.event('Normal', 'Created', `Created container ${c.name}`);
    try {
      await this.d.runtime.start(rec.id);
    } catch (err) {
      await this.d.runtime.remove(rec.id);
      this.startFailed(c, attempt, opts.labels ?? {}, (err as Error).message);
      if (prev) this.d.backoff.next(key, now);
      this.changed.delete(c.name);
      this.waiting.delete(c.name);
      this.event('Warning', 'Failed', `Error: ${(err as Error).message}`);
      return undefined;
    }
    this.event('Normal', 'Started', `Started container ${c.name}`);
    if (prev && !changed) this.d.backoff.next(key, now);
    this.changed.delete(c.name);
    this.waiting.delete(c.name);
    // Keep the previous instance (lastState, logs --previous); older ones go.
    for (const old of instancesOf(state.containers, c.name)) if (old.attempt < attempt - 1 && old.rec.status === 'exited' && old.rec.id) await this.d.runtime.remove(old.rec.id);
    this.startFailures = this.startFailures.filter((f) => f.name !== c.name || f.attempt >= attempt - 1);
    if (c.lifecycle?.postStart) {
      const failure = await runHandler(this.hooks, pod, c, c.lifecycle.postStart, rec.id, this.podIP(sandbox) ?? this.lastIP ?? '', this.hookAbort.signal);
      if (failure !== undefined && !this.hookAbort.signal.aborted) {
        this.event('Warning', 'FailedPostStartHook', failure);
        await killContainer(this.hooks, pod, c, { id: rec.id, name: c.name, podIP: this.podIP(sandbox) }, { message: 'FailedPostStartHook', reason: 'postStart' });
        this.waiting.set(c.name, { reason: 'PostStartHookError', message: failure });
      }
    }
    return undefined;
  }

  /** Computes the status and writes it when it changed; returns it. */
  private async writeStatus(state: PodRuntimeState): Promise<any> {
    const pod = this.pod!;
    const sandbox = state.sandboxes.find((s) => s.state === 'ready') ?? state.sandboxes[0];
    const status = podStatus({
      pod: this.lastIP && !pod.status?.podIP ? { ...pod, status: { ...pod.status, podIP: this.lastIP } } : pod,
      containers: state.containers, sandbox, waiting: this.waiting, hostIP: this.d.hostIP(), now: this.d.clock.now(), evicted: this.evicted,
      probe: this.d.probes && ((spec, id) => this.d.probes!.containerState(spec, id)),
    });
    this.d.probes?.update(pod, status);
    const body = JSON.stringify(status);
    if (body === this.lastStatus) return status;
    try {
      // Pinned to the pod we computed from: conditions others own (readiness gates) are kept
      // from it, so a write racing theirs must fail (409) and be redone from the newer pod.
      const out = await this.d.client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, { metadata: { resourceVersion: pod.metadata.resourceVersion }, status }, 'merge', { subresource: 'status' });
      if (out?.metadata?.uid === this.uid) this.pod = out;
      this.lastStatus = body;
    } catch (err) {
      if (!(err instanceof ApiStatusError && (err.code === 404 || err.code === 409))) throw err;
    }
    return status;
  }

  /** A finished pod: nothing runs any more (sidecars stopped) and its sandbox is stopped. */
  private async finish(state: PodRuntimeState): Promise<void> {
    this.d.probes?.removePod(this.uid);
    await Promise.all(state.containers.filter((c) => c.rec.status === 'running').map((c) =>
      killContainer(this.hooks, this.pod!, this.specOf(c.name), { id: c.rec.id, name: c.name, podIP: this.lastIP })));
    for (const s of state.sandboxes) if (s.state === 'ready') await this.d.runtime.stopSandbox(s.id);
    // Nothing will run again: the kubelet unmounts a finished pod's volumes (its exited containers
    // stay) and removes its cgroup.
    await this.d.volumes?.tearDown(this.uid);
    await this.removeCgroup();
  }

  /** Removes the pod's cgroup (its containers are gone); one still busy is left to the next start's sweep. */
  private async removeCgroup(): Promise<void> {
    if (!this.d.cgroups) return;
    if (!(await this.d.cgroups.remove(this.uid))) this.d.log(`pod ${this.describe()}: its cgroup is still in use; left for later`);
    this.cgroup = undefined;
  }

  /** A deleted pod: stop gracefully, remove everything, delete the pod object for good. */
  private async terminate(state: PodRuntimeState): Promise<void> {
    const pod = this.pod;
    this.d.probes?.removePod(this.uid);
    await Promise.all(state.containers.filter((c) => c.rec.status === 'running').map((c) => (pod
      // preStop hook, stop signal, SIGKILL after the grace period, as the kubelet kills.
      ? killContainer(this.hooks, pod, this.specOf(c.name), { id: c.rec.id, name: c.name, podIP: this.lastIP })
      : this.d.runtime.stop(c.rec.id, MIN_GRACE))));
    for (const c of state.containers) await this.d.runtime.remove(c.rec.id);
    for (const s of state.sandboxes) await this.d.runtime.removeSandbox(s.id);
    await this.d.volumes?.tearDown(this.uid);
    await this.removeCgroup();
    this.d.backoff.resetPrefix(`${this.uid}/`);
    if (pod && !this.gone) {
      try {
        await this.d.client.delete(R.pods, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
      } catch (err) {
        if (!(err instanceof ApiStatusError && (err.code === 404 || err.code === 409))) throw err;
      }
    }
    if (this.gone) this.finished = true;
  }
}
