/**
 * A pod's status as the kubelet reports it, computed from what the engine holds and what the
 * pod worker noted (why a container waits): phase by the kubelet's getPhase rules,
 * the conditions (PodReadyToStartContainers, Initialized, ContainersReady, Ready,
 * PodScheduled), containerStatuses and initContainerStatuses (state, lastState, ready,
 * started, restartCount, image, imageID, containerID), podIP(s), hostIP(s), startTime and
 * qosClass. Pure: the worker writes the result through pods/status.
 */
import type { KObject } from '../client/client.js';
import { rfc3339 } from '../controllers/runtime/clock.js';
import type { SandboxRecord } from '../engine/network/sandbox.js';
import { L, type PodContainer } from './labels.js';

/** Why a container waits, as the worker noted it. */
export interface Waiting { reason: string; message?: string }

/** Inputs of the status computation. */
export interface StatusInput {
  pod: KObject;
  containers: PodContainer[];
  sandbox?: SandboxRecord;
  waiting: Map<string, Waiting>;
  hostIP: string;
  now: number;
  /** `started`/`ready` of a running container by its probes (prober results); without it, both once running. */
  probe?: ProbeState;
  /** The agent failed the pod itself (DeadlineExceeded): phase Failed with this reason and message. */
  evicted?: { reason: string; message: string };
}

/** The probes' verdict on a running container (spec, `skiff://` container ID). */
export type ProbeState = (spec: any, containerID: string) => { started: boolean; ready: boolean };

/** Whether an init container is a sidecar (restartPolicy Always). */
export function isSidecar(c: any): boolean {
  return c?.restartPolicy === 'Always';
}

/** The instances of one container, newest attempt first. */
export function instancesOf(containers: PodContainer[], name: string): PodContainer[] {
  return containers.filter((c) => c.name === name).sort((a, b) => b.attempt - a.attempt || b.rec.createdAt.localeCompare(a.rec.createdAt));
}

function terminated(pc: PodContainer): any {
  const r = pc.rec;
  const code = r.exitCode ?? 0;
  // An instance the runtime could not start has no ID (see PodWorker's start failures).
  if (!r.id) return { terminated: { exitCode: code, reason: 'StartError', message: r.error ?? '', startedAt: r.startedAt ?? null, finishedAt: r.finishedAt ?? null } };
  return {
    terminated: {
      exitCode: code,
      reason: r.oomKilled ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error',
      startedAt: r.startedAt ?? null,
      finishedAt: r.finishedAt ?? null,
      containerID: `skiff://${r.id}`,
    },
  };
}

/** One container's status. */
export function containerStatus(spec: any, containers: PodContainer[], waiting: Waiting | undefined, kind: 'init' | 'app', fallback: Waiting, probe?: ProbeState): any {
  const [latest, prev] = instancesOf(containers, spec.name);
  const st: any = {
    name: spec.name, image: spec.image, imageID: '', ready: false, restartCount: latest?.attempt ?? 0, started: false,
    state: {}, lastState: {},
  };
  if (latest) {
    const l = latest.rec.options.labels ?? {};
    st.image = l[L.imageName] || spec.image;
    st.imageID = l[L.imageID] ?? latest.rec.imageId;
    if (latest.rec.id) st.containerID = `skiff://${latest.rec.id}`;
  }
  if (latest?.rec.status === 'running') {
    st.state = { running: { startedAt: latest.rec.startedAt ?? null } };
    const p = probe?.(spec, `skiff://${latest.rec.id}`);
    st.started = p?.started ?? true;
    // Without probes a running container is ready (an init container only when a sidecar).
    st.ready = (kind === 'app' || isSidecar(spec)) && (p?.ready ?? true);
    if (prev?.rec.status === 'exited') st.lastState = terminated(prev);
  } else if (latest?.rec.status === 'exited' && !waiting) {
    st.state = terminated(latest);
    // A completed init container counts as ready, as the kubelet reports it.
    st.ready = kind === 'init' && !isSidecar(spec) && (latest.rec.exitCode ?? 0) === 0;
    if (prev?.rec.status === 'exited') st.lastState = terminated(prev);
  } else {
    const w = waiting ?? fallback;
    st.state = { waiting: { reason: w.reason, ...(w.message ? { message: w.message } : {}) } };
    if (latest?.rec.status === 'exited') st.lastState = terminated(latest);
    else if (prev?.rec.status === 'exited') st.lastState = terminated(prev);
  }
  if (!st.containerID) delete st.containerID;
  return st;
}

/** The kubelet's pod phase from container statuses (getPhase). */
export function podPhase(spec: any, init: any[], app: any[]): string {
  const restart = spec.restartPolicy ?? 'Always';
  const initSpecs: any[] = spec.initContainers ?? [];
  let pendingInit = false;
  for (let i = 0; i < init.length; i++) {
    const s = init[i];
    if (isSidecar(initSpecs[i])) {
      if (!s.started) pendingInit = true;
      continue;
    }
    const t = s.state.terminated;
    if (t && t.exitCode === 0) continue;
    if (restart === 'Never' && (t || s.lastState?.terminated) && (t?.exitCode ?? s.lastState.terminated.exitCode) !== 0) return 'Failed';
    pendingInit = true;
  }
  if (pendingInit) return 'Pending';
  let running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const s of app) {
    if (s.state.running) running++;
    else if (s.state.terminated) { stopped++; if (s.state.terminated.exitCode === 0) succeeded++; }
    else if (s.lastState?.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (restart === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restart === 'OnFailure') return 'Running';
    return 'Failed';
  }
  return 'Pending';
}

/** The QoS class of a pod spec (Guaranteed, Burstable, BestEffort). */
export function qosClass(spec: any): string {
  const cs = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
  let any = false;
  let guaranteed = cs.length > 0;
  for (const c of cs) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory']) if (lim[r] === undefined || (req[r] !== undefined && String(req[r]) !== String(lim[r]))) guaranteed = false;
  }
  return !any ? 'BestEffort' : guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Condition types the kubelet owns (kubetypes.PodConditionByKubelet). */
const KUBELET_CONDITIONS = new Set(['PodScheduled', 'Ready', 'Initialized', 'ContainersReady', 'PodReadyToStartContainers']);

/** Why the pod's readiness gates keep it unready (the kubelet's messages), or undefined when they pass. */
export function readinessGates(spec: any, conditions: any[]): string | undefined {
  const msgs: string[] = [];
  for (const g of spec?.readinessGates ?? []) {
    const c = conditions.find((x) => x.type === g.conditionType);
    if (!c) msgs.push(`corresponding condition of pod readiness gate "${g.conditionType}" does not exist.`);
    else if (c.status !== 'True') msgs.push(`the status of pod readiness gate "${g.conditionType}" is not "True", but ${c.status}`);
  }
  return msgs.length ? msgs.join(', ') : undefined;
}

/** The status to write for a pod. */
export function podStatus(x: StatusInput): any {
  const { pod } = x;
  const spec = pod.spec ?? {};
  const initSpecs: any[] = spec.initContainers ?? [];
  const init = initSpecs.map((c) => containerStatus(c, x.containers, x.waiting.get(c.name), 'init', { reason: 'PodInitializing' }, x.probe));
  const initDone = init.every((s, i) => (isSidecar(initSpecs[i]) ? s.started : s.state.terminated?.exitCode === 0));
  const app = (spec.containers ?? []).map((c: any) => containerStatus(c, x.containers, x.waiting.get(c.name), 'app',
    { reason: initDone ? 'ContainerCreating' : 'PodInitializing' }, x.probe));
  const phase = x.evicted ? 'Failed' : podPhase(spec, init, app);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const now = rfc3339(x.now);
  const prevConds: any[] = pod.status?.conditions ?? [];
  const cond = (type: string, ok: boolean, reason?: string, message?: string) => {
    const prev = prevConds.find((c) => c.type === type);
    const status = ok ? 'True' : 'False';
    return {
      type, status, lastProbeTime: null,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
      ...(reason ? { reason } : {}), ...(message ? { message } : {}),
    };
  };
  const unready = app.filter((s: any) => !s.ready).map((s: any) => s.name);
  const incomplete = init.filter((s, i) => !(isSidecar(initSpecs[i]) ? s.started : s.state.terminated?.exitCode === 0)).map((s) => s.name);
  const containersReady = !terminal && unready.length === 0;
  const containersNotReady = terminal ? ['PodCompleted', undefined] as const : ['ContainersNotReady', `containers with unready status: [${unready.join(' ')}]`] as const;
  const gates = readinessGates(spec, prevConds);
  const ready = containersReady && !gates;
  const notReady = containersReady && gates ? ['ReadinessGatesNotReady', gates] as const : containersNotReady;
  const sandboxUp = !!x.sandbox && x.sandbox.state === 'ready';
  const conditions = [
    cond('PodReadyToStartContainers', sandboxUp),
    initSpecs.length && !initDone
      ? cond('Initialized', terminal && phase === 'Succeeded', terminal ? 'PodCompleted' : 'ContainersNotInitialized', terminal ? undefined : `containers with incomplete status: [${incomplete.join(' ')}]`)
      : cond('Initialized', true),
    ready ? cond('Ready', true) : cond('Ready', false, ...notReady),
    containersReady ? cond('ContainersReady', true) : cond('ContainersReady', false, ...containersNotReady),
    cond('PodScheduled', true),
    // Conditions others own (readiness gates' among them) are kept, as the kubelet's status manager does.
    ...prevConds.filter((c) => !KUBELET_CONDITIONS.has(c.type)),
  ];
  // A pod in the host's network has the node's IP (as the kubelet reports it); a finished
  // pod keeps the IP it had (its sandbox is stopped).
  const podIP = spec.hostNetwork ? x.hostIP : x.sandbox?.ip ?? pod.status?.podIP;
  const out: any = {
    phase, conditions, hostIP: x.hostIP, hostIPs: [{ ip: x.hostIP }],
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: pod.status?.startTime ?? now,
    containerStatuses: app,
    qosClass: pod.status?.qosClass ?? qosClass(spec),
  };
  if (initSpecs.length) out.initContainerStatuses = init;
  if (x.evicted) Object.assign(out, x.evicted);
  return out;
}
