/**
 * The list of CLI subcommand modules. Each exports `register(program)` and owns its
 * subcommands; add a module here (with the top-level names it registers) when adding a
 * family of commands.
 *
 * A `skiff` process loads only the module of the command it runs: declaring every command
 * (commander objects for ~90 commands and options) costs more than node's own start-up. Help,
 * unknown names and a bare `skiff` load them all, so help and suggestions list everything.
 */
import { Command } from 'commander';

/** Registers one subcommand (or a group) on the root program. */
export type Register = (program: Command) => void;

/** A subcommand module: the top-level command names it registers, and how to load it. */
export interface CommandModule {
  names: readonly string[];
  load: () => Promise<{ register: Register }>;
}

/** The root `skiff` program with its own options, before any subcommand is registered. */
export function rootProgram(): Command {
  return new Command('skiff')
    .description('Skiff: a lightweight Kubernetes-compatible container platform')
    .version('0.1.0')
    .option('--root <dir>', 'data root (default: $SKIFF_ROOT or /var/lib/skiff)')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride();
}

/** Every subcommand module, in the order `skiff --help` lists them. */
export const commands: CommandModule[] = [
  { names: ['image', 'images', 'tag', 'rmi', 'load', 'save'], load: () => import('./image.js') },
  { names: ['pull', 'push', 'login', 'logout'], load: () => import('./registry.js') },
  {
    names: ['container', 'run', 'create', 'start', 'ps', 'logs', 'exec', 'stop', 'kill', 'rm', 'inspect', 'wait', 'stats', 'top'],
    load: () => import('./container.js'),
  },
  { names: ['pod'], load: () => import('./pod.js') },
  { names: ['server'], load: () => import('./server.js') },
  { names: ['up', 'down', 'reset'], load: () => import('./up.js') },
  { names: ['kubectl'], load: () => import('./cluster.js') },
];

/**
 * The subcommand named on a command line (`args` without node and the script), skipping
 * the root's own options; undefined when there is none.
 */
export function subcommandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return args[i + 1];
    if (a === '--root') i++; // its value
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * Registers the modules a command line needs: the one owning its subcommand; none for a bare
 * `--version`; every module otherwise (help, an unknown name, no subcommand).
 */
export async function registerFor(program: Command, args: readonly string[]): Promise<void> {
  const name = subcommandOf(args);
  let wanted = commands.filter((m) => name !== undefined && m.names.includes(name));
  if (name === undefined && args.some((a) => a === '-V' || a === '--version') && !args.some((a) => a === '-h' || a === '--help')) return;
  if (!wanted.length) wanted = commands;
  for (const m of await Promise.all(wanted.map((w) => w.load()))) m.register(program);
}
