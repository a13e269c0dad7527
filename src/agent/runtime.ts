/**
 * The agent's view of the engine: containers and sandboxes grouped by the pod uid in their
 * labels (labels.ts), and the few operations a pod worker needs (make the pod's sandbox,
 * create and start a container, stop one with a grace period, remove). Also the relist that
 * the kubelet calls PLEG: a cheap periodic listing (a stat of each running container's exit
 * file) whose changes per pod wake that pod's worker.
 */
import { ContainerEngine } from '../engine/container/engine.js';
import type { ContainerOptions } from '../engine/container/spec.js';
import type { ContainerRecord } from '../engine/container/state.js';
import { SandboxManager, type CreateOptions, type SandboxRecord } from '../engine/network/sandbox.js';
import type { PortMapping } from '../engine/network/ports.js';
import type { KObject } from '../client/client.js';
import { recover as recoverNetwork } from '../engine/network/recover.js';
import type { DnsOptions } from '../engine/network/files.js';
import { validHostname } from '../engine/network/files.js';
import { L, type PodContainer, type PodRef, podContainerOf, podLabels, sandboxName } from './labels.js';

/** How a pod's sandbox is networked: host namespaces, published host ports, /etc/hosts header. */
export type SandboxNetwork = Pick<CreateOptions, 'host' | 'ports' | 'hostsHeader'>;

/** The kubelet's first line of a pod's /etc/hosts. */
export const HOSTS_HEADER = 'Kubernetes-managed hosts file.';
/** ... and of a pod's in the host's network (the node's /etc/hosts follows). */
export const HOSTS_HEADER_HOST_NETWORK = 'Kubernetes-managed hosts file (host network).';

/**
 * The sandbox networking of a pod: hostNetwork → the host's network and UTS namespaces;
 * hostIPC → the host's IPC; each container port with a hostPort → a portMappings entry for the
 * CNI portmap plugin (as CRI-O and containerd pass them), protocol in lower case, hostIP kept.
 * SCTP is left out (Skiff's port checks know TCP and UDP only).
 */
export function sandboxNetwork(pod: KObject): SandboxNetwork {
  const spec = pod.spec ?? {};
  const host = { ...(spec.hostNetwork ? { network: true } : {}), ...(spec.hostIPC ? { ipc: true } : {}) };
  const ports: PortMapping[] = [];
  if (!spec.hostNetwork) {
    const seen = new Set<string>();
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      for (const p of c?.ports ?? []) {
        if (!p?.hostPort) continue;
        const protocol = String(p.protocol ?? 'TCP').toLowerCase();
        if (protocol !== 'tcp' && protocol !== 'udp') continue;
        const key = `${p.hostIP || ''}:${p.hostPort}/${protocol}`;
        if (seen.has(key)) continue;
        seen.add(key);
        ports.push({ hostPort: p.hostPort, containerPort: p.containerPort, protocol, ...(p.hostIP && p.hostIP !== '0.0.0.0' ? { hostIP: p.hostIP } : {}) });
      }
    }
  }
  return {
    ...(Object.keys(host).length ? { host } : {}),
    ...(ports.length ? { ports } : {}),
    hostsHeader: spec.hostNetwork ? HOSTS_HEADER_HOST_NETWORK : HOSTS_HEADER,
  };
}

/** What the engine holds for one pod. */
export interface PodRuntimeState {
  containers: PodContainer[];
  sandboxes: SandboxRecord[];
}

/** The hostname of a pod: spec.hostname, else its name cut to 63 characters (as the kubelet). */
export function podHostname(pod: { metadata: { name?: string }; spec?: { hostname?: string } }): string {
  let h = pod.spec?.hostname || pod.metadata.name || 'pod';
  if (h.length > 63) h = h.slice(0, 63);
  h = h.replace(/[-.]+$/, '');
  return validHostname(h) ? h : 'pod';
}

/** The engine as the node agent uses it. */
export class PodRuntime {
  /**
   * The container and sandbox IDs of each pod (by uid): a pod's sync reads only its own
   * records instead of every record on the node (with 30 pods starting at once, full relists
   * per sync were most of the agent's file reads). Relists only add to it; IDs leave when this
   * runtime removes them or their record is found gone, so a relist racing a create can never
   * hide the new container from its pod.
   */
  private readonly index = new Map<string, { containers: Set<string>; sandboxes: Set<string> }>();

  constructor(readonly engine: ContainerEngine, readonly sandboxes: SandboxManager, readonly node: string) {}

  private entry(uid: string) {
    let e = this.index.get(uid);
    if (!e) this.index.set(uid, (e = { containers: new Set(), sandboxes: new Set() }));
    return e;
  }

  private forget(kind: 'containers' | 'sandboxes', id: string): void {
    for (const [uid, e] of this.index) {
      if (e[kind].delete(id) && !e.containers.size && !e.sandboxes.size) this.index.delete(uid);
    }
  }

  /** Every container and sandbox of the agent's pods, by pod uid (exits seen are recorded first). */
  async relist(): Promise<Map<string, PodRuntimeState>> {
    const out = new Map<string, PodRuntimeState>();
    const get = (uid: string) => out.get(uid) ?? out.set(uid, { containers: [], sandboxes: [] }).get(uid)!;
    const [recs, sbs] = await Promise.all([this.engine.list(true, true), this.sandboxes.list()]);
    for (const r of recs) {
      const pc = podContainerOf(r);
      if (pc && r.options.labels?.[L.node] === this.node) {
        get(r.options.labels![L.podUid]).containers.push(pc);
        this.entry(r.options.labels![L.podUid]).containers.add(r.id);
      }
    }
    for (const s of sbs) {
      const uid = s.labels?.[L.podUid];
      if (uid && s.labels[L.node] === this.node) {
        get(uid).sandboxes.push(s);
        this.entry(uid).sandboxes.add(s.id);
      }
    }
    return out;
  }

  /** What the engine holds for one pod: only its own records are read. */
  async state(uid: string): Promise<PodRuntimeState> {
    const e = this.index.get(uid);
    if (!e) return { containers: [], sandboxes: [] };
    const [recs, sbs] = await Promise.all([this.engine.records([...e.containers], true, true), this.sandboxes.records([...e.sandboxes])]);
    const found = new Set([...recs.map((r) => r.id), ...sbs.map((s) => s.id)]);
    for (const id of e.containers) if (!found.has(id)) e.containers.delete(id);
    for (const id of e.sandboxes) if (!found.has(id)) e.sandboxes.delete(id);
    const containers = recs.map(podContainerOf).filter((c): c is PodContainer => !!c);
    return { containers, sandboxes: sbs };
  }

  /**
   * Creates a pod's sandbox: its hostname, the CNI network (with the pod's host ports) or the
   * host's network, the pod's labels.
   */
  async createSandbox(pod: PodRef & { hostname: string }, dns?: DnsOptions, net: SandboxNetwork = {}): Promise<SandboxRecord> {
    const rec = await this.sandboxes.create({
      name: sandboxName(pod), hostname: pod.hostname, labels: podLabels(pod, this.node), dns,
      ...(net.ports?.length ? { ports: net.ports } : {}), ...(net.host ? { host: net.host } : {}), ...(net.hostsHeader ? { hostsHeader: net.hostsHeader } : {}),
    });
    this.entry(pod.uid).sandboxes.add(rec.id);
    return rec;
  }

  /** Removes a sandbox (its containers must be gone). */
  async removeSandbox(id: string): Promise<void> {
    await this.sandboxes.remove(id, { force: true }).catch((err) => {
      if (!/no such pod/.test((err as Error).message)) throw err;
    });
    this.forget('sandboxes', id);
  }

  /** Stops a sandbox (network released, record kept: a finished pod's). */
  async stopSandbox(id: string): Promise<void> {
    await this.sandboxes.stop(id).catch(() => {});
  }

  /** Creates and starts a container; a failed start removes what was made. */
  async run(o: ContainerOptions): Promise<ContainerRecord> {
    const rec = await this.create(o);
    try {
      return await this.engine.start(rec.id);
    } catch (err) {
      await this.engine.remove(rec.id, { force: true }).catch(() => {});
      throw err;
    }
  }

  /** Creates a container (not started). */
  async create(o: ContainerOptions): Promise<ContainerRecord> {
    const rec = await this.engine.create(o);
    const uid = o.labels?.[L.podUid];
    if (uid) this.entry(uid).containers.add(rec.id);
    return rec;
  }

  /** Starts a created container. */
  start(id: string): Promise<ContainerRecord> {
    return this.engine.start(id);
  }

  /** Stops a container: its stop signal, SIGKILL after `graceSeconds`. */
  async stop(id: string, graceSeconds: number): Promise<void> {
    await this.engine.stop(id, graceSeconds).catch(() => {});
  }

  /** Removes a container (killing it when it still runs). */
  async remove(id: string): Promise<void> {
    await this.engine.remove(id, { force: true }).catch((err) => {
      if (!/no such container/.test((err as Error).message)) throw err;
    });
    this.forget('containers', id);
  }

  /** Recovers what a crash left half-done in the engine and the network. */
  async recover(): Promise<void> {
    await this.engine.recover().catch(() => {});
    await recoverNetwork(this.sandboxes).catch(() => {});
  }
}
