/**
 * Cluster commands: `skiff kubectl ...` runs the kubectl on PATH against this data root's
 * cluster (its admin kubeconfig), passing every argument and the exit status through.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { action, rootOf, ExitError } from './context.js';

/** Registers this module's subcommands on the root program. */
export function register(program: Command): void {
  program
    .command('kubectl')
    .description('run kubectl against this cluster (its admin kubeconfig)')
    .helpOption(false)
    .allowUnknownOption()
    .passThroughOptions()
    .argument('[args...]', 'kubectl arguments')
    .action(action(async (args: string[], _opts: unknown, cmd: Command) => {
      const kubeconfig = path.join(rootOf(cmd), 'kubeconfig.yaml');
      if (!existsSync(kubeconfig)) throw new ExitError(`no cluster at ${rootOf(cmd)}: ${kubeconfig} does not exist (start one with skiff server)`);
      const { spawn } = await import('node:child_process');
      const child = spawn(process.env.SKIFF_KUBECTL ?? 'kubectl', args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: kubeconfig } });
      const code = await new Promise<number>((resolve, reject) => {
        child.once('error', (err) => reject(new ExitError(`cannot run kubectl: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found on PATH' : err.message}`, 127)));
        child.once('exit', (c, sig) => resolve(c ?? 128 + (sig ? os.constants.signals[sig] ?? 0 : 0)));
      });
      if (code !== 0) throw new ExitError('', code);
    }));
}
