/**
 * A pod's container as engine options: command and args over the image's Entrypoint and Cmd
 * (Kubernetes' rules, with `$(VAR)` expanded from the container's environment), resources
 * (limits.memory → memory limit; limits.cpu → CFS quota; requests.cpu → CPU shares as the
 * kubelet converts them), the pod's and the container's securityContext (runAsUser,
 * runAsGroup, runAsNonRoot, privileged, capabilities, readOnlyRootFilesystem,
 * allowPrivilegeEscalation, seccompProfile), and the namespaces and files of its sandbox.
 */
import os from 'node:os';
import type { KObject } from '../client/client.js';
import { milli, parseQuantity } from '../core/quantity.js';
import type { BindMount, ContainerOptions } from '../engine/container/spec.js';
import type { ImageConfig } from '../engine/image/manifest.js';
import type { SandboxRecord } from '../engine/network/sandbox.js';
import { expand, ConfigError } from './env.js';

/** The kubelet's CPU shares for a request in millicores (minimum 2, as for BestEffort). */
export function cpuShares(milliCpu: number): number {
  return Math.max(2, Math.floor((milliCpu * 1024) / 1000));
}

/** `command`/`args` as the engine's entrypoint/cmd, `$(VAR)` expanded (empty lists mean unset). */
export function commandOf(c: any, env: string[]): { entrypoint?: string[]; cmd?: string[] } {
  const vars = new Map(env.map((e) => { const i = e.indexOf('='); return [e.slice(0, i), e.slice(i + 1)] as const; }));
  const x = (l: string[]) => l.map((s) => expand(String(s), (n) => vars.get(n)));
  const out: { entrypoint?: string[]; cmd?: string[] } = {};
  if (c.command?.length) out.entrypoint = x(c.command);
  if (c.args?.length) out.cmd = x(c.args);
  return out;
}

/** The user a container runs as, from the pod's and container's securityContext (container wins). */
export function userOf(pod: KObject, c: any, image: ImageConfig): { user?: string; uid?: number } {
  const psc = pod.spec?.securityContext ?? {};
  const sc = c.securityContext ?? {};
  const uid: number | undefined = sc.runAsUser ?? psc.runAsUser;
  const gid: number | undefined = sc.runAsGroup ?? psc.runAsGroup;
  const imageUser = image.config?.User || undefined;
  if (uid === undefined && gid === undefined) return { user: imageUser, uid: imageUser === undefined ? 0 : /^\d+/.test(imageUser) ? Number(/^\d+/.exec(imageUser)![0]) : imageUser.split(':')[0] === 'root' ? 0 : undefined };
  const u = uid !== undefined ? String(uid) : (imageUser?.split(':')[0] ?? '0');
  return { user: gid !== undefined ? `${u}:${gid}` : u, uid: uid ?? (/^\d+$/.test(u) ? Number(u) : u === 'root' ? 0 : undefined) };
}

/** Refuses a container that would run as root under runAsNonRoot, as the kubelet's verifyRunAsNonRoot. */
export function checkNonRoot(pod: KObject, c: any, who: { user?: string; uid?: number }): void {
  const nonRoot = c.securityContext?.runAsNonRoot ?? pod.spec?.securityContext?.runAsNonRoot;
  if (!nonRoot) return;
  if (who.uid === 0) {
    const explicit = c.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
    throw new ConfigError(explicit === 0 ? "container's runAsUser breaks non-root policy" : 'container has runAsNonRoot and image will run as root');
  }
  if (who.uid === undefined) throw new ConfigError(`container has runAsNonRoot and image has non-numeric user (${who.user}), cannot verify user is non-root`);
}

/** What else the options need: the sandbox, labels and the resolved image. */
export interface SpecContext {
  sandbox: SandboxRecord;
  labels: Record<string, string>;
  imageId: string;
  image: ImageConfig;
  env: string[];
  name: string;
  /** The container's volume mounts, prepared by the volume manager. */
  mounts?: BindMount[];
  /** The pod's cgroup (its containers' parent). */
  cgroupParent?: string;
}

/**
 * The namespaces of a pod's container: the sandbox's pinned ones, or the host's for
 * hostNetwork (network and UTS, as CRI runtimes), hostIPC and hostPID. Without hostPID each
 * container has a PID namespace of its own (shareProcessNamespace is not done).
 */
export function namespaceOptions(pod: KObject, sandbox: SandboxRecord): Pick<ContainerOptions, 'join' | 'network' | 'ipc' | 'uts' | 'pid'> {
  const spec = pod.spec ?? {};
  const ns = sandbox.namespaces;
  return {
    join: { ...(ns.net ? { network: ns.net } : {}), ...(ns.ipc ? { ipc: ns.ipc } : {}), ...(ns.uts ? { uts: ns.uts } : {}) },
    ...(spec.hostNetwork ? { network: 'host' as const, uts: 'host' as const } : {}),
    ...(spec.hostIPC ? { ipc: 'host' as const } : {}),
    ...(spec.hostPID ? { pid: 'host' as const } : {}),
  };
}

/** Engine options for container `c` of `pod`. */
export function containerOptions(pod: KObject, c: any, ctx: SpecContext): ContainerOptions {
  const sc = c.securityContext ?? {};
  const psc = pod.spec?.securityContext ?? {};
  const who = userOf(pod, c, ctx.image);
  checkNonRoot(pod, c, who);
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  const o: ContainerOptions = {
    image: ctx.imageId,
    name: ctx.name,
    ...commandOf(c, ctx.env),
    env: ctx.env,
    workdir: c.workingDir || undefined,
    user: who.user,
    // fsGroup joins the supplementary groups so that the process can use its volumes.
    groups: [...(psc.supplementalGroups ?? []), ...(psc.fsGroup !== undefined ? [psc.fsGroup] : [])],
    mounts: ctx.mounts,
    // A pod's containers share its UTS namespace; HOSTNAME in the environment is the pod's.
    hostname: ctx.sandbox.hostname,
    ...namespaceOptions(pod, ctx.sandbox),
    cgroupParent: ctx.cgroupParent,
    etcFiles: ctx.sandbox.files,
    labels: ctx.labels,
    readOnly: !!sc.readOnlyRootFilesystem,
    privileged: !!sc.privileged,
    capAdd: sc.capabilities?.add,
    capDrop: sc.capabilities?.drop,
    // Kubernetes sets no_new_privs only when asked to (allowPrivilegeEscalation: false).
    noNewPrivileges: sc.allowPrivilegeEscalation === false,
    seccomp: seccompOf(sc.seccompProfile ?? psc.seccompProfile),
    // stdin/tty stay with conmon for `kubectl attach` (streams/attach.ts).
    tty: !!c.tty,
    stdin: !!c.stdin,
    stdinOnce: !!c.stdinOnce,
    attachable: true,
  };
  if (limits.memory !== undefined) {
    const bytes = parseQuantity(limits.memory);
    // The engine refuses less than 6 MB, as runc would fail; say so as the kubelet would.
    if (bytes < 6 * 2 ** 20) throw new ConfigError(`memory limit ${limits.memory} is below the minimum of 6Mi`);
    o.memory = Math.floor(bytes);
  }
  if (limits.cpu !== undefined) o.cpus = Math.min(os.cpus().length, Math.max(0.01, milli(limits.cpu) / 1000));
  // With no request the API server defaults it to the limit; without either, BestEffort's 2.
  o.cpuShares = cpuShares(milli(requests.cpu ?? limits.cpu ?? 0));
  return o;
}

/** The engine's seccomp setting for a seccompProfile (Kubernetes' default is Unconfined). */
export function seccompOf(p: { type?: string; localhostProfile?: string } | undefined): string {
  if (p?.type === 'RuntimeDefault') return 'default';
  if (p?.type === 'Localhost' && p.localhostProfile) return p.localhostProfile;
  return 'unconfined';
}
