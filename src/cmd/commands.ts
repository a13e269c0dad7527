/**
 * The list of CLI subcommand modules. Each exports `register(program)`; add new ones here.
 */
import type { Command } from 'commander';

/** Registers one subcommand (or a group) on the root program. */
export type Register = (program: Command) => void;

/** Every subcommand, in the order `skiff --help` lists them. */
export const commands: Register[] = [];
