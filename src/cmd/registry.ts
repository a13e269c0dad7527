/**
 * The `skiff pull, push, login and logout` family of subcommands.
 */
import type { Command } from 'commander';

/** Registers this module's subcommands on the root program. */
export function register(program: Command): void {
  void program;
}
