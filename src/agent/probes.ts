/**
 * Container probes as the kubelet's prober manager runs them: one worker per container and
 * probe type (liveness, readiness, startup), ticking every periodSeconds (a random part of a
 * period first while the agent has just started, so restarts do not probe everything at once).
 * Each tick is the kubelet's doProbe: it reads the pod's last status, resets on a new container
 * ID, waits out initialDelaySeconds, keeps liveness and readiness off until the startup probe
 * has succeeded, and records a result only once successThreshold/failureThreshold checks in a
 * row agree. Results are kept per container ID: readiness drives containerStatuses[].ready,
 * startup drives `started`, and a liveness or startup failure asks the pod worker to kill the
 * container (which restarts it per restartPolicy). Workers end with their pod.
 */
import type { KObject } from '../client/client.js';
import type { Clock, TimerHandle } from '../controllers/runtime/clock.js';
import type { EventType } from '../controllers/runtime/events.js';
import { type CheckOutcome, type ContainerExec, actionURL, execCheck, grpcCheck, httpCheck, resolvePort, tcpCheck } from './checks.js';
import { expand } from './env.js';

/** The three kinds of probe. */
export type ProbeType = 'liveness' | 'readiness' | 'startup';

/** A recorded probe result (the kubelet's results.Result). */
export type ProbeResult = 'success' | 'failure' | 'unknown';

const TYPES: ProbeType[] = ['liveness', 'readiness', 'startup'];
const FIELD: Record<ProbeType, string> = { liveness: 'livenessProbe', readiness: 'readinessProbe', startup: 'startupProbe' };
const TITLE: Record<ProbeType, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };
/** The value before any probe ran: unready, alive, not yet started. */
const INITIAL: Record<ProbeType, ProbeResult> = { liveness: 'success', readiness: 'failure', startup: 'unknown' };

/** A probe's timing with Kubernetes' defaults (period 10 s, timeout 1 s, thresholds 1 and 3). */
export function probeTiming(p: any): { initialDelayS: number; periodMs: number; timeoutMs: number; success: number; failure: number } {
  const pos = (v: unknown, d: number) => (typeof v === 'number' && v > 0 ? v : d);
  return {
    initialDelayS: typeof p?.initialDelaySeconds === 'number' ? p.initialDelaySeconds : 0,
    periodMs: pos(p?.periodSeconds, 10) * 1000,
    timeoutMs: pos(p?.timeoutSeconds, 1) * 1000,
    success: pos(p?.successThreshold, 1),
    failure: pos(p?.failureThreshold, 3),
  };
}

/** What one probe check is asked to look at. */
export interface ProbeRequest {
  type: ProbeType;
  pod: KObject;
  container: any;
  probe: any;
  podIP: string;
  /** The engine's container ID (without the `skiff://` prefix). */
  containerId: string;
}

/** Makes one check of a probe. */
export type ProbeCheck = (r: ProbeRequest) => Promise<CheckOutcome>;

/** The real checks: exec in the container, httpGet/tcpSocket/grpc from the host to the pod IP. */
export function probeCheck(exec: ContainerExec): ProbeCheck {
  return async ({ pod, container, probe, podIP, containerId }) => {
    const { timeoutMs } = probeTiming(probe);
    try {
      if (probe?.exec) {
        // $(VAR) of the container's literal env values only (the kubelet's ExpandContainerCommandOnlyStatic).
        const vars = new Map<string, string>((container.env ?? []).filter((e: any) => typeof e?.value === 'string').map((e: any) => [e.name, e.value]));
        const cmd = (probe.exec.command ?? []).map((a: string) => expand(String(a), (n) => vars.get(n)));
        return await execCheck(exec, containerId, cmd, timeoutMs);
      }
      if (probe?.httpGet) {
        const headers: [string, string][] = (probe.httpGet.httpHeaders ?? []).map((h: any) => [String(h.name), String(h.value ?? '')]);
        return await httpCheck(actionURL(probe.httpGet, container, podIP), headers, timeoutMs);
      }
      if (probe?.tcpSocket) return await tcpCheck(probe.tcpSocket.host || podIP, resolvePort(probe.tcpSocket.port, container), timeoutMs);
      if (probe?.grpc) return await grpcCheck(podIP, resolvePort(Number(probe.grpc.port), container), probe.grpc.service ?? '', timeoutMs);
      return { result: 'unknown', output: '', error: `missing probe handler for ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid}):${container.name}` };
    } catch (err) {
      return { result: 'unknown', output: '', error: (err as Error).message };
    }
  };
}

/** Options of a probe manager. */
export interface ProbeManagerOptions {
  clock: Clock;
  check: ProbeCheck;
  /** Records an event about a pod (Unhealthy, ProbeWarning). */
  event: (pod: KObject, type: EventType, reason: string, message: string) => void;
  /** A pod's results changed: its status, and maybe its containers, need a sync. */
  changed: (uid: string) => void;
  /** [0, 1) for the start-up jitter (default Math.random). */
  random?: () => number;
}

/** The containers that may have probes: app containers and sidecars (restartable init containers). */
function probedContainers(spec: any): any[] {
  return [...(spec?.initContainers ?? []).filter((c: any) => c?.restartPolicy === 'Always'), ...(spec?.containers ?? [])];
}

function statusOf(status: any, name: string): any {
  const withId = (l: any[] | undefined) => (l ?? []).find((s) => s?.name === name && s.containerID);
  return withId(status?.containerStatuses) ?? withId(status?.initContainerStatuses);
}

/** Runs the probes of the node's pods and keeps their results. */
export class ProbeManager {
  private readonly startedAt: number;
  private readonly workers = new Map<string, ProbeWorker>();
  private readonly results: Record<ProbeType, Map<string, ProbeResult>> = { liveness: new Map(), readiness: new Map(), startup: new Map() };
  /** Each pod's latest object and status, as the pod worker last computed them. */
  readonly pods = new Map<string, { pod: KObject; status: any }>();

  constructor(readonly o: ProbeManagerOptions) {
    this.startedAt = o.clock.now();
  }

  /** How long ago the manager started (ms): the first probes of a fresh agent are spread out. */
  sinceStart(): number {
    return this.o.clock.now() - this.startedAt;
  }

  /**
   * The pod worker's latest view of a pod: the first one makes its probe workers (the kubelet's
   * AddPod); every one lets started, unready containers have their readiness probed at once.
   */
  update(pod: KObject, status: any): void {
    const uid = pod.metadata.uid!;
    const fresh = !this.pods.has(uid);
    this.pods.set(uid, { pod, status });
    if (fresh) {
      for (const c of probedContainers(pod.spec)) {
        for (const type of TYPES) {
          if (!c[FIELD[type]]) continue;
          const w = new ProbeWorker(this, uid, c, type);
          this.workers.set(w.key, w);
          w.start();
        }
      }
    }
    for (const s of [...(status?.containerStatuses ?? []), ...(status?.initContainerStatuses ?? [])]) {
      if (s?.state?.running && s.started && !s.ready) this.workers.get(`${uid}/${s.name}/readiness`)?.trigger();
    }
  }

  /** Stops a pod's workers and forgets its results (the pod is gone or finished). */
  removePod(uid: string): void {
    for (const w of [...this.workers.values()]) if (w.uid === uid) w.stop();
    this.pods.delete(uid);
  }

  /** Stops every worker (the agent stops; the next start probes anew). */
  stop(): void {
    for (const w of [...this.workers.values()]) w.stop();
  }

  /** A probe worker (tests). */
  worker(uid: string, container: string, type: ProbeType): ProbeWorker | undefined {
    return this.workers.get(`${uid}/${container}/${type}`);
  }

  /** The recorded result for a container ID (`skiff://…`). */
  result(type: ProbeType, containerID: string): ProbeResult | undefined {
    return this.results[type].get(containerID);
  }

  /**
   * `started` and `ready` of a running container, as the kubelet's UpdatePodStatus: started
   * once its startup probe succeeded (at once without one); ready once started and its
   * readiness probe succeeded (at once without one).
   */
  containerState(spec: any, containerID: string): { started: boolean; ready: boolean } {
    const started = !spec?.startupProbe || this.results.startup.get(containerID) === 'success';
    const ready = started && (!spec?.readinessProbe || this.results.readiness.get(containerID) === 'success');
    return { started, ready };
  }

  /** Why a running container must be killed: its liveness or startup probe failed. */
  failed(spec: any, containerID: string): 'liveness' | 'startup' | undefined {
    if (spec?.livenessProbe && this.results.liveness.get(containerID) === 'failure') return 'liveness';
    if (spec?.startupProbe && this.results.startup.get(containerID) === 'failure') return 'startup';
    return undefined;
  }

  /** @internal Records a result; a change wakes the pod's worker. */
  set(type: ProbeType, uid: string, containerID: string, r: ProbeResult): void {
    if (this.results[type].get(containerID) === r) return;
    this.results[type].set(containerID, r);
    this.o.changed(uid);
  }

  /** @internal Forgets a result (a container replaced, a worker stopped). */
  forget(type: ProbeType, containerID: string): void {
    this.results[type].delete(containerID);
  }

  /** @internal A stopped worker leaves. */
  removeWorker(w: ProbeWorker): void {
    if (this.workers.get(w.key) === w) this.workers.delete(w.key);
  }
}

/** The periodic prober of one container's probe of one type. */
export class ProbeWorker {
  readonly key: string;
  private readonly probe: any;
  private readonly timing: ReturnType<typeof probeTiming>;
  private containerID = '';
  private lastResult?: ProbeResult;
  private resultRun = 0;
  private onHold = false;
  private stopped = false;
  private busy = false;
  private again = false;
  private nextAt = 0;
  private timer?: TimerHandle;

  constructor(private readonly m: ProbeManager, readonly uid: string, readonly container: any, readonly type: ProbeType) {
    this.key = `${uid}/${container.name}/${type}`;
    this.probe = container[FIELD[type]];
    this.timing = probeTiming(this.probe);
  }

  /** Starts ticking (after a random part of a period when the agent has just started). */
  start(): void {
    const { periodMs } = this.timing;
    this.schedule(this.m.sinceStart() < periodMs ? Math.floor((this.m.o.random ?? Math.random)() * periodMs) : 0);
  }

  /** Probes now (and restarts the period from now), as the kubelet's manual trigger. */
  trigger(): void {
    if (this.stopped) return;
    if (this.busy) { this.again = true; return; }
    this.schedule(0);
  }

  /** Stops for good; the result of its container is forgotten. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    if (this.containerID) this.m.forget(this.type, this.containerID);
    this.m.removeWorker(this);
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    this.timer = this.m.o.clock.after(ms, () => { this.timer = undefined; this.tick(); });
  }

  private tick(): void {
    if (this.stopped) return;
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    this.nextAt = this.m.o.clock.now() + this.timing.periodMs;
    void this.doProbe().catch(() => true).then((keep) => {
      this.busy = false;
      if (!keep) return this.stop();
      if (this.stopped) return;
      if (this.again) { this.again = false; return this.tick(); }
      this.schedule(Math.max(0, this.nextAt - this.m.o.clock.now()));
    });
  }

  /** One probe cycle as the kubelet's doProbe; resolves false when the worker should end. */
  async doProbe(): Promise<boolean> {
    const view = this.m.pods.get(this.uid);
    if (!view) return true;
    const { pod, status } = view;
    if (status?.phase === 'Failed' || status?.phase === 'Succeeded') return false;
    const c = statusOf(status, this.container.name);
    if (!c) return true;
    if (c.containerID !== this.containerID) {
      if (this.containerID) this.m.forget(this.type, this.containerID);
      this.containerID = c.containerID;
      this.m.set(this.type, this.uid, this.containerID, INITIAL[this.type]);
      this.onHold = false;
    }
    if (this.onHold) return true;
    if (!c.state?.running) {
      this.m.set(this.type, this.uid, this.containerID, 'failure');
      return !c.state?.terminated || pod.spec?.restartPolicy !== 'Never';
    }
    if (pod.metadata.deletionTimestamp && this.type !== 'readiness') {
      // A pod being deleted is not restarted: keep it quiet.
      this.m.set(this.type, this.uid, this.containerID, 'success');
      return false;
    }
    const startedAt = Date.parse(c.state.running.startedAt ?? '') || this.m.o.clock.now();
    if (Math.trunc((this.m.o.clock.now() - startedAt) / 1000) < this.timing.initialDelayS) return true;
    if (c.started) { if (this.type === 'startup') return true; } else if (this.type !== 'startup') return true;

    const result = await this.check(pod, status);
    if (result === undefined) return true; // the check could not be made: its result is thrown away
    // Replaced meanwhile (the check took a while): this result is about a container gone.
    if (this.stopped || statusOf(this.m.pods.get(this.uid)?.status, this.container.name)?.containerID !== this.containerID) return true;
    if (this.lastResult === result) this.resultRun++;
    else { this.lastResult = result; this.resultRun = 1; }
    if ((result === 'failure' && this.resultRun < this.timing.failure) || (result === 'success' && this.resultRun < this.timing.success)) return true;
    this.m.set(this.type, this.uid, this.containerID, result);
    if ((this.type === 'liveness' && result === 'failure') || this.type === 'startup') {
      // The container will be restarted (or has started): nothing to probe until a new one.
      this.onHold = true;
      this.resultRun = 0;
    }
    return true;
  }

  /** Runs the check (up to 3 tries while it errors) and records its event, as the kubelet's prober. */
  private async check(pod: KObject, status: any): Promise<ProbeResult | undefined> {
    let out: CheckOutcome = { result: 'unknown', output: '' };
    for (let i = 0; i < 3; i++) {
      out = await this.m.o.check({
        type: this.type, pod, container: this.container, probe: this.probe, podIP: status?.podIP ?? '',
        containerId: this.containerID.replace(/^[a-z]+:\/\//, ''),
      });
      if (!out.error) break;
    }
    const title = TITLE[this.type];
    if (out.error) {
      this.m.o.event(pod, 'Warning', 'Unhealthy', `${title} probe errored and resulted in unknown state: ${out.error}`);
      return undefined;
    }
    if (out.result === 'success') return 'success';
    if (out.result === 'warning') {
      this.m.o.event(pod, 'Warning', 'ProbeWarning', `${title} probe warning: ${out.output}`);
      return 'success';
    }
    this.m.o.event(pod, 'Warning', 'Unhealthy', `${title} probe failed: ${out.output}`);
    return 'failure';
  }
}
