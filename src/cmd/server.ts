/**
 * `skiff server`: runs the Kubernetes API server on its own. Prints where the admin
 * kubeconfig is, serves until SIGTERM/SIGINT, then stops cleanly (listener, watches, store).
 */
import type { Command } from 'commander';
import { action, rootOf, ExitError } from './context.js';

/** Registers this module's subcommands on the root program. */
export function register(program: Command): void {
  program
    .command('server')
    .description('run the Kubernetes API server')
    .option('--listen <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '6443')
    .option('--store <url>', 'store: sqlite://PATH (default <root>/server/state.db), etcd://HOST:PORT or memory://')
    .action(action(async (opts: { listen: string; port: string; store?: string }, cmd: Command) => {
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65535) throw new ExitError(`invalid --port ${JSON.stringify(opts.port)}: want 0-65535`);
      // Lazy: `skiff --help` and other subcommands never load the server.
      const { startApiServer } = await import('../apiserver/server.js');
      const server = await startApiServer({ root: rootOf(cmd), listen: opts.listen, port, store: opts.store });
      process.stdout.write(`skiff: API server listening on ${server.url}\nskiff: kubeconfig: ${server.kubeconfig}\n`);
      await new Promise<void>((done) => {
        const stop = () => { process.off('SIGTERM', stop); process.off('SIGINT', stop); void server.close().then(done, done); };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    }));
}
