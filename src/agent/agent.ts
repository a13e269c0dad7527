/**
 * The node agent, Skiff's kubelet: a client of the API server only (ApiClient and an
 * informer), running the pods bound to its node with Skiff's engine — pod sandboxes
 * (namespaces + CNI), images, containers under conmon. It registers the Node and keeps its
 * Lease and status (node.ts), and runs each pod with a worker (pods.ts, worker.ts).
 * `stop()` leaves every container running: the next `start()` adopts them.
 */
import type { ApiClient, KObject } from '../client/client.js';
import { realClock, type Clock } from '../controllers/runtime/clock.js';
import { ApiEventRecorder } from '../controllers/runtime/events.js';
import { ContainerEngine } from '../engine/container/engine.js';
import { imagesInUse } from '../engine/container/usage.js';
import { ImageStore } from '../engine/image/store.js';
import { loadNetwork, type DefaultNetworkOptions } from '../engine/network/config.js';
import { SandboxManager } from '../engine/network/sandbox.js';
import { hostResolvConf, parseResolvConf } from '../engine/network/files.js';
import { podDns } from './dns.js';
import { Backoff } from './backoff.js';
import { apiSources } from './env.js';
import { listWatch } from '../client/listwatch.js';
import { R } from '../client/resources.js';
import { Informer } from '../controllers/runtime/informer.js';
import { ImagePuller } from './images.js';
import { NodeReporter } from './node.js';
import { PodManager } from './pods.js';
import { AgentServer } from './server.js';
import { PodRuntime } from './runtime.js';
import { engineExec } from './checks.js';
import { ProbeManager, probeCheck } from './probes.js';
import { StatsProvider } from './metrics/stats.js';
import { KubeletMetrics } from './metrics/kubelet.js';
import { metricsRoutes } from './metrics/routes.js';
import { podVolumes } from './volumes/index.js';
import type { VolumeManager } from './volumes/manager.js';
import { PodCgroups, podCgroupRoot } from './cgroups.js';

/** Options of a node agent. */
export interface NodeAgentOptions {
  client: ApiClient;
  nodeName: string;
  /** The engine's data root (images, containers, sandboxes). */
  root: string;
  /** The pod network's default conflist knobs (name, bridge, subnet) on first use. */
  network?: DefaultNetworkOptions;
  /** InternalIP to report (default: the first non-loopback IPv4 address). */
  nodeIP?: string;
  labels?: Record<string, string>;
  /** Cluster DNS for pods with dnsPolicy ClusterFirst (without it they get the host's resolvers, as dnsPolicy Default). */
  clusterDNS?: string[];
  clusterDomain?: string;
  clock?: Clock;
  /** Periods: relist (1 s), lease (10 s), node status (10 s). */
  relistMs?: number;
  leaseMs?: number;
  statusMs?: number;
  /** Restart back-off figures (10 s doubling to 5 min). */
  backoff?: { initialMs?: number; maxMs?: number };
  log?: (msg: string) => void;
  /** How often mounted configMaps, secrets, downward API files and tokens are refreshed (60 s, the kubelet's sync period). */
  volumeSyncMs?: number;
  /** The stream server (logs through the API server): where to listen (default port 10250), or false for none. */
  serve?: { host?: string; port?: number } | false;
  /** Exec, attach and port-forward connections idle this long are closed (4 h, the kubelet's --streaming-connection-idle-timeout). */
  streamIdleTimeoutMs?: number;
  /**
   * The root of the pod cgroups (default `/skiff/kubepods-<hash of root>`, cgroups.ts), or false
   * for none (containers under the engine's default parent).
   */
  cgroupRoot?: string | false;
}

/** Skiff's kubelet. */
export class NodeAgent {
  readonly engine: ContainerEngine;
  readonly sandboxes: SandboxManager;
  readonly runtime: PodRuntime;
  readonly node: NodeReporter;
  readonly pods: PodManager;
  readonly probes: ProbeManager;
  /** Resource statistics from the cgroups (served at /metrics/resource and /stats/summary). */
  readonly stats: StatsProvider;
  /** The agent's own Prometheus metrics (served at /metrics). */
  readonly metrics: KubeletMetrics;
  readonly volumes: VolumeManager;
  /** The pod-level cgroups (undefined when turned off). */
  readonly cgroups?: PodCgroups;
  /** Every namespace's Services (the kubelet's service lister), for the Service environment variables. */
  readonly services: Informer;
  private readonly recorder: ApiEventRecorder;
  private allocatable?: Record<string, string>;
  private server?: AgentServer;

  constructor(private readonly opts: NodeAgentOptions) {
    const clock = opts.clock ?? realClock;
    const log = opts.log ?? (() => {});
    const images = new ImageStore(opts.root, { imagesInUse: () => imagesInUse(opts.root) });
    this.engine = new ContainerEngine(opts.root, { images });
    this.sandboxes = new SandboxManager(opts.root, { network: opts.network });
    this.runtime = new PodRuntime(this.engine, this.sandboxes, opts.nodeName);
    this.recorder = new ApiEventRecorder(opts.client, 'kubelet', clock, opts.nodeName);
    this.node = new NodeReporter({
      client: opts.client, nodeName: opts.nodeName, root: opts.root, clock, nodeIP: opts.nodeIP, labels: opts.labels,
      runtimeName: this.engine.runtime.name, runtimePath: this.engine.runtime.path,
      leaseMs: opts.leaseMs, statusMs: opts.statusMs, log, recorder: this.recorder,
      runtimeReady: () => this.runtimeReady(),
      kubeletPort: () => this.server?.port ?? 0,
      images: async () => {
        const out = [];
        for (const r of (await images.list()).filter((x) => x.name)) {
          const resolved = await images.resolve(r).catch(() => undefined);
          if (resolved) out.push({ names: [r.name], sizeBytes: images.imageSize(resolved) });
        }
        return out;
      },
    });
    const domain = opts.clusterDomain ?? 'cluster.local';
    this.volumes = podVolumes({ client: opts.client, root: opts.root, recorder: this.recorder, clock, log, allocatable: () => this.allocatable, syncMs: opts.volumeSyncMs });
    this.probes = new ProbeManager({
      clock, check: probeCheck(engineExec(this.engine)),
      event: (pod, type, reason, message) => this.recorder.event({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }, type, reason, message),
      changed: (uid) => this.pods.kick(uid),
    });
    // Every namespace's Services, for the Service environment variables of new containers.
    this.services = new Informer(listWatch(opts.client, R.services), { onError: (err) => log(`service watch: ${(err as Error).message}`) });
    if (opts.cgroupRoot !== false) this.cgroups = new PodCgroups(opts.cgroupRoot ?? podCgroupRoot(opts.root));
    this.pods = new PodManager({
      client: opts.client, runtime: this.runtime, images: new ImagePuller(images, opts.root, () => clock.now()),
      sources: apiSources(opts.client, this.services), recorder: this.recorder, backoff: new Backoff(opts.backoff), clock,
      nodeName: opts.nodeName, hostIP: () => this.node.ip, allocatable: () => this.allocatable, log, probes: this.probes, volumes: this.volumes,
      cgroups: this.cgroups,
      // resolv.conf per dnsPolicy, from the node's own resolv.conf read when the sandbox is made
      // (a pod in the host's network reaches the node's loopback resolvers too).
      dns: async (pod: KObject) => podDns(pod, parseResolvConf(await hostResolvConf(), { keepLoopback: !!pod.spec?.hostNetwork }), { clusterDNS: opts.clusterDNS, clusterDomain: domain }),
    }, { relistMs: opts.relistMs });
    this.stats = new StatsProvider(this.runtime);
    this.metrics = new KubeletMetrics({ nodeName: opts.nodeName, runtime: this.runtime, pods: this.pods.informer, now: () => clock.now() });
  }

  /** Whether pods can run: the OCI runtime answers and the pod network's config loads. */
  private async runtimeReady(): Promise<{ ok: boolean; message?: string }> {
    try {
      await loadNetwork(this.opts.root, this.opts.network);
    } catch (err) {
      return { ok: false, message: `container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:${(err as Error).message}` };
    }
    return { ok: true };
  }

  /** Registers the node, recovers and adopts the pods' containers, and starts running pods. */
  async start(): Promise<void> {
    if (this.opts.serve !== false) {
      const routes = metricsRoutes({ nodeName: this.opts.nodeName, stats: this.stats, registry: this.metrics.registry, log: this.opts.log });
      this.server = new AgentServer({ root: this.opts.root, nodeName: this.opts.nodeName, engine: this.engine, sandboxes: this.sandboxes, clientCA: this.opts.client.creds.ca ?? '', routes, streamIdleTimeoutMs: this.opts.streamIdleTimeoutMs, ...(this.opts.serve ?? {}) });
      await this.server.start();
    }
    await this.node.start();
    const n = await this.opts.client.get({ group: '', version: 'v1', resource: 'nodes' }, undefined, this.opts.nodeName).catch(() => undefined);
    this.allocatable = n?.status?.allocatable;
    this.services.start();
    await this.pods.start();
    // Volumes of pods deleted while the agent was away (their containers went in pods.start()).
    await this.volumes.removeOrphans(new Set(this.pods.informer.list().map((p) => p.metadata.uid)));
    this.volumes.start();
  }

  /** Stops watching and heartbeating; every container keeps running, to be adopted later. */
  async stop(): Promise<void> {
    await this.server?.stop();
    this.node.stop();
    this.probes.stop();
    this.volumes.stop();
    this.services.stop();
    await this.pods.stop();
    // Empty pod and QoS cgroups go; those of running containers stay for the next start.
    await this.cgroups?.removeAll().catch(() => {});
    await this.recorder.flush();
  }
}
