/**
 * Container lifecycle hooks and the kubelet's way of killing a container. postStart runs right
 * after the container starts (exec in the container, or an HTTP GET to the pod IP) and a
 * failure kills the container (FailedPostStartHook). Every kill — pod deletion, a failed
 * liveness or startup probe, a failed postStart — goes as the kubelet's killContainer: the
 * grace period (the pod's deletion grace, else a failed probe's own
 * terminationGracePeriodSeconds, else the pod's), a `Killing` event, the preStop hook (exec,
 * httpGet or sleep) within that grace period (FailedPreStopHook when it fails), then the stop
 * signal with what is left of the grace period (at least 2 s), SIGKILL after it.
 */
import type { KObject } from '../client/client.js';
import type { Clock } from '../controllers/runtime/clock.js';
import type { EventType } from '../controllers/runtime/events.js';
import { type ContainerExec, LIFECYCLE_AGENT, actionURL, httpGet } from './checks.js';

/** The kubelet's floor for a kill's grace period (seconds). */
export const MIN_GRACE_SECONDS = 2;

/** What hooks and kills need. */
export interface HookDeps {
  exec: ContainerExec;
  /** Stops a container: its stop signal, SIGKILL after `graceSeconds`. */
  stop: (id: string, graceSeconds: number) => Promise<void>;
  /** Records an event about the pod. */
  event: (type: EventType, reason: string, message: string) => void;
  clock: Clock;
}

/** A pod as the kubelet names it in messages: `name_namespace(uid)`. */
export function podFullName(pod: KObject): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

/**
 * Runs a lifecycle handler against a running container; resolves undefined when it succeeded,
 * else the kubelet's failure message. An HTTP hook succeeds on any answer (the kubelet reads no
 * status code); an HTTPS one that meets a plain-HTTP server is retried over HTTP.
 */
export async function runHandler(d: HookDeps, pod: KObject, container: any, handler: any, containerId: string, podIP: string, signal?: AbortSignal): Promise<string | undefined> {
  const where = `for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(podFullName(pod))}`;
  if (handler?.exec) {
    const cmd: string[] = (handler.exec.command ?? []).map(String);
    const r = await d.exec(containerId, cmd, { signal });
    let err: string | undefined;
    if (r.error) err = r.error;
    else if (r.code !== 0) err = `command '${cmd.join(' ')}' exited with ${r.code}: ${r.stderr}`;
    if (err === undefined) return undefined;
    return `Exec lifecycle hook ([${cmd.join(' ')}]) ${where} failed - error: ${err}, message: ${JSON.stringify(r.stdout + r.stderr)}`;
  }
  if (handler?.httpGet) {
    const h = handler.httpGet;
    try {
      const headers: [string, string][] = (h.httpHeaders ?? []).map((x: any) => [String(x.name), String(x.value ?? '')]);
      const url = actionURL(h, container, podIP);
      try {
        await httpGet(url, { headers, userAgent: LIFECYCLE_AGENT, followNonLocal: true, signal });
      } catch (err) {
        // An HTTPS hook answered in plain HTTP: the kubelet retries over HTTP and says so.
        if (url.protocol !== 'https:' || !/wrong version number|packet length too long|http request/i.test((err as Error).message)) throw err;
        const plain = new URL(url);
        plain.protocol = 'http:';
        await httpGet(plain, { headers: headers.filter(([k]) => k.toLowerCase() !== 'authorization'), userAgent: LIFECYCLE_AGENT, followNonLocal: true, signal });
        d.event('Warning', 'LifecycleHTTPFallback', `request to HTTPS lifecycle hook ${url.host} got HTTP response, retry with HTTP succeeded`);
      }
      return undefined;
    } catch (err) {
      return `HTTP lifecycle hook (${h.path ?? ''}) ${where} failed - error: ${(err as Error).message}`;
    }
  }
  if (handler?.sleep) {
    const seconds = Number(handler.sleep.seconds ?? 0);
    const finished = await new Promise<boolean>((resolve) => {
      if (signal?.aborted) return resolve(false);
      const t = d.clock.after(seconds * 1000, () => resolve(true));
      signal?.addEventListener('abort', () => { t.cancel(); resolve(false); }, { once: true });
    });
    return finished ? undefined : `Sleep lifecycle hook (${seconds}) ${where} failed - error: container terminated before sleep hook finished`;
  }
  return `Cannot run handler: invalid handler: ${JSON.stringify(handler ?? null)}`;
}

/** Why the kubelet kills a container: a probe's own grace period may apply. */
export type KillReason = 'liveness' | 'startup' | 'postStart' | undefined;

/** The grace period of a kill (the kubelet's setTerminationGracePeriod), before the preStop hook takes its share. */
export function killGrace(pod: KObject, spec: any, reason: KillReason): number {
  const deletion = pod.metadata.deletionGracePeriodSeconds;
  if (typeof deletion === 'number') return deletion;
  const podGrace = pod.spec?.terminationGracePeriodSeconds;
  if (typeof podGrace !== 'number') return MIN_GRACE_SECONDS;
  const probe = reason === 'liveness' ? spec?.livenessProbe : reason === 'startup' ? spec?.startupProbe : undefined;
  if (typeof probe?.terminationGracePeriodSeconds === 'number') return probe.terminationGracePeriodSeconds;
  return podGrace;
}

/**
 * Kills a running container as the kubelet's killContainer: `Killing` event (`message`, else
 * "Stopping container NAME"), preStop within the grace period, the stop signal, SIGKILL after
 * what is left (never under 2 s).
 */
export async function killContainer(d: HookDeps, pod: KObject, spec: any, target: { id: string; name: string; podIP?: string }, o: { message?: string; reason?: KillReason } = {}): Promise<void> {
  let grace = killGrace(pod, spec, o.reason);
  d.event('Normal', 'Killing', o.message ?? `Stopping container ${target.name}`);
  const preStop = spec?.lifecycle?.preStop;
  const abort = new AbortController();
  if (preStop && grace > 0) {
    const start = d.clock.now();
    let timer: { cancel(): void } | undefined;
    const hook = runHandler(d, pod, spec, preStop, target.id, target.podIP ?? '', abort.signal).then((failure) => {
      // The message stays short: a hook's output may hold secrets (as the kubelet has it).
      // A hook cut short by the stop after the grace period is not a failure of its own.
      if (failure !== undefined && !abort.signal.aborted) d.event('Warning', 'FailedPreStopHook', 'PreStopHook failed');
    });
    await Promise.race([hook, new Promise<void>((r) => { timer = d.clock.after(grace * 1000, r); })]);
    timer?.cancel();
    grace -= Math.trunc((d.clock.now() - start) / 1000);
  }
  await d.stop(target.id, Math.max(MIN_GRACE_SECONDS, grace));
  abort.abort();
}
