/**
 * The list of CLI subcommand modules. Each exports `register(program)` and owns its
 * subcommands; add a module here when adding a family of commands.
 */
import type { Command } from 'commander';
import { register as image } from './image.js';
import { register as registry } from './registry.js';
import { register as container } from './container.js';
import { register as pod } from './pod.js';
import { register as server } from './server.js';
import { register as cluster } from './cluster.js';
import { register as up } from './up.js';

/** Registers one subcommand (or a group) on the root program. */
export type Register = (program: Command) => void;

/** Every subcommand module, in the order `skiff --help` lists them. */
export const commands: Register[] = [image, registry, container, pod, server, up, cluster];
