#!/usr/bin/env node
/**
 * The `skiff` command: the composition root for every CLI subcommand. Each subcommand lives in
 * its own module under src/cmd/ and exports `register(program)`; commands.ts lists them and
 * loads only the one this command line runs.
 */
import { CommanderError } from 'commander';
import { registerFor, rootProgram } from './commands.js';
import { reportError } from './context.js';

const program = rootProgram();

try {
  await registerFor(program, process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed its one-line message (or help/version output).
    process.exitCode = err.exitCode;
  } else {
    process.exitCode = reportError(err);
  }
}
