/**
 * Simulated nodes, like kwok: a test and benchmark tool that registers Node objects with
 * capacity, keeps their Leases fresh, and plays the node agent's part for pods bound to them
 * (Running and Ready, then optionally Succeeded or Failed; deleted pods really deleted), so the
 * scheduler and controllers are exercised at scale without containers. Never the product's
 * node agent: that is src/agent, which runs real containers.
 *
 * A pod steers its simulated life with annotations:
 * - `sim.skiff.dev/ready-after-ms`: stays unready this long after it starts (default 0);
 * - `sim.skiff.dev/never-ready: "true"`: never becomes ready;
 * - `sim.skiff.dev/complete-after-ms`: its containers exit after this long, with
 * - `sim.skiff.dev/exit-code` (default 0): phase Succeeded or Failed by restartPolicy.
 */
import type { ApiClient, KObject } from '../client/client.js';
import { ApiStatusError } from '../client/client.js';
import { R } from '../client/resources.js';
import { Informer } from '../controllers/runtime/informer.js';
import { listWatch } from '../client/listwatch.js';
import { realClock, rfc3339, type Clock, type TimerHandle } from '../controllers/runtime/clock.js';

/** The shape of one simulated node. */
export interface SimNodeSpec {
  name: string;
  /** Capacity (= allocatable): cpu, memory, pods, ephemeral-storage. */
  capacity?: Record<string, string>;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  /** Images the node reports as present (image locality scoring). */
  images?: { names: string[]; sizeBytes: number }[];
}

/** Options of a simulator. */
export interface SimOptions {
  /** Lease renewal period (default 10 s, as the kubelet). */
  heartbeatMs?: number;
  clock?: Clock;
  /** Concurrent status writes (default 32). */
  concurrency?: number;
}

const DEFAULT_CAPACITY = { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** A set of simulated nodes and the pods bound to them. */
export class SimNodes {
  private nodes = new Map<string, { spec: SimNodeSpec; alive: boolean; ip: string; beat?: TimerHandle }>();
  private pods: Informer;
  private timers = new Map<string, TimerHandle[]>();
  private handled = new Map<string, string>();
  private inflight = 0;
  private waiting: (() => void)[] = [];
  private clock: Clock;
  private nextIp = 1;
  private stopped = false;

  constructor(private readonly client: ApiClient, private readonly opts: SimOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.pods = new Informer(listWatch(client, R.pods));
    this.pods.on({ add: (p) => this.onPod(p), update: (_o, p) => this.onPod(p), delete: (p) => this.forget(p) });
  }

  /** Starts watching pods (nodes can be added before or after). */
  async start(): Promise<void> {
    this.pods.start();
    await this.pods.synced;
  }

  /** Stops everything: timers, heartbeats and the pod watch. Node objects stay. */
  stop(): void {
    this.stopped = true;
    this.pods.stop();
    for (const n of this.nodes.values()) n.beat?.cancel();
    for (const ts of this.timers.values()) for (const t of ts) t.cancel();
  }

  /** Registers a node (Node object with status, and its Lease) and starts its heartbeat. */
  async addNode(spec: SimNodeSpec): Promise<KObject> {
    const ip = `10.${200 + (this.nextIp >> 16)}.${(this.nextIp >> 8) & 255}.${this.nextIp & 255}`;
    this.nextIp++;
    const capacity = { ...DEFAULT_CAPACITY, ...spec.capacity };
    const now = rfc3339(this.clock.now());
    const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    const node: KObject = {
      apiVersion: 'v1', kind: 'Node',
      metadata: {
        name: spec.name,
        labels: { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'type': 'sim', ...spec.labels },
        annotations: { 'sim.skiff.dev/simulated': 'true' },
      },
      spec: { ...(spec.taints?.length ? { taints: spec.taints } : {}) },
    };
    let created: KObject;
    try {
      created = await this.client.create(R.nodes, undefined, node);
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 409)) throw err;
      created = await this.client.get(R.nodes, undefined, spec.name);
    }
    const status = {
      capacity, allocatable: capacity,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: spec.name }],
      nodeInfo: {
        machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: 'simulated', containerRuntimeVersion: 'sim://1.0',
        kubeletVersion: 'v1.33.0-sim', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
      },
      images: spec.images ?? [],
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    };
    created = await this.client.patch(R.nodes, undefined, spec.name, { status }, 'merge', { subresource: 'status' });
    const entry = { spec, alive: true, ip };
    this.nodes.set(spec.name, entry);
    await this.renew(spec.name, true);
    this.schedule(spec.name);
    // Pods bound before the node existed are picked up now.
    for (const p of this.pods.list()) if (p.spec?.nodeName === spec.name) this.onPod(p);
    return created;
  }

  /** Registers `count` nodes named `${prefix}-0` … with the same shape. */
  async addNodes(count: number, prefix = 'sim', shape: Omit<SimNodeSpec, 'name'> = {}): Promise<void> {
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    for (let i = 0; i < names.length; i += 16) await Promise.all(names.slice(i, i + 16).map((name) => this.addNode({ ...shape, name })));
  }

  /** Stops a node's heartbeat and pod handling, as if its machine died. */
  stopNode(name: string): void {
    const n = this.nodes.get(name);
    if (!n) return;
    n.alive = false;
    n.beat?.cancel();
  }

  /** Brings a stopped node back. */
  async restartNode(name: string): Promise<void> {
    const n = this.nodes.get(name);
    if (!n || n.alive) return;
    n.alive = true;
    await this.renew(name, false);
    await this.client.patch(R.nodes, undefined, name, { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: rfc3339(this.clock.now()), lastTransitionTime: rfc3339(this.clock.now()) }] } }, 'strategic', { subresource: 'status' });
    this.schedule(name);
    for (const p of this.pods.list()) if (p.spec?.nodeName === name) this.onPod(p);
  }

  /** Deletes a node's Node and Lease objects and forgets it. */
  async removeNode(name: string): Promise<void> {
    this.stopNode(name);
    this.nodes.delete(name);
    await this.client.delete(R.nodes, undefined, name).catch(() => {});
    await this.client.delete(R.leases, 'kube-node-lease', name).catch(() => {});
  }

  /** Names of the registered nodes. */
  names(): string[] { return [...this.nodes.keys()]; }

  private schedule(name: string): void {
    const n = this.nodes.get(name);
    if (!n || !n.alive || this.stopped) return;
    n.beat = this.clock.after(this.opts.heartbeatMs ?? 10_000, () => {
      void this.renew(name, false).catch(() => {}).finally(() => this.schedule(name));
    });
  }

  private async renew(name: string, first: boolean): Promise<void> {
    const now = microTime(this.clock.now());
    const lease = {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: now, ...(first ? { acquireTime: now } : {}) },
    };
    try {
      await this.client.patch(R.leases, 'kube-node-lease', name, { spec: lease.spec }, 'merge');
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 404)) throw err;
      await this.client.create(R.leases, 'kube-node-lease', lease);
    }
  }

  private async write(fn: () => Promise<unknown>): Promise<void> {
    while (this.inflight >= (this.opts.concurrency ?? 32)) await new Promise<void>((r) => this.waiting.push(r));
    this.inflight++;
    try { await fn(); } catch { /* a pod gone meanwhile: the next event decides */ } finally {
      this.inflight--;
      this.waiting.shift()?.();
    }
  }

  private forget(pod: KObject): void {
    const uid = pod.metadata.uid;
    for (const t of this.timers.get(uid) ?? []) t.cancel();
    this.timers.delete(uid);
    this.handled.delete(uid);
  }

  private later(pod: KObject, ms: number, fn: () => void): void {
    const list = this.timers.get(pod.metadata.uid) ?? [];
    list.push(this.clock.after(ms, fn));
    this.timers.set(pod.metadata.uid, list);
  }

  private onPod(pod: KObject): void {
    const node = this.nodes.get(pod.spec?.nodeName);
    if (!node || !node.alive || this.stopped) return;
    const { namespace, name, uid } = pod.metadata;
    if (pod.metadata.deletionTimestamp) {
      if (this.handled.get(uid) === 'deleting') return;
      this.handled.set(uid, 'deleting');
      void this.write(() => this.client.delete(R.pods, namespace, name!, { gracePeriodSeconds: 0, preconditions: { uid } }));
      return;
    }
    if (this.handled.has(uid)) return;
    this.handled.set(uid, 'running');
    const a = pod.metadata.annotations ?? {};
    const start = this.clock.now();
    const readyAfter = Number(a['sim.skiff.dev/ready-after-ms'] ?? 0);
    const neverReady = a['sim.skiff.dev/never-ready'] === 'true';
    const podIp = `10.244.${(hash(uid) >> 8) & 255}.${(hash(uid) & 253) + 1}`;
    const status = (ready: boolean, terminated?: number) => {
      const now = rfc3339(this.clock.now());
      const phase = terminated === undefined ? 'Running' : terminated === 0 ? 'Succeeded' : 'Failed';
      const cond = (type: string, s: boolean) => ({ type, status: s ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: now });
      const containers = (pod.spec?.containers ?? []).map((c: any) => ({
        name: c.name, image: c.image, imageID: `sim://${c.image}`, containerID: `sim://${uid}/${c.name}`,
        ready: ready && terminated === undefined, started: terminated === undefined, restartCount: 0,
        state: terminated === undefined ? { running: { startedAt: rfc3339(start) } }
          : { terminated: { exitCode: terminated, reason: terminated === 0 ? 'Completed' : 'Error', startedAt: rfc3339(start), finishedAt: now } },
        lastState: {},
      }));
      return {
        status: {
          phase, hostIP: node.ip, hostIPs: [{ ip: node.ip }], podIP: podIp, podIPs: [{ ip: podIp }], startTime: rfc3339(start),
          qosClass: 'BestEffort',
          conditions: [cond('PodReadyToStartContainers', true), cond('Initialized', true), cond('Ready', ready && terminated === undefined),
            cond('ContainersReady', ready && terminated === undefined), cond('PodScheduled', true)],
          containerStatuses: containers,
        },
      };
    };
    const put = (ready: boolean, terminated?: number) => void this.write(() => this.client.patch(R.pods, namespace, name!, status(ready, terminated), 'merge', { subresource: 'status' }));
    put(!neverReady && readyAfter <= 0);
    if (!neverReady && readyAfter > 0) this.later(pod, readyAfter, () => put(true));
    if (a['sim.skiff.dev/complete-after-ms'] !== undefined) {
      const code = Number(a['sim.skiff.dev/exit-code'] ?? 0);
      this.later(pod, Number(a['sim.skiff.dev/complete-after-ms']), () => put(false, code));
    }
  }
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h;
}
