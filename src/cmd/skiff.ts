#!/usr/bin/env node
/**
 * The `skiff` command: the composition root for every CLI subcommand. Each subcommand lives in
 * its own module under src/cmd/ and exports `register(program)`; this file only lists them.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands.js';
import { reportError } from './context.js';

const program = new Command('skiff')
  .description('Skiff: a lightweight Kubernetes-compatible container platform')
  .version('0.1.0')
  .option('--root <dir>', 'data root (default: $SKIFF_ROOT or /var/lib/skiff)')
  .enablePositionalOptions()
  .showSuggestionAfterError()
  .exitOverride();

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed its one-line message (or help/version output).
    process.exitCode = err.exitCode;
  } else {
    process.exitCode = reportError(err);
  }
}
