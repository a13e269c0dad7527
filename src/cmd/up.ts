/**
 * `skiff up`: a whole single-node cluster in one process, as k3s' server: the control plane
 * (API server, scheduler, controllers), the service proxy and the node agent running this
 * machine's pods. It writes the admin kubeconfig, serves until SIGTERM/SIGINT and then stops
 * cleanly, leaving containers running for the next `skiff up` to adopt. `skiff down` stops a
 * running `skiff up` and removes every pod container, sandbox and service rule it made (as
 * k3s' killall script); `skiff reset` also wipes the data root.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { action, rootOf, ExitError } from './context.js';
import { writeFileAtomic } from '../lib/atomic.js';
import { processAlive } from '../lib/process.js';

const pidFile = (root: string) => path.join(root, 'skiff-up.pid');

async function runningPid(root: string): Promise<number | undefined> {
  const pid = Number((await fs.readFile(pidFile(root), 'utf8').catch(() => '')).trim());
  return pid > 0 && processAlive(pid) ? pid : undefined;
}

/** Registers this module's subcommands on the root program. */
export function register(program: Command): void {
  program
    .command('up')
    .description('run a single-node cluster: control plane, service proxy and node agent')
    .option('--listen <addr>', 'API server address', '127.0.0.1')
    .option('--port <port>', 'API server port (0: any free port)', '6443')
    .option('--node-name <name>', 'this node\'s name', os.hostname().toLowerCase())
    .option('--disable <names>', 'control-plane components not to run (see skiff server)', '')
    .action(action(async (opts: { listen: string; port: string; nodeName: string; disable: string }, cmd: Command) => {
      const root = rootOf(cmd);
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65535) throw new ExitError(`invalid --port ${JSON.stringify(opts.port)}: want 0-65535`);
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(opts.nodeName)) throw new ExitError(`invalid --node-name ${JSON.stringify(opts.nodeName)}: want a DNS subdomain`);
      const other = await runningPid(root);
      if (other) throw new ExitError(`a skiff up is already running on ${root} (pid ${other})`);
      await fs.mkdir(root, { recursive: true });
      const { startControlPlane } = await import('./controlplane.js');
      const { NodeAgent } = await import('../agent/agent.js');
      const { ServiceProxy } = await import('../proxy/proxier.js');
      const { InformerFactory } = await import('../controllers/runtime/informer.js');
      const { MemoryRecorder } = await import('../controllers/runtime/events.js');
      const { realClock } = await import('../controllers/runtime/clock.js');
      const { DEFAULT_POD_CIDR } = await import('../engine/network/config.js');
      const { default: pino } = await import('pino');
      const log = pino({ level: process.env.SKIFF_LOG_LEVEL ?? 'info', base: undefined }, pino.destination(2));
      const disable = opts.disable.split(',').map((x) => x.trim()).filter(Boolean);
      const cp = await startControlPlane({ root, listen: opts.listen, port, disable, log });
      const informers = new InformerFactory(cp.client);
      const proxy = new ServiceProxy({ client: cp.client, informers, clock: realClock, recorder: new MemoryRecorder(), log }, { podCidr: process.env.SKIFF_POD_CIDR ?? DEFAULT_POD_CIDR });
      informers.start();
      proxy.run();
      const agent = new NodeAgent({ client: cp.client, nodeName: opts.nodeName, root, log: (m) => log.info(m) });
      await agent.start();
      await writeFileAtomic(pidFile(root), `${process.pid}\n`);
      process.stdout.write(`skiff: cluster up: API server ${cp.api.url}, node ${opts.nodeName}\nskiff: kubeconfig: ${cp.api.kubeconfig}\nskiff: try: skiff --root ${root} kubectl get nodes\n`);
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          // Containers keep running: the next skiff up adopts them.
          void (async () => {
            await agent.stop().catch(() => {});
            proxy.stop();
            informers.stop();
            await cp.stop().catch(() => {});
            await fs.rm(pidFile(root), { force: true });
          })().then(done, done);
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
    const { openContainerEngine, openSandboxes } = await import('./engine.js');
    const { L } = await import('../agent/labels.js');
    const engine = await openContainerEngine(root);
    for (const c of await engine.list()) if (c.options.labels?.[L.podUid]) await engine.remove(c.id, { force: true }).catch(() => {});
    const sandboxes = await openSandboxes(root);
    for (const s of await sandboxes.list()) if (s.labels?.[L.podUid]) await sandboxes.remove(s.id, { force: true }).catch(() => {});
    const { cleanupServiceRules } = await import('../proxy/proxier.js');
    await cleanupServiceRules();
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
