/**
 * `skiff up`: a whole single-node cluster in one process, as k3s' server: the control plane
 * (API server, scheduler, controllers), the service proxy and the node agent running this
 * machine's pods. It writes the admin kubeconfig, serves until SIGTERM/SIGINT and then stops
 * cleanly, leaving containers running for the next `skiff up` to adopt. `skiff down` stops a
 * running `skiff up` and removes every pod container, sandbox, pod cgroup and service rule it made (as
 * k3s' killall script); `skiff reset` also wipes the data root.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { action, rootOf, ExitError, durationFlag } from './context.js';
import { processAlive } from '../lib/process.js';

const pidFile = (root: string) => path.join(root, 'skiff-up.pid');

/** The cluster IP of kube-system/kube-dns, as kubeadm and k3s choose it. */
export const DNS_SERVICE_IP = '10.96.0.10';

/** The kube-dns Service (no selector) and its EndpointSlice pointing at this node's DNS server. */
async function publishDns(client: import('../client/client.js').ApiClient, ip: string, port: number): Promise<void> {
  const { R } = await import('../client/resources.js');
  const ports = [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: port }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: port }];
  // Labelled as CoreDNS' Service: `kubectl cluster-info` lists kube-system Services with
  // kubernetes.io/cluster-service=true, under their kubernetes.io/name.
  const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' };
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system', labels }, spec: { clusterIP: DNS_SERVICE_IP, ports } };
  // Read first: a create of an existing Service fails on its cluster IP (422) before its name (409).
  const curSvc = await client.find<any>(R.services, 'kube-system', 'kube-dns');
  if (!curSvc) await client.create(R.services, 'kube-system', svc);
  else if (JSON.stringify(curSvc.spec?.ports?.map((p: any) => p.targetPort)) !== JSON.stringify(ports.map((p) => p.targetPort))
    || Object.entries(labels).some(([k, v]) => curSvc.metadata.labels?.[k] !== v)) {
    await client.update(R.services, 'kube-system', { ...curSvc, metadata: { ...curSvc.metadata, labels: { ...curSvc.metadata.labels, ...labels } }, spec: { ...curSvc.spec, ports } });
  }
  const slice = {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'kube-dns-node', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } },
    addressType: 'IPv4', endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    ports: [{ name: 'dns', port, protocol: 'UDP' }, { name: 'dns-tcp', port, protocol: 'TCP' }],
  };
  const cur = await client.find<any>(R.endpointslices, 'kube-system', 'kube-dns-node');
  if (!cur) await client.create(R.endpointslices, 'kube-system', slice);
  else await client.update(R.endpointslices, 'kube-system', { ...cur, endpoints: slice.endpoints, ports: slice.ports });
}

async function runningPid(root: string): Promise<number | undefined> {
  const pid = Number((await fs.readFile(pidFile(root), 'utf8').catch(() => '')).trim());
  return pid > 0 && processAlive(pid) ? pid : undefined;
}

/** Registers this module's subcommands on the root program. */
export function register(program: Command): void {
  program
    .command('up')
    .description('run a single-node cluster: control plane, service proxy and node agent')
    .option('--listen <addr>', 'API server address (0.0.0.0: every address, as k3s)', '0.0.0.0')
    .option('--advertise-address <ip>', 'the API server address pods use (the kubernetes Service\'s endpoint; default: this node\'s IP, or --listen when it is one address)')
    .option('--port <port>', 'API server port (0: any free port)', '6443')
    .option('--node-name <name>', 'this node\'s name', os.hostname().toLowerCase())
    .option('--disable <names>', 'components not to run (see skiff server; also local-storage)', '')
    .option('--metric-resolution <duration>', 'how often the metrics-server scrapes the node', '15s')
    .option('--horizontal-pod-autoscaler-sync-period <duration>', 'how often each HorizontalPodAutoscaler is evaluated', '15s')
    .option('--sync-frequency <duration>', 'how often the node agent refreshes mounted configMaps, secrets, downward API files and tokens (the kubelet\'s)', '1m')
    .option('--streaming-connection-idle-timeout <duration>', 'exec, attach and port-forward connections without traffic this long are closed (the kubelet\'s)', '4h')
    .action(action(async (opts: { listen: string; advertiseAddress?: string; port: string; nodeName: string; disable: string; metricResolution: string; horizontalPodAutoscalerSyncPeriod: string; syncFrequency: string; streamingConnectionIdleTimeout: string }, cmd: Command) => {
      const root = rootOf(cmd);
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65535) throw new ExitError(`invalid --port ${JSON.stringify(opts.port)}: want 0-65535`);
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(opts.nodeName)) throw new ExitError(`invalid --node-name ${JSON.stringify(opts.nodeName)}: want a DNS subdomain`);
      const tuning = {
        metricResolutionMs: durationFlag('metric-resolution', opts.metricResolution),
        hpaSyncPeriodMs: durationFlag('horizontal-pod-autoscaler-sync-period', opts.horizontalPodAutoscalerSyncPeriod),
      };
      const volumeSyncMs = durationFlag('sync-frequency', opts.syncFrequency);
      const streamIdleTimeoutMs = durationFlag('streaming-connection-idle-timeout', opts.streamingConnectionIdleTimeout);
      const other = await runningPid(root);
      if (other) throw new ExitError(`a skiff up is already running on ${root} (pid ${other})`);
      await fs.mkdir(root, { recursive: true });
      const { startControlPlane } = await import('./controlplane.js');
      const { startAgentThread } = await import('./agent-thread.js');
      const { ServiceProxy } = await import('../proxy/proxier.js');
      const { InformerFactory } = await import('../controllers/runtime/informer.js');
      const { MemoryRecorder, ApiEventRecorder } = await import('../controllers/runtime/events.js');
      const { LocalPathProvisioner, PROVISIONER } = await import('../controllers/localpath/localpath.js');
      const { realClock } = await import('../controllers/runtime/clock.js');
      const { DEFAULT_POD_CIDR } = await import('../engine/network/config.js');
      const { internalIP } = await import('../agent/machine.js');
      const { ClusterDns } = await import('../dns/server.js');
      const { default: pino } = await import('pino');
      const log = pino({ level: process.env.SKIFF_LOG_LEVEL ?? 'info', base: undefined }, pino.destination(2));
      const disable = opts.disable.split(',').map((x) => x.trim()).filter(Boolean);
      // Each part started registers how to stop it; a failure part-way stops what did start
      // (its servers would otherwise keep this process alive).
      const stops: (() => unknown)[] = [];
      const stopAll = async () => { for (const f of stops.reverse()) await Promise.resolve().then(f).catch(() => {}); };
      // Pods reach the API server (the kubernetes Service) and cluster DNS on this node's address.
      const nodeIP = internalIP();
      const advertiseAddress = opts.advertiseAddress ?? (opts.listen === '0.0.0.0' || opts.listen === '::' ? nodeIP : opts.listen);
      try {
        // local-storage (the local-path provisioner) belongs to the node, as k3s' --disable local-storage.
        const cp = await startControlPlane({ root, listen: opts.listen, advertiseAddress, port, disable: disable.filter((d) => d !== 'local-storage'), log, tuning });
        stops.push(() => cp.stop());
        const informers = new InformerFactory(cp.client);
        stops.push(() => informers.stop());
        const proxy = new ServiceProxy({ client: cp.client, informers, clock: realClock, recorder: new MemoryRecorder(), log }, { podCidr: process.env.SKIFF_POD_CIDR ?? DEFAULT_POD_CIDR, nodeName: opts.nodeName });
        // Persistent volumes as k3s ships them: the local-path provisioner and its default StorageClass.
        const storage = disable.includes('local-storage') ? undefined : new LocalPathProvisioner(
          { client: cp.client, informers, clock: realClock, recorder: new ApiEventRecorder(cp.client, `${PROVISIONER}_${opts.nodeName}`, realClock), log },
          { dir: path.join(root, 'storage'), nodeName: opts.nodeName });
        informers.start();
        storage?.run();
        if (storage) stops.push(() => storage.stop());
        proxy.run();
        stops.push(() => proxy.stop());
        // Cluster DNS on this node's address, published as kube-system/kube-dns (10.96.0.10)
        // through the service proxy, and the nameserver of every ClusterFirst pod.
        const dns = new ClusterDns({ informers, host: nodeIP, port: Number(process.env.SKIFF_DNS_PORT ?? 53) });
        await dns.start();
        stops.push(() => dns.stop());
        await publishDns(cp.client, nodeIP, dns.port);
        // The node agent runs on its own thread (agent-thread.ts: one event loop for the control
        // plane and the agent was the bottleneck of many pods starting at once).
        const agent = await startAgentThread({ kubeconfig: cp.api.kubeconfig, nodeName: opts.nodeName, root, nodeIP, clusterDNS: [DNS_SERVICE_IP], logLevel: log.level, volumeSyncMs, streamIdleTimeoutMs });
        // Containers keep running when the agent stops: the next skiff up adopts them.
        stops.push(() => agent.stop());
        const { writeFileAtomic } = await import('../lib/atomic.js');
        await writeFileAtomic(pidFile(root), `${process.pid}\n`);
        stops.push(() => fs.rm(pidFile(root), { force: true }));
        process.stdout.write(`skiff: cluster up: API server ${cp.api.url}, node ${opts.nodeName}\nskiff: kubeconfig: ${cp.api.kubeconfig}\nskiff: try: skiff --root ${root} kubectl get nodes\n`);
      } catch (err) {
        await stopAll();
        throw err;
      }
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void stopAll().then(done, done);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    }));

  const down = async (root: string) => {
    const pid = await runningPid(root);
    if (pid) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 300 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await fs.rm(pidFile(root), { force: true });
    // Every pod container and sandbox the agent made (they carry the pod uid label), then the rules.
    const [{ openContainerEngine }, { openSandboxes }] = await Promise.all([import('./engine.js'), import('./sandboxes.js')]);
    const { L } = await import('../agent/labels.js');
    const engine = await openContainerEngine(root);
    for (const c of await engine.list()) if (c.options.labels?.[L.podUid]) await engine.remove(c.id, { force: true }).catch(() => {});
    const sandboxes = await openSandboxes(root);
    for (const s of await sandboxes.list()) if (s.labels?.[L.podUid]) await sandboxes.remove(s.id, { force: true }).catch(() => {});
    // The pod cgroups (empty now that their containers are gone) and their QoS parents.
    const { PodCgroups, podCgroupRoot } = await import('../agent/cgroups.js');
    await new PodCgroups(podCgroupRoot(root)).removeAll();
    // Pod volumes (tmpfs mounts included); the local-path volumes under <root>/storage stay, as k3s' do.
    const { cleanupPodVolumes } = await import('../agent/volumes/index.js');
    await cleanupPodVolumes(root);
    const { cleanupServiceRules } = await import('../proxy/proxier.js');
    await cleanupServiceRules();
    // The pod network's masquerade rules, unless pods of another data root still use the bridge.
    const { readNetwork } = await import('../engine/network/config.js');
    const { masqueradeOf, releaseMasquerade } = await import('../engine/network/masquerade.js');
    const masq = await readNetwork(root).then((n) => n && masqueradeOf(n), () => undefined);
    if (masq) await releaseMasquerade(masq);
  };

  program
    .command('down')
    .description('stop skiff up and remove every pod container, sandbox and service rule it made')
    .action(action(async (_o: unknown, cmd: Command) => { await down(rootOf(cmd)); }));

  program
    .command('reset')
    .description('skiff down, then delete the data root')
    .action(action(async (_o: unknown, cmd: Command) => {
      const root = rootOf(cmd);
      await down(root);
      await fs.rm(root, { recursive: true, force: true });
    }));
}
