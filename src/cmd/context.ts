/**
 * What every CLI subcommand needs from the command line: the data root and how to fail.
 * Subcommands register themselves on the root program (see skiff.ts) and wrap their actions
 * in `action()` so that any error becomes one line on stderr and a non-zero exit.
 */
import type { Command } from 'commander';
import { resolveRoot } from '../core/root.js';
import { SkiffError } from '../core/errors.js';

/** The data root chosen by `--root`, `SKIFF_ROOT` or the default. */
export function rootOf(cmd: Command): string {
  return resolveRoot(cmd.optsWithGlobals().root as string | undefined);
}

/** An error whose message is shown as-is and whose exit code the CLI uses. */
export class ExitError extends Error {
  /** The process exit status to use. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Prints an error as a single line and returns the exit code to use. */
export function reportError(err: unknown): number {
  let msg: string;
  let code = 1;
  if (err instanceof ExitError) {
    msg = err.message;
    code = err.exitCode;
  } else if (err instanceof SkiffError) {
    msg = err.message;
  } else if (err instanceof Error) {
    msg = err.message;
    if (process.env.SKIFF_DEBUG) msg += '\n' + (err.stack ?? '');
  } else {
    msg = String(err);
  }
  if (msg) process.stderr.write(`skiff: ${msg.split('\n')[0]}\n`);
  if (process.env.SKIFF_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return code;
}

/**
 * Wraps a subcommand's action: awaits it, turns a thrown error into one line on stderr and a
 * non-zero exit. Commander passes (…args, options, command); the wrapper passes them through.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void | number>) {
  return async (...args: A): Promise<void> => {
    try {
      const rc = await fn(...args);
      if (typeof rc === 'number' && rc !== 0) process.exitCode = rc;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

/** A duration flag ("15s", "1m30s", "500ms", or plain seconds) in ms, > 0; ExitError otherwise. */
export function durationFlag(flag: string, value: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = NaN;
  if (/^\d+(\.\d+)?$/.test(value)) ms = Number(value) * 1000;
  else if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    ms = 0;
    for (const [, n, u] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * unit[u];
  }
  if (!(ms > 0)) throw new ExitError(`invalid --${flag} ${JSON.stringify(value)}: want a duration such as 15s`);
  return ms;
}
