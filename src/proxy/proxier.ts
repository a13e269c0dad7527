/**
 * The service proxy (kube-proxy in iptables mode): watches Services and EndpointSlices and
 * keeps Skiff's filter and nat chains equal to what rules.ts computes, applying each change as
 * one atomic `iptables-restore --noflush` of Skiff's chains only (other tables' and tools'
 * rules are left alone), at most every `minSyncMs`; it serves the health check node ports of
 * Local LoadBalancers (healthcheck.ts). `cleanup()` removes every chain and jump it made; a
 * start after a crash rewrites the chains and deletes the ones no longer wanted.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

import type { KObject } from '../client/client.js';
import { R } from '../client/resources.js';
import { LoopController, type ControllerContext, type SyncResult } from '../controllers/runtime/controller.js';
import type { Informer } from '../controllers/runtime/informer.js';
import { HealthCheckServers, type HealthCheck } from './healthcheck.js';
import { JUMPS, localReadyEndpoints, proxyRules } from './rules.js';

const run = promisify(execFile);

/** Options of the proxy. */
export interface ProxyOptions {
  /** The pod CIDR (traffic from elsewhere to a cluster IP is masqueraded). */
  podCidr: string;
  /** This node's name: endpoints on it are local (traffic policies Local). */
  nodeName: string;
  /** Least time between two syncs (default 100 ms). */
  minSyncMs?: number;
  /** Serve health check node ports (default true). */
  healthChecks?: boolean;
}

async function restore(input: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const p = spawn('iptables-restore', ['--noflush', '-w', '5'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`iptables-restore: ${err.trim() || `exit ${code}`}`))));
    p.stdin.end(input);
  });
}

/** Skiff's service chains now in `table` (nat by default). (The pod networks' masquerade chains are SKIFFNET-*, not the proxy's.) */
export async function skiffChains(table: 'nat' | 'filter' = 'nat'): Promise<string[]> {
  const { stdout } = await run('iptables', ['-w', '5', '-t', table, '-S']);
  return stdout.split('\n').map((l) => /^-N (SKIFF-\S+)/.exec(l)?.[1]).filter((x): x is string => !!x);
}

/** Keeps the filter and nat tables in line with Services and EndpointSlices. */
export class ServiceProxy extends LoopController {
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly health: HealthCheckServers;
  private last = 0;
  /** Syncs applied (tests). */
  syncs = 0;

  constructor(ctx: ControllerContext, private readonly o: ProxyOptions) {
    super('serviceproxy', ctx, 1);
    this.services = ctx.informers.for(R.services);
    this.slices = ctx.informers.for(R.endpointslices);
    this.slices.addIndex('service', (s) => (s.metadata.labels?.['kubernetes.io/service-name'] ? [`${s.metadata.namespace}/${s.metadata.labels['kubernetes.io/service-name']}`] : []));
    this.health = new HealthCheckServers({ log: (m) => ctx.log.warn({}, m) });
    const kick = () => this.loop.enqueue('all');
    for (const inf of [this.services, this.slices]) inf.on({ add: kick, update: kick, delete: kick });
  }

  /** Starts: the first sync installs the jumps and replaces whatever a previous run left. */
  override run(): this {
    super.run();
    this.loop.enqueue('all');
    return this;
  }

  /** Stops syncing and closes the health check ports (the rules stay, as kube-proxy's). */
  override stop(): void {
    super.stop();
    this.health.stop();
  }

  /** Health check ports served (tests). */
  healthCheckPorts(): number[] {
    return this.health.ports();
  }

  private slicesOf(svc: KObject): KObject[] {
    return this.slices.byIndex('service', `${svc.metadata.namespace}/${svc.metadata.name}`);
  }

  protected async sync(): Promise<SyncResult> {
    if (!this.services.hasSynced || !this.slices.hasSynced) return { requeueAfterMs: 100 };
    const wait = this.last + (this.o.minSyncMs ?? 100) - this.ctx.clock.now();
    if (wait > 0) return { requeueAfterMs: wait };
    this.last = this.ctx.clock.now();
    await run('sysctl', ['-qw', 'net.ipv4.conf.all.route_localnet=1']).catch(() => {});
    const services = this.services.list();
    await restore(proxyRules({ services, slicesOf: (s) => this.slicesOf(s), podCidr: this.o.podCidr, nodeName: this.o.nodeName, existingNat: await skiffChains('nat') }));
    for (const [table, chain, rule] of JUMPS) {
      const ok = await run('iptables', ['-w', '5', '-t', table, '-C', chain, ...rule]).then(() => true, () => false);
      if (!ok) await run('iptables', ['-w', '5', '-t', table, '-I', chain, '1', ...rule]);
    }
    if (this.o.healthChecks !== false) {
      const want = new Map<number, HealthCheck>();
      for (const svc of services) {
        const port = svc.spec?.healthCheckNodePort;
        if (port && svc.spec?.type === 'LoadBalancer' && svc.spec?.externalTrafficPolicy === 'Local') {
          want.set(port, { namespace: svc.metadata.namespace!, name: svc.metadata.name!, localEndpoints: localReadyEndpoints(svc, this.slicesOf(svc), this.o.nodeName) });
        }
      }
      await this.health.sync(want);
    }
    this.syncs++;
    return undefined;
  }
}

/** Removes every chain and jump the proxy made, in both tables (skiff down, tests). */
export async function cleanupServiceRules(): Promise<void> {
  for (const [table, chain, rule] of JUMPS) {
    while (await run('iptables', ['-w', '5', '-t', table, '-D', chain, ...rule]).then(() => true, () => false));
  }
  const sections: string[] = [];
  for (const table of ['filter', 'nat'] as const) {
    const chains = await skiffChains(table);
    if (chains.length) sections.push(`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
  }
  if (sections.length) await restore([...sections, ''].join('\n'));
}
