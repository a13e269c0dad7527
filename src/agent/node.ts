/**
 * Node registration and heartbeats, as the kubelet does them: the Node object with the
 * machine's real capacity and allocatable, addresses and nodeInfo; the Ready, MemoryPressure,
 * DiskPressure and PIDPressure conditions from real measurements against the kubelet's hard
 * eviction defaults; a Lease in kube-node-lease renewed every 10 s (the heartbeat the node
 * lifecycle controller watches); and the status written when it changes, or at least every
 * minute (the kubelet's nodeStatusReportFrequency is 5 min; a minute keeps `kubectl get nodes`
 * fresher at no real cost).
 */
import type { ApiClient, KObject } from '../client/client.js';
import { ApiStatusError } from '../client/client.js';
import { R } from '../client/resources.js';
import { rfc3339, type Clock, type TimerHandle } from '../controllers/runtime/clock.js';
import type { EventRecorder } from '../controllers/runtime/events.js';
import { type MachineInfo, type MachineSample, goArch, internalIP, machineInfo, sample } from './machine.js';

/** The version the agent reports as kubeletVersion (the API it implements). */
export const KUBELET_VERSION = 'v1.33.0-skiff';
/** Skiff's runtime name and version, as containerRuntimeVersion's prefix. */
export const RUNTIME_VERSION = 'skiff://0.1.0';
/** Pods per node, the kubelet's default --max-pods. */
export const MAX_PODS = 110;

/** The kubelet's hard eviction defaults (Linux), which also decide the pressure conditions. */
export const EVICTION_HARD = {
  memoryAvailable: 100 * 2 ** 20,
  nodefsAvailable: 0.10,
  imagefsAvailable: 0.15,
  nodefsInodesFree: 0.05,
  /** Not a kubelet default (it has none for pids); 10 % keeps PIDPressure meaningful. */
  pidAvailable: 0.10,
};

/** Options of the node reporter. */
export interface NodeReporterOptions {
  client: ApiClient;
  nodeName: string;
  root: string;
  clock: Clock;
  runtimeName: string;
  runtimePath: string;
  /** Address to report as InternalIP (default: the first non-loopback IPv4 address). */
  nodeIP?: string;
  labels?: Record<string, string>;
  /** Lease renewal period (default 10 s, as the kubelet). */
  leaseMs?: number;
  /** Status sampling period (default 10 s) and the longest time between writes (60 s). */
  statusMs?: number;
  reportMs?: number;
  /** The port of the agent's stream server (status.daemonEndpoints; 0 when it serves none). */
  kubeletPort?: () => number;
  /** True while the runtime and the pod network work; false makes the node NotReady. */
  runtimeReady: () => Promise<{ ok: boolean; message?: string }>;
  /** The images present (for status.images). */
  images?: () => Promise<{ names: string[]; sizeBytes: number }[]>;
  /** Where the node's events go (Starting, NodeReady, NodeHasSufficientMemory, ...). */
  recorder?: EventRecorder;
  log?: (msg: string) => void;
}

/** The kubelet's event reason for a condition's state ("NodeHasSufficientMemory", "NodeReady"). */
export function conditionEventReason(c: NodeCondition): string {
  if (c.type === 'Ready') return c.status === 'True' ? 'NodeReady' : 'NodeNotReady';
  return c.reason.replace(/^Kubelet/, 'Node');
}

/** A condition as the node status carries it (times are filled in by the reporter). */
export interface NodeCondition { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string }

/** The pressure and Ready conditions for a sample, with the kubelet's reasons and messages. */
export function nodeConditions(s: MachineSample, runtime: { ok: boolean; message?: string }): NodeCondition[] {
  const memPressure = s.memoryAvailable < EVICTION_HARD.memoryAvailable;
  const diskPressure = s.fsTotal > 0 && (s.fsAvailable / s.fsTotal < Math.max(EVICTION_HARD.nodefsAvailable, EVICTION_HARD.imagefsAvailable)
    || (s.inodesTotal > 0 && s.inodesFree / s.inodesTotal < EVICTION_HARD.nodefsInodesFree));
  const pidPressure = s.pidMax > 0 && (s.pidMax - s.pids) / s.pidMax < EVICTION_HARD.pidAvailable;
  return [
    memPressure
      ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
      : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    diskPressure
      ? { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
      : { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    pidPressure
      ? { type: 'PIDPressure', status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' }
      : { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    runtime.ok
      ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }
      : { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: runtime.message ?? 'container runtime is down' },
  ];
}

/** Capacity and allocatable: allocatable is capacity minus the hard eviction thresholds (no reservations). */
export function nodeResources(s: MachineSample): { capacity: Record<string, string>; allocatable: Record<string, string> } {
  const ki = (b: number) => `${Math.max(0, Math.floor(b / 1024))}Ki`;
  const capacity = {
    cpu: String(s.cpus), memory: ki(s.memoryTotal), 'ephemeral-storage': ki(s.fsTotal), pods: String(MAX_PODS),
    'hugepages-1Gi': '0', 'hugepages-2Mi': '0',
  };
  const allocatable = {
    ...capacity,
    memory: ki(s.memoryTotal - EVICTION_HARD.memoryAvailable),
    // The kubelet reports allocatable storage in bytes.
    'ephemeral-storage': String(Math.max(0, Math.floor(s.fsTotal * (1 - EVICTION_HARD.nodefsAvailable)))),
  };
  return { capacity, allocatable };
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** Registers the Node and keeps its Lease and status current. */
export class NodeReporter {
  private info?: MachineInfo;
  private timers: TimerHandle[] = [];
  private stopped = false;
  private lastWrite = 0;
  private lastConditions = '';
  private conditions: any[] = [];
  /** The node's InternalIP (the pods' hostIP). */
  readonly ip: string;

  constructor(private readonly o: NodeReporterOptions) {
    this.ip = o.nodeIP ?? internalIP();
  }

  /** Registers (or adopts) the Node, writes its status and Lease, and starts the heartbeats. */
  async start(): Promise<void> {
    this.info = await machineInfo(this.o.runtimeName, this.o.runtimePath);
    await this.register();
    this.event('Normal', 'Starting', 'Starting kubelet.');
    await this.updateStatus(true);
    await this.renewLease();
    this.loop(this.o.leaseMs ?? 10_000, () => this.renewLease());
    this.loop(this.o.statusMs ?? 10_000, () => this.updateStatus(false));
  }

  /** Stops the heartbeats (the Node and Lease stay: the lifecycle controller notices silence). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
  }

  private loop(ms: number, fn: () => Promise<void>): void {
    const tick = () => {
      if (this.stopped) return;
      this.timers.push(this.o.clock.after(ms, () => {
        void fn().catch((err) => this.o.log?.(`node ${this.o.nodeName}: ${(err as Error).message}`)).finally(tick);
      }));
      if (this.timers.length > 8) this.timers.splice(0, this.timers.length - 8);
    };
    tick();
  }

  private async register(): Promise<void> {
    const name = this.o.nodeName;
    const labels = {
      'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': goArch(),
      'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': goArch(), ...this.o.labels,
    };
    const node: KObject = {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name, labels, annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
      spec: {},
    };
    try {
      await this.o.client.create(R.nodes, undefined, node);
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 409)) throw err;
      // Registered before (an earlier run): the kubelet reconciles its labels and keeps the rest.
      const cur = await this.o.client.get(R.nodes, undefined, name);
      this.conditions = cur.status?.conditions ?? [];
      await this.o.client.patch(R.nodes, undefined, name, { metadata: { labels } }, 'merge');
    }
  }

  /** Samples the machine and writes the status when it changed or the last write is old. */
  async updateStatus(force: boolean): Promise<void> {
    const s = await sample(this.o.root);
    const runtime = await this.o.runtimeReady().catch((err) => ({ ok: false, message: (err as Error).message }));
    const now = this.o.clock.now();
    const conds = nodeConditions(s, runtime);
    const key = JSON.stringify(conds);
    if (!force && key === this.lastConditions && now - this.lastWrite < (this.o.reportMs ?? 60_000)) return;
    const ts = rfc3339(now);
    this.conditions = conds.map((c) => {
      const prev = this.conditions.find((p: any) => p.type === c.type);
      if (!prev || prev.status !== c.status || prev.reason !== c.reason) {
        const reason = conditionEventReason(c);
        this.event('Normal', reason, `Node ${this.o.nodeName} status is now: ${reason}`);
      }
      return { ...c, lastHeartbeatTime: ts, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : ts };
    });
    const info = this.info!;
    const status = {
      ...nodeResources(s),
      conditions: this.conditions,
      addresses: [{ type: 'InternalIP', address: this.ip }, { type: 'Hostname', address: this.o.nodeName }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.kubeletPort?.() ?? 0 } },
      nodeInfo: {
        machineID: info.machineID, systemUUID: info.systemUUID, bootID: info.bootID, kernelVersion: info.kernelVersion,
        osImage: info.osImage, containerRuntimeVersion: `${RUNTIME_VERSION} (${info.runtime})`, kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: '', operatingSystem: info.operatingSystem, architecture: info.architecture,
      },
      images: ((await this.o.images?.().catch(() => [])) ?? []).slice(0, 50),
    };
    // A merge patch replaces lists whole: conditions, addresses and images are sent complete.
    await this.o.client.patch(R.nodes, undefined, this.o.nodeName, { status }, 'merge', { subresource: 'status' });
    this.lastConditions = key;
    this.lastWrite = now;
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    // The kubelet's node events name the node by its name (its UID field is the name too).
    this.o.recorder?.event({ apiVersion: 'v1', kind: 'Node', metadata: { name: this.o.nodeName, uid: this.o.nodeName } }, type, reason, message);
  }

  /** Renews (or creates) the node's Lease, owned by the Node so it goes when the Node goes. */
  async renewLease(): Promise<void> {
    const name = this.o.nodeName;
    const now = microTime(this.o.clock.now());
    const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: now };
    try {
      await this.o.client.patch(R.leases, 'kube-node-lease', name, { spec }, 'merge');
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 404)) throw err;
      const node = await this.o.client.get(R.nodes, undefined, name);
      await this.o.client.create(R.leases, 'kube-node-lease', {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
        metadata: { name, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid }] },
        spec: { ...spec, acquireTime: now },
      });
    }
  }
}
