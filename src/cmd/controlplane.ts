/**
 * The control plane in one process, as k3s' server: the API server, then the scheduler and
 * the controllers as API clients of it (over HTTPS with the admin credentials, exactly as an
 * out-of-process controller would talk to it), and the built-in metrics-server, whose
 * metrics.k8s.io the API server serves as an aggregated API. `skiff server` and `skiff up`
 * start it; tests and benchmarks start it in-process. Components load lazily, so a CLI that
 * does not run a server never loads them. One Prometheus registry, made here, collects the
 * scheduler's, controllers' and metrics-server's metrics; the API server serves it at /metrics
 * with its own.
 */
import { ApiClient } from '../client/client.js';
import type { ApiServer, ApiServerOptions } from '../apiserver/server.js';
import { InformerFactory } from '../controllers/runtime/informer.js';
import { ApiEventRecorder } from '../controllers/runtime/events.js';
import { realClock, type Clock } from '../controllers/runtime/clock.js';
import { silentLog, type ControllerContext, type Logger } from '../controllers/runtime/controller.js';
import { Registry, collectDefaultMetrics } from 'prom-client';

/** Something started by the control plane. */
interface Running { stop(): void }

/** Tunables of the controllers (durations in ms). */
export interface ControllerTuning {
  /** A node whose Lease is older than this is NotReady (Kubernetes: 40-50 s). */
  nodeMonitorGracePeriodMs?: number;
  /** How often each HorizontalPodAutoscaler is evaluated (Kubernetes: 15 s). */
  hpaSyncPeriodMs?: number;
  /** How often the metrics-server scrapes the nodes (metrics-server: 15 s). */
  metricResolutionMs?: number;
}

/** A component: its name (for --disable) and how to start it. */
interface Component {
  name: string;
  /** The group it belongs to: `scheduler` or `controllers` (disable a whole group by that name). */
  group: 'scheduler' | 'controllers';
  start(ctx: ControllerContext, tuning: ControllerTuning): Promise<Running>;
}

/** A controller class as every controller module exports one. */
type ControllerClass = new (ctx: ControllerContext, tuning: ControllerTuning) => { run(): unknown; stop(): void };

/** A controller component whose class is loaded from `load()` on first use. */
function controller(name: string, load: () => Promise<ControllerClass>): Component {
  return { name, group: 'controllers', async start(ctx, tuning) { const C = await load(); const c = new C(ctx, tuning); c.run(); return c; } };
}

/** Every component, in start order. Each is imported on first use. */
const COMPONENTS: Component[] = [
  {
    name: 'scheduler', group: 'scheduler',
    async start(ctx) {
      const { Scheduler } = await import('../scheduler/scheduler.js');
      // Its events name it, as kube-scheduler's do (kubectl describe shows "default-scheduler").
      return new Scheduler({ ...ctx, recorder: new ApiEventRecorder(ctx.client, 'default-scheduler', ctx.clock) }).run();
    },
  },
  controller('replicaset', async () => (await import('../controllers/replicaset/replicaset.js')).ReplicaSetController),
  controller('deployment', async () => (await import('../controllers/deployment/deployment.js')).DeploymentController),
  controller('statefulset', async () => (await import('../controllers/statefulset/statefulset.js')).StatefulSetController),
  controller('daemonset', async () => (await import('../controllers/daemonset/daemonset.js')).DaemonSetController),
  controller('job', async () => (await import('../controllers/job/job.js')).JobController),
  controller('ttl-after-finished', async () => (await import('../controllers/job/ttl.js')).TTLAfterFinishedController),
  controller('cronjob', async () => (await import('../controllers/cronjob/cronjob.js')).CronJobController),
  controller('nodelifecycle', async () => (await import('../controllers/nodelifecycle/nodelifecycle.js')).NodeLifecycleController),
  controller('disruption', async () => (await import('../controllers/disruption/disruption.js')).DisruptionController),
  controller('resourcequota', async () => (await import('../controllers/resourcequota/resourcequota.js')).ResourceQuotaController),
  {
    // Its options are its own (metrics source, sync period), not the controllers' tuning.
    name: 'horizontalpodautoscaler', group: 'controllers',
    async start(ctx, tuning) {
      const { HorizontalPodAutoscalerController } = await import('../controllers/hpa/hpa.js');
      return new HorizontalPodAutoscalerController(ctx, { hpaSyncPeriodMs: tuning.hpaSyncPeriodMs }).run();
    },
  },
  controller('endpointslice', async () => (await import('../controllers/endpoints/endpointslice.js')).EndpointSliceController),
  controller('endpoints', async () => (await import('../controllers/endpoints/endpoints.js')).EndpointsController),
  controller('persistentvolume-binder', async () => (await import('../controllers/persistentvolume/binder.js')).PersistentVolumeBinder),
  controller('pvc-protection', async () => (await import('../controllers/persistentvolume/protection.js')).PVCProtectionController),
  controller('pv-protection', async () => (await import('../controllers/persistentvolume/protection.js')).PVProtectionController),
  // k3s' ServiceLB (disable with --disable servicelb, as k3s).
  controller('servicelb', async () => (await import('../controllers/servicelb/servicelb.js')).ServiceLBController),
];

/** The built-in metrics-server's name for --disable. */
const METRICS_SERVER = 'metrics-server';

/** Names accepted by --disable. */
export function componentNames(): string[] {
  return [...new Set(['scheduler', 'controllers', ...COMPONENTS.map((c) => c.name), METRICS_SERVER])];
}

/** How to run the control plane. */
export interface ControlPlaneOptions extends ApiServerOptions {
  /** Components (or groups) not to run. */
  disable?: string[];
  tuning?: ControllerTuning;
  /** Serve cluster DNS on this address (UDP and TCP), e.g. { host: '10.89.0.1', port: 53 }. */
  dns?: { host: string; port: number };
  clock?: Clock;
  log?: Logger;
}

/** A running control plane. */
export interface ControlPlane {
  api: ApiServer;
  /** An admin client of the API server (shared by the components). */
  client: ApiClient;
  /** Names of the components running. */
  components: string[];
  /** The scheduler's, controllers' and metrics-server's Prometheus metrics (served at the API server's /metrics). */
  metrics: Registry;
  /** Stops the components, then the API server. */
  stop(): Promise<void>;
}

/** Starts the API server and the enabled components. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const disable = new Set(opts.disable ?? []);
  for (const d of disable) {
    if (!componentNames().includes(d)) throw new Error(`unknown component ${JSON.stringify(d)} (known: ${componentNames().join(', ')})`);
  }
  const { startApiServer } = await import('../apiserver/server.js');
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const api = await startApiServer({ ...opts, metricsRegistries: [...(opts.metricsRegistries ?? []), metrics] });
  const client = await ApiClient.fromKubeconfig(api.kubeconfig);
  const clock = opts.clock ?? realClock;
  const log = opts.log ?? silentLog;
  const informers = new InformerFactory(client, { onError: (err) => log.debug({ err: String(err) }, 'watch failed') });
  const recorder = new ApiEventRecorder(client, 'skiff-controller-manager', clock);
  const ctx: ControllerContext = { client, informers, clock, recorder, log, metrics };
  const running: Running[] = [];
  const names: string[] = [];
  try {
    for (const c of COMPONENTS) {
      if (disable.has(c.name) || disable.has(c.group)) continue;
      running.push(await c.start(ctx, opts.tuning ?? {}));
      names.push(c.name);
    }
    if (!disable.has(METRICS_SERVER)) {
      const { MetricsServer } = await import('../metrics/server.js');
      const ms = new MetricsServer({
        informers, clock, log, registry: metrics, resolutionMs: opts.tuning?.metricResolutionMs,
        credentials: { cert: api.credentials.adminCert, key: api.credentials.adminKey },
      });
      const unregister = api.aggregate(ms.api);
      running.push({ stop() { unregister(); ms.stop(); } });
      ms.run();
      names.push(METRICS_SERVER);
    }
    if (opts.dns) {
      const { ClusterDns } = await import('../dns/server.js');
      const dns = new ClusterDns({ informers, host: opts.dns.host, port: opts.dns.port });
      await dns.start();
      running.push(dns);
      names.push(`dns (${opts.dns.host}:${dns.port})`);
    }
    informers.start();
  } catch (err) {
    for (const r of running) r.stop();
    informers.stop();
    client.close();
    await api.close();
    throw err;
  }
  return {
    api, client, components: names, metrics,
    async stop() {
      for (const r of running.reverse()) r.stop();
      informers.stop();
      await recorder.flush();
      client.close();
      await api.close();
    },
  };
}
