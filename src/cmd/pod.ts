/**
 * The `skiff pod` family: create, ps, inspect, rm, check and recover pod sandboxes (shared
 * network, IPC and UTS namespaces with a CNI-attached interface). Containers join a pod
 * through `skiff run --pod` once the container engine is wired in.
 *
 * Every command first runs the quick recovery pass (cheap file reads), so whatever a killed
 * `skiff` left half made is released by the next one.
 */
import type { Command } from 'commander';
import { action, rootOf } from './context.js';
import { formatTable, timeAgo } from './format.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { SandboxManager, SandboxRecord } from '../engine/network/sandbox.js';

/**
 * Opens the sandboxes of the command's data root after the quick recovery pass. The engine
 * is imported here, not at the top, so other subcommands do not pay for loading it.
 */
async function open(c: Command, quickRecover = true): Promise<SandboxManager> {
  const [{ openSandboxes }, { recover }] = await Promise.all([import('./sandboxes.js'), import('../engine/network/recover.js')]);
  const mgr = await openSandboxes(rootOf(c));
  if (quickRecover) await recover(mgr);
  return mgr;
}

/** Registers the pod subcommands. */
export function register(program: Command): void {
  const pod = program.command('pod').description('manage pods (shared network, IPC and UTS namespaces)');

  pod.command('create')
    .description('create a pod sandbox and attach it to the pod network')
    .option('--name <name>', 'pod name (default: pod-<short id>)')
    .option('--hostname <name>', 'hostname inside the pod (default: the pod name)')
    .option('-p, --publish <spec>', 'publish a port: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp] (repeatable)', collect, [])
    .option('--dns <ip>', 'DNS server for /etc/resolv.conf (repeatable)', collect, [])
    .option('--dns-search <domain>', 'DNS search domain (repeatable)', collect, [])
    .option('--dns-option <opt>', 'resolv.conf option (repeatable)', collect, [])
    .option('--add-host <host:ip>', 'add a line to /etc/hosts (repeatable)', collect, [])
    .option('-l, --label <key=value>', 'set a label (repeatable)', collect, [])
    .action(action(async (opts: CreateFlags, c: Command) => {
      const { parsePortSpecs } = await import('../engine/network/ports.js');
      const ports = parsePortSpecs(opts.publish);
      const extraHosts = opts.addHost.map(parseAddHost);
      const labels = Object.fromEntries(opts.label.map(parseLabel));
      const mgr = await open(c);
      const rec = await mgr.create({
        name: opts.name, hostname: opts.hostname, ports, extraHosts, labels,
        dns: { servers: opts.dns, search: opts.dnsSearch, options: opts.dnsOption },
      });
      console.log(rec.id);
    }));

  const ps = (cmd: Command) => cmd
    .option('-q, --quiet', 'only print pod IDs')
    .option('--no-trunc', 'do not truncate IDs')
    .action(action(async (opts: { quiet?: boolean; trunc?: boolean }, c: Command) => {
      const mgr = await open(c);
      const recs = await mgr.list();
      const [{ formatPortMapping }, { mountPoints, namespacesMounted }] = await Promise.all([
        import('../engine/network/ports.js'), import('../engine/network/netns.js'),
      ]);
      const mounts = await mountPoints();
      const status = (r: SandboxRecord): string => {
        // Host-network sandboxes pin only some namespaces: check the ones they have.
        if (r.state === 'ready') return namespacesMounted(r.namespaces, mounts) ? 'Running' : 'Dead';
        return r.state[0].toUpperCase() + r.state.slice(1);
      };
      const id = (r: SandboxRecord) => (opts.trunc === false ? r.id : r.id.slice(0, 12));
      if (opts.quiet) {
        for (const r of recs) console.log(id(r));
        return;
      }
      console.log(formatTable(['POD ID', 'NAME', 'STATUS', 'CREATED', 'IP', 'PORTS'], recs.map((r) => [
        id(r), r.name, status(r), timeAgo(r.createdAt), r.ip ?? '', r.ports.map(formatPortMapping).join(', '),
      ])));
    }));
  ps(pod.command('ps').description('list pods'));
  ps(pod.command('ls').alias('list').description('list pods'));

  pod.command('inspect')
    .description('show pods as JSON')
    .argument('<pod...>', 'pod names or IDs')
    .action(action(async (refs: string[], _o: unknown, c: Command) => {
      const mgr = await open(c);
      const out = [];
      for (const r of refs) out.push(await mgr.get(r));
      console.log(JSON.stringify(out, null, 2));
    }));

  pod.command('rm')
    .alias('remove')
    .description('remove pods: detach from the network, release the IP and namespaces')
    .argument('[pod...]', 'pod names or IDs')
    .option('-f, --force', 'remove even when containers are in the pod')
    .option('-a, --all', 'remove every pod')
    .action(action(async (refs: string[], opts: { force?: boolean; all?: boolean }, c: Command) => {
      const mgr = await open(c);
      if (opts.all) refs = (await mgr.list()).map((r) => r.id);
      else if (!refs.length) throw new InvalidArgumentError('pod rm needs at least one pod name or ID (or --all)');
      let failed = 0;
      for (const r of refs) {
        try {
          console.log((await mgr.remove(r, { force: opts.force })).id);
        } catch (err) {
          process.stderr.write(`skiff: ${(err as Error).message}\n`);
          failed++;
        }
      }
      return failed ? 1 : 0;
    }));

  for (const verb of ['start', 'stop'] as const) {
    pod.command(verb)
      .description(verb === 'start' ? 'start stopped pods: new namespaces, attached again (the IP may change)' : 'stop pods: detach from the network and drop the namespaces, keep the pod')
      .argument('<pod...>', 'pod names or IDs')
      .action(action(async (refs: string[], _o: unknown, c: Command) => {
        const mgr = await open(c);
        let failed = 0;
        for (const r of refs) {
          try {
            console.log((await mgr[verb](r)).id);
          } catch (err) {
            process.stderr.write(`skiff: ${(err as Error).message}\n`);
            failed++;
          }
        }
        return failed ? 1 : 0;
      }));
  }

  pod.command('check')
    .description('ask the CNI plugins to verify a pod\'s network attachment (CNI CHECK)')
    .argument('<pod>', 'pod name or ID')
    .action(action(async (ref: string, _o: unknown, c: Command) => {
      await (await open(c)).check(ref);
    }));

  pod.command('recover')
    .description('release network state and namespaces that no pod owns (after a crash)')
    .action(action(async (_o: unknown, c: Command) => {
      const { recover } = await import('../engine/network/recover.js');
      const rep = await recover(await open(c, false), { deep: true });
      for (const id of rep.removed) console.log(`removed half-made pod ${id}`);
      for (const id of rep.stopped) console.log(`pod ${id} lost its namespaces: stopped`);
      for (const id of rep.orphans) console.log(`released network state of ${id}`);
      for (const id of rep.pins) console.log(`unmounted namespace pins of ${id}`);
    }));
}

interface CreateFlags {
  name?: string;
  hostname?: string;
  publish: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
  label: string[];
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function parseAddHost(s: string): string {
  const i = s.indexOf(':');
  const host = s.slice(0, i);
  const ip = s.slice(i + 1);
  if (i <= 0 || !/^[A-Za-z0-9.-]+$/.test(host) || !/^[0-9a-fA-F.:]+$/.test(ip)) throw new InvalidArgumentError(`invalid --add-host "${s}" (want HOST:IP)`);
  return `${ip}\t${host}`;
}

function parseLabel(s: string): [string, string] {
  const i = s.indexOf('=');
  if (i === 0) throw new InvalidArgumentError(`invalid label "${s}"`);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}
