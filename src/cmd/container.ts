/**
 * The container subcommands, Docker/Podman style: run, create, start, ps, logs, exec, stop,
 * kill, rm, inspect, wait, stats, top (top level and under `skiff container`), and the hidden
 * `container cleanup` that conmon runs when a detached container exits.
 *
 * Only the declarations live here: every `skiff` process registers them, so they import
 * nothing but commander's types. What a command does is in container-actions.ts, loaded by
 * its action when it runs.
 */
import type { Command } from 'commander';
import { action, ExitError } from './context.js';

const impl = () => import('./container-actions.js');

/** Exit codes as Docker's CLI uses them: 125 for errors of skiff itself. */
function runAction<A extends unknown[]>(fn: (...args: A) => Promise<number | void>) {
  return action(async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      const code = (err as { exitCode?: number }).exitCode ?? 125;
      throw new ExitError((err as Error).message, code);
    }
  });
}

const collect = (v: string, prev: string[]) => [...prev, v];

function addRunFlags(cmd: Command): Command {
  return cmd
    .argument('<image>', 'image name or ID')
    .argument('[command...]', 'command and arguments (default: the image\'s)')
    .option('--name <name>', 'container name')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (KEY alone: take it from here)', collect, [])
    .option('--env-file <file>', 'read environment variables from a file', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user to run as')
    .option('--entrypoint <cmd>', 'override the image\'s entrypoint')
    .option('-v, --volume <host:ctr[:ro]>', 'bind mount a host path or a named volume', collect, [])
    .option('--read-only', 'mount the root filesystem read-only')
    .option('-m, --memory <bytes>', 'memory limit (e.g. 64m)')
    .option('--cpus <n>', 'number of CPUs (CFS quota)')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--cap-add <cap>', 'add a capability', collect, [])
    .option('--cap-drop <cap>', 'drop a capability', collect, [])
    .option('--privileged', 'give the container every capability and no seccomp or masked paths')
    .option('--security-opt <opt>', 'no-new-privileges[:true|false], seccomp=unconfined|PROFILE.json', collect, [])
    .option('--network <mode>', 'bridge (default: own pod sandbox on the CNI network), none, host, container:NAME')
    .option('-p, --publish <[ip:]host:ctr[/udp]>', 'publish a port (bridge network)', collect, [])
    .option('--pod <pod>', 'join a pod (skiff pod create)')
    .option('-h, --hostname <name>', 'container hostname')
    .option('--userns <mode>', 'host (default) or private: map root to an unprivileged host range')
    .option('-l, --label <k=v>', 'set a label', collect, [])
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .passThroughOptions(); // flags after the image belong to the container's command
}

/** Registers the container subcommands. */
export function register(program: Command): void {
  const group = program.command('container').description('manage containers').enablePositionalOptions();
  const both = (name: string, describe: (c: Command) => void) => {
    describe(program.command(name));
    describe(group.command(name));
  };
  type Flags = import('./container-actions.js').RunFlags;

  both('run', (c) => addRunFlags(c.description('create and start a container'))
    .option('-d, --detach', 'run in the background and print the container ID')
    .option('--rm', 'remove the container when it exits')
    .action(runAction(async (image: string, command: string[], f: Flags & { detach?: boolean }, cmd: Command) => (await impl()).run(image, command, f, cmd))));

  both('create', (c) => addRunFlags(c.description('create a container without starting it'))
    .option('--rm', 'remove the container when it exits')
    .action(runAction(async (image: string, command: string[], f: Flags, cmd: Command) => (await impl()).create(image, command, f, cmd))));

  both('start', (c) => c.description('start created containers').argument('<container...>')
    .action(action(async (refs: string[], _o: unknown, cmd: Command) => (await impl()).start(refs, cmd))));

  both('ps', (c) => c.description('list containers')
    .option('-a, --all', 'show all containers (default: running)')
    .option('-q, --quiet', 'only IDs')
    .option('--no-trunc', 'do not truncate')
    .action(action(async (o: { all?: boolean; quiet?: boolean; trunc?: boolean }, cmd: Command) => (await impl()).ps(o, cmd))));

  both('logs', (c) => c.description('show a container\'s output').argument('<container>')
    .option('-f, --follow', 'follow the output until the container exits')
    .option('-n, --tail <n>', 'only the last N lines')
    .option('-t, --timestamps', 'show timestamps')
    .action(action(async (ref: string, o: { follow?: boolean; tail?: string; timestamps?: boolean }, cmd: Command) => (await impl()).logs(ref, o, cmd))));

  both('exec', (c) => c.description('run a command in a running container').argument('<container>').argument('<command...>')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable', collect, [])
    .option('-u, --user <user[:group]>', 'user to run as')
    .option('-w, --workdir <dir>', 'working directory')
    .passThroughOptions()
    .action(runAction(async (ref: string, command: string[], o: { interactive?: boolean; tty?: boolean; env: string[]; user?: string; workdir?: string }, cmd: Command) => (await impl()).exec(ref, command, o, cmd))));

  both('stop', (c) => c.description('stop containers (stop signal, then SIGKILL)').argument('<container...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing', '10')
    .action(action(async (refs: string[], o: { time: string }, cmd: Command) => (await impl()).stop(refs, o, cmd))));

  both('kill', (c) => c.description('send a signal to containers').argument('<container...>')
    .option('-s, --signal <signal>', 'signal to send', 'SIGKILL')
    .action(action(async (refs: string[], o: { signal: string }, cmd: Command) => (await impl()).kill(refs, o, cmd))));

  both('rm', (c) => c.description('remove containers').argument('<container...>')
    .option('-f, --force', 'kill and remove running containers')
    .action(action(async (refs: string[], o: { force?: boolean }, cmd: Command) => (await impl()).rm(refs, o, cmd))));

  both('inspect', (c) => c.description('show containers in detail (JSON)').argument('<container...>')
    .action(action(async (refs: string[], _o: unknown, cmd: Command) => (await impl()).inspect(refs, cmd))));

  both('wait', (c) => c.description('wait for containers to exit and print their exit codes').argument('<container...>')
    .action(action(async (refs: string[], _o: unknown, cmd: Command) => (await impl()).wait(refs, cmd))));

  both('stats', (c) => c.description('CPU, memory and process counts from the cgroups').argument('[container...]')
    .option('--no-stream', 'print one sample and exit')
    .action(action(async (refs: string[], o: { stream?: boolean }, cmd: Command) => (await impl()).stats(refs, o, cmd))));

  both('top', (c) => c.description('show the processes of a container').argument('<container>').argument('[ps-options...]')
    .action(action(async (ref: string, psArgs: string[], _o: unknown, cmd: Command) => (await impl()).top(ref, psArgs, cmd))));

  group.command('cleanup', { hidden: true }).argument('<id>')
    .description('record a container\'s exit and release what it held (run by conmon)')
    .action(action(async (id: string, _o: unknown, cmd: Command) => (await impl()).cleanup(id, cmd)));

  group.command('recover').description('reconcile container records with the runtime after a crash')
    .action(action(async (_o: unknown, cmd: Command) => (await impl()).recover(cmd)));
}
