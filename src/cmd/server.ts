/**
 * `skiff server`: runs the control plane (the Kubernetes API server, the scheduler and the
 * controllers; `--disable` leaves some out). Prints where the admin kubeconfig is, serves until
 * SIGTERM/SIGINT, then stops cleanly (components, listener, watches, store).
 */
import type { Command } from 'commander';
import { action, rootOf, ExitError, durationFlag } from './context.js';

/** Registers this module's subcommands on the root program. */
export function register(program: Command): void {
  program
    .command('server')
    .description('run the control plane: API server, scheduler and controllers')
    .option('--listen <addr>', 'address to listen on', '127.0.0.1')
    .option('--advertise-address <ip>', 'the address published as the kubernetes Service\'s endpoint (default: --listen, or 127.0.0.1 for 0.0.0.0)')
    .option('--port <port>', 'port to listen on (0: any free port)', '6443')
    .option('--store <url>', 'store: sqlite://PATH (default <root>/server/state.db), etcd://HOST:PORT or memory://')
    .option('--disable <names>', 'components not to run, comma-separated: scheduler, controllers, or one controller', '')
    .option('--node-monitor-grace-period <seconds>', 'a node whose lease is older than this is NotReady', '40')
    .option('--dns-listen <host:port>', 'serve cluster DNS (cluster.local) on this address')
    .option('--metric-resolution <duration>', 'how often the metrics-server scrapes the nodes', '15s')
    .option('--horizontal-pod-autoscaler-sync-period <duration>', 'how often each HorizontalPodAutoscaler is evaluated', '15s')
    .option('--log-level <level>', 'component log level (debug, info, warn, error, silent)', 'info')
    .action(action(async (opts: { listen: string; advertiseAddress?: string; port: string; store?: string; disable: string; nodeMonitorGracePeriod: string; logLevel: string; dnsListen?: string; metricResolution: string; horizontalPodAutoscalerSyncPeriod: string }, cmd: Command) => {
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65535) throw new ExitError(`invalid --port ${JSON.stringify(opts.port)}: want 0-65535`);
      const grace = Number(opts.nodeMonitorGracePeriod);
      if (!(grace > 0)) throw new ExitError(`invalid --node-monitor-grace-period ${JSON.stringify(opts.nodeMonitorGracePeriod)}: want seconds > 0`);
      // Lazy: `skiff --help` and other subcommands never load the server.
      const { startControlPlane, componentNames } = await import('./controlplane.js');
      const disable = opts.disable.split(',').map((x) => x.trim()).filter(Boolean);
      const unknown = disable.filter((d) => !componentNames().includes(d));
      if (unknown.length) throw new ExitError(`unknown component ${unknown.join(', ')} in --disable (known: ${componentNames().join(', ')})`);
      const { default: pino } = await import('pino');
      const log = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
      let dns: { host: string; port: number } | undefined;
      if (opts.dnsListen !== undefined) {
        const m = /^(.+):(\d+)$/.exec(opts.dnsListen);
        if (!m || Number(m[2]) > 65535) throw new ExitError(`invalid --dns-listen ${JSON.stringify(opts.dnsListen)}: want HOST:PORT`);
        dns = { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
      }
      const tuning = {
        nodeMonitorGracePeriodMs: grace * 1000,
        metricResolutionMs: durationFlag('metric-resolution', opts.metricResolution),
        hpaSyncPeriodMs: durationFlag('horizontal-pod-autoscaler-sync-period', opts.horizontalPodAutoscalerSyncPeriod),
      };
      const cp = await startControlPlane({ root: rootOf(cmd), listen: opts.listen, advertiseAddress: opts.advertiseAddress, port, store: opts.store, disable, log, dns, tuning });
      const server = cp.api;
      process.stdout.write(`skiff: API server listening on ${server.url}\nskiff: kubeconfig: ${server.kubeconfig}\nskiff: running ${cp.components.join(', ') || 'no controllers'}\n`);
      await new Promise<void>((done) => {
        const stop = () => { process.off('SIGTERM', stop); process.off('SIGINT', stop); void cp.stop().then(done, done); };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    }));
}
