/**
 * What the container subcommands do (container.ts declares them): loaded only when one of
 * them runs, so `skiff --version`, `skiff pod …` and the image commands never load the
 * container engine.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { rootOf } from './context.js';
import { formatTable, humanSize, timeAgo } from './format.js';
import { openContainerEngine } from './engine.js';
import { openSandboxes, SANDBOX_LABEL, SANDBOX_OWNED_LABEL } from './sandboxes.js';
import type { SandboxRecord } from '../engine/network/sandbox.js';
import { processAlive } from '../lib/process.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ContainerEngine } from '../engine/container/engine.js';
import type { ContainerOptions, BindMount } from '../engine/container/spec.js';
import type { ContainerRecord } from '../engine/container/state.js';
import { streamLogs } from '../engine/container/logs.js';

/** Opens the engine of the command's data root, recording unseen exits and undoing half-made work. */
async function engineFor(c: Command, opts: { detachedExit?: boolean; deep?: boolean } = {}): Promise<ContainerEngine> {
  const root = rootOf(c);
  const engine = await openContainerEngine(root, {
    exitCommand: opts.detachedExit ? [process.execPath, process.argv[1], '--root', root, 'container', 'cleanup'] : undefined,
  });
  await engine.recover({ deep: opts.deep });
  await releaseOrphanSandboxes(engine);
  return engine;
}

/**
 * A `run` killed between making a container's own sandbox and writing the container's record
 * leaves a sandbox nobody owns: release those (and half-made ones) once their creator is dead.
 */
async function releaseOrphanSandboxes(engine: ContainerEngine): Promise<void> {
  const { readdir, stat, rm, rmdir } = await import('node:fs/promises');
  const names = await readdir(path.join(engine.root, 'sandboxes')).catch(() => [] as string[]);
  if (!names.length) return; // nothing to look at: skip loading the network code
  // A run killed between making a sandbox's directory and writing its record leaves an empty
  // directory; a live creator writes its record within milliseconds, so 2 s is a safe margin.
  for (const n of names) {
    const dir = path.join(engine.root, 'sandboxes', n);
    const st = await stat(dir).catch(() => undefined);
    if (st?.isDirectory() && Date.now() - st.mtimeMs > 2000 && !(await readdir(dir).catch(() => ['?'])).length) {
      await rm(dir, { recursive: true, force: true });
      await rmdir(path.join(engine.root, 'run', 'sandboxes', n)).catch(() => {}); // only if empty: pins are mounts
    }
  }
  const sandboxes = await openSandboxes(engine.root);
  const { recover } = await import('../engine/network/recover.js');
  await recover(sandboxes);
  const used = new Set((await engine.list(true, false)).map((r) => r.options.labels?.[SANDBOX_LABEL]).filter(Boolean));
  for (const sb of await sandboxes.list()) {
    const creator = Number(sb.labels[CREATOR_LABEL]);
    if (sb.labels[SANDBOX_OWNED_LABEL] !== 'true' || used.has(sb.id) || !creator || processAlive(creator)) continue;
    await sandboxes.remove(sb.id, { force: true }).catch(() => {});
  }
}

const CREATOR_LABEL = 'io.skiff.creator-pid';

/**
 * Networking for `run`/`create`: `bridge` (the default) gives the container a pod sandbox of
 * its own on the CNI network, with `-p` ports; `--pod NAME` joins a pod's namespaces;
 * `container:NAME` joins another container's; `none` and `host` need no sandbox.
 */
async function attachNetwork(engine: ContainerEngine, o: ContainerOptions, f: RunFlags): Promise<(() => Promise<void>) | undefined> {
  const mode = f.pod ? 'pod' : f.network ?? 'bridge';
  if (f.publish.length && mode !== 'bridge') throw new InvalidArgumentError(`-p needs --network bridge (ports of a pod are published by skiff pod create -p)`);
  const join = (rec: SandboxRecord, owned: boolean) => {
    o.network = undefined;
    // A user-namespaced container joins only the network: the pod's IPC and UTS namespaces
    // belong to the host's user namespace, where its root may not mount mqueue or set names.
    o.join = o.userns ? { network: rec.namespaces.net } : { network: rec.namespaces.net, ipc: rec.namespaces.ipc, uts: rec.namespaces.uts };
    o.etcFiles = { hosts: rec.files.hosts, resolvConf: rec.files.resolvConf, hostname: rec.files.hostname };
    o.labels = { ...o.labels, [SANDBOX_LABEL]: rec.id, ...(owned ? { [SANDBOX_OWNED_LABEL]: 'true' } : {}) };
  };
  if (mode === 'none' || mode === 'host') return undefined;
  const sandboxes = await openSandboxes(engine.root);
  if (mode === 'pod') {
    if (f.network && f.network !== 'bridge') throw new InvalidArgumentError('--pod and --network cannot be combined');
    join(await sandboxes.get(f.pod!), false);
    return undefined;
  }
  if (mode.startsWith('container:')) {
    const other = await engine.resolve(mode.slice('container:'.length));
    const sid = other.options.labels?.[SANDBOX_LABEL];
    if (!sid) throw new InvalidArgumentError(`container ${other.name} has no shareable network (it runs with --network ${other.options.network ?? 'none'})`);
    join(await sandboxes.get(sid), false);
    return undefined;
  }
  if (mode !== 'bridge') throw new InvalidArgumentError(`invalid --network "${mode}": expected bridge, none, host or container:NAME`);
  const { parsePortSpecs } = await import('../engine/network/ports.js');
  const sb = await sandboxes.create({ hostname: f.hostname, ports: parsePortSpecs(f.publish), labels: { [SANDBOX_OWNED_LABEL]: 'true', [CREATOR_LABEL]: String(process.pid) } });
  join(sb, true);
  return async () => { await sandboxes.remove(sb.id, { force: true }).catch(() => {}); };
}

/** Creates a container with its network; a failure releases the sandbox made for it. */
async function createWithNetwork(engine: ContainerEngine, o: ContainerOptions, f: RunFlags): Promise<ContainerRecord> {
  const release = await attachNetwork(engine, o, f);
  try {
    return await engine.create(o);
  } catch (err) {
    await release?.();
    throw err;
  }
}

/** Parses `64m`, `1g`, `512k`, `1000` into bytes. */
export function parseBytes(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new InvalidArgumentError(`invalid ${flag} "${s}": expected a size like 64m or 1g`);
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as 'k'];
  return Math.round(Number(m[1]) * mult);
}

function parseNumber(s: string, flag: string, integer = false): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`invalid ${flag} "${s}": expected a${integer ? 'n integer' : ' number'}`);
  return n;
}

/** The flags of `run` and `create`. */
export interface RunFlags {
  detach?: boolean; rm?: boolean; interactive?: boolean; tty?: boolean; name?: string;
  env: string[]; envFile: string[]; workdir?: string; user?: string; entrypoint?: string;
  volume: string[]; readOnly?: boolean; memory?: string; cpus?: string; cpuShares?: string;
  pidsLimit?: string; capAdd: string[]; capDrop: string[]; privileged?: boolean;
  securityOpt: string[]; network?: string; hostname?: string; userns?: string; label: string[];
  publish: string[]; pod?: string;
}

async function optionsFrom(root: string, image: string, command: string[], f: RunFlags): Promise<ContainerOptions> {
  const env: string[] = [];
  for (const file of f.envFile) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      throw new InvalidArgumentError(`cannot read --env-file ${file}`);
    }
    for (const line of text.split('\n')) if (line.trim() && !line.trim().startsWith('#')) env.push(line.trim());
  }
  env.push(...f.env);
  const expanded = env.map((e) => (e.includes('=') ? e : process.env[e] !== undefined ? `${e}=${process.env[e]}` : '')).filter(Boolean);
  for (const e of expanded) if (e.startsWith('=')) throw new InvalidArgumentError(`invalid environment variable "${e}"`);

  const mounts: BindMount[] = f.volume.map((v) => {
    const parts = v.split(':');
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new InvalidArgumentError(`invalid volume "${v}": expected SOURCE:DEST[:ro|rw]`);
    if (parts[2] && !/^(ro|rw)$/.test(parts[2])) throw new InvalidArgumentError(`invalid volume mode "${parts[2]}" in "${v}": expected ro or rw`);
    let source = parts[0];
    if (!path.isAbsolute(source)) {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source)) throw new InvalidArgumentError(`invalid volume name "${source}"`);
      source = path.join(root, 'volumes', source, '_data');
    }
    return { source, destination: parts[1], readonly: parts[2] === 'ro' };
  });

  let noNewPrivileges: boolean | undefined;
  let seccomp: string | undefined;
  for (const s of f.securityOpt) {
    const [k, v] = s.split(/[=:](.*)/s);
    if (k === 'no-new-privileges') noNewPrivileges = v === undefined || v === '' || v === 'true';
    else if (k === 'seccomp') seccomp = v || 'default';
    else if (k === 'apparmor' || k === 'label') { /* no LSM on this host: accepted and ignored, as Docker does without AppArmor */ }
    else throw new InvalidArgumentError(`invalid --security-opt "${s}"`);
  }
  const net = f.network ?? 'bridge';
  if (!['none', 'host', 'bridge'].includes(net) && !net.startsWith('container:')) {
    throw new InvalidArgumentError(`invalid --network "${net}": expected bridge, none, host or container:NAME`);
  }
  if (f.userns !== undefined && !['host', 'private', 'auto'].includes(f.userns)) throw new InvalidArgumentError(`invalid --userns "${f.userns}": expected host or private`);
  const labels: Record<string, string> = {};
  for (const l of f.label) {
    const i = l.indexOf('=');
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return {
    image,
    name: f.name,
    cmd: command.length ? command : undefined,
    entrypoint: f.entrypoint !== undefined ? (f.entrypoint ? [f.entrypoint] : []) : undefined,
    env: expanded,
    workdir: f.workdir,
    user: f.user,
    hostname: f.hostname,
    tty: !!f.tty,
    stdin: !!f.interactive,
    readOnly: !!f.readOnly,
    mounts,
    network: net === 'none' || net === 'host' ? net : undefined,
    memory: f.memory !== undefined ? parseBytes(f.memory, '--memory') : undefined,
    cpus: f.cpus !== undefined ? parseNumber(f.cpus, '--cpus') : undefined,
    cpuShares: f.cpuShares !== undefined ? parseNumber(f.cpuShares, '--cpu-shares', true) : undefined,
    pidsLimit: f.pidsLimit !== undefined ? parseNumber(f.pidsLimit, '--pids-limit', true) : undefined,
    capAdd: f.capAdd,
    capDrop: f.capDrop,
    privileged: !!f.privileged,
    noNewPrivileges,
    seccomp,
    userns: f.userns === 'private' || f.userns === 'auto',
    labels,
    autoRemove: !!f.rm,
  };
}

/** Runs a container in the foreground: its output here, its exit code ours. */
async function runForeground(engine: ContainerEngine, rec: ContainerRecord): Promise<number> {
  const forward = (sig: NodeJS.Signals) => { void engine.kill(rec.id, sig).catch(() => {}); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    await engine.start(rec.id, { owner: true });
    const exited = engine.exited(rec);
    await streamLogs(engine.logPath(rec), process.stdout, process.stderr, { follow: true, until: exited });
    return await engine.wait(rec.id);
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

function statusText(r: ContainerRecord): string {
  switch (r.status) {
    case 'running': return `Up ${timeAgo(r.startedAt ?? r.createdAt).replace(/ ago$/, '').replace(/^Less than a second$/, 'Less than a second')}`;
    case 'exited': return `Exited (${r.exitCode ?? -1}) ${r.finishedAt ? timeAgo(r.finishedAt) : ''}`.trim();
    default: return r.status === 'created' ? 'Created' : 'Creating';
  }
}

function inspectOf(engine: ContainerEngine, r: ContainerRecord): unknown {
  const o = r.options;
  return {
    Id: r.id,
    Name: r.name,
    Created: r.createdAt,
    Path: r.command[0],
    Args: r.command.slice(1),
    State: {
      Status: r.status, Running: r.status === 'running', Pid: r.pid ?? 0, ExitCode: r.exitCode ?? 0,
      OOMKilled: !!r.oomKilled, Error: r.error ?? '', StartedAt: r.startedAt ?? '', FinishedAt: r.finishedAt ?? '',
    },
    Image: r.imageId,
    ImageName: r.image,
    LogPath: engine.logPath(r),
    Runtime: engine.runtime.name,
    RuntimeReason: engine.runtime.reason,
    Config: { Hostname: o.hostname ?? r.id.slice(0, 12), User: o.user ?? '', Env: o.env ?? [], Cmd: o.cmd ?? null, Entrypoint: o.entrypoint ?? null, WorkingDir: o.workdir ?? '', Labels: o.labels ?? {}, Tty: !!o.tty, OpenStdin: !!o.stdin },
    HostConfig: {
      Memory: o.memory ?? 0, NanoCpus: o.cpus ? Math.round(o.cpus * 1e9) : 0, CpuShares: o.cpuShares ?? 0, PidsLimit: o.pidsLimit ?? 0,
      CapAdd: o.capAdd ?? [], CapDrop: o.capDrop ?? [], Privileged: !!o.privileged, ReadonlyRootfs: !!o.readOnly,
      NetworkMode: o.network ?? (o.labels?.[SANDBOX_OWNED_LABEL] ? 'bridge' : o.labels?.[SANDBOX_LABEL] ? `sandbox:${o.labels[SANDBOX_LABEL].slice(0, 12)}` : 'none'), SecurityOpt: [o.noNewPrivileges === false ? 'no-new-privileges=false' : 'no-new-privileges', ...(o.seccomp ? [`seccomp=${o.seccomp}`] : [])],
      AutoRemove: !!o.autoRemove, UsernsMode: o.userns ? 'private' : 'host',
    },
    Mounts: (o.mounts ?? []).map((m) => ({ Type: 'bind', Source: m.source, Destination: m.destination, RW: !m.readonly })),
  };
}

async function statsRows(engine: ContainerEngine, recs: ContainerRecord[]): Promise<string[][]> {
  const first = await Promise.all(recs.map((r) => engine.stats(r.id)));
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 500));
  const second = await Promise.all(recs.map((r) => engine.stats(r.id)));
  const wallNs = Number(process.hrtime.bigint() - t0);
  return second.map((s, i) => {
    const cpu = Math.max(0, (s.cpuNs - first[i].cpuNs) / wallNs * 100);
    const lim = Number.isFinite(s.memoryLimit) ? s.memoryLimit : 0;
    return [s.id.slice(0, 12), s.name, `${cpu.toFixed(2)}%`, `${humanSize(s.memoryBytes)} / ${lim ? humanSize(lim) : 'unlimited'}`, lim ? `${(s.memoryBytes / lim * 100).toFixed(2)}%` : '--', String(s.pids)];
  });
}

/** `run`: create and start a container (foreground, detached or interactive). */
export async function run(image: string, command: string[], f: RunFlags & { detach?: boolean }, cmd: Command): Promise<number> {
  if (f.detach && (f.interactive || f.tty)) throw new InvalidArgumentError('-d cannot be combined with -i/-t in this build');
  const engine = await engineFor(cmd, { detachedExit: !!f.detach });
  const rec = await createWithNetwork(engine, await optionsFrom(engine.root, image, command, f), f);
  if (f.interactive || f.tty) return engine.runInteractive(rec);
  if (f.detach) {
    await engine.start(rec.id);
    console.log(rec.id);
    return 0;
  }
  return runForeground(engine, rec);
}

/** `create`: create a container without starting it. */
export async function create(image: string, command: string[], f: RunFlags, cmd: Command): Promise<void> {
  if (f.interactive || f.tty) throw new InvalidArgumentError('create with -i/-t is not supported; use run -it');
  const engine = await engineFor(cmd, { detachedExit: true });
  console.log((await createWithNetwork(engine, await optionsFrom(engine.root, image, command, f), f)).id);
}

/** `start`: start created containers. */
export async function start(refs: string[], cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  for (const r of refs) console.log((await engine.start(r)).name);
}

/** `ps`: list containers. */
export async function ps(o: { all?: boolean; quiet?: boolean; trunc?: boolean }, cmd: Command): Promise<void> {
  const engine = await engineFor(cmd, { deep: !!o.all });
  const recs = (await engine.list(!!o.all)).reverse();
  if (o.quiet) {
    for (const r of recs) console.log(o.trunc === false ? r.id : r.id.slice(0, 12));
    return;
  }
  const rows = recs.map((r) => {
    const command = JSON.stringify(r.command.join(' '));
    return [o.trunc === false ? r.id : r.id.slice(0, 12), r.image, o.trunc === false ? command : command.length > 22 ? command.slice(0, 19) + '…"' : command, timeAgo(r.createdAt), statusText(r), '', r.name];
  });
  console.log(formatTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows));
}

/** `logs`: show a container's output. */
export async function logs(ref: string, o: { follow?: boolean; tail?: string; timestamps?: boolean }, cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  const rec = await engine.resolve(ref);
  const tail = o.tail === undefined || o.tail === 'all' ? undefined : parseNumber(o.tail, '--tail', true);
  const follow = !!o.follow && rec.status === 'running';
  await streamLogs(engine.logPath(rec), process.stdout, process.stderr, {
    tail, timestamps: o.timestamps, follow, until: follow ? engine.exited(rec) : undefined,
  });
}

/** `exec`: run a command in a running container; returns its exit code. */
export async function exec(ref: string, command: string[], o: { interactive?: boolean; tty?: boolean; env: string[]; user?: string; workdir?: string }, cmd: Command): Promise<number> {
  const engine = await engineFor(cmd);
  return engine.exec(ref, { cmd: command, tty: o.tty, interactive: o.interactive, env: o.env, user: o.user, workdir: o.workdir });
}

/** `stop`: stop containers (stop signal, then SIGKILL after `-t`). */
export async function stop(refs: string[], o: { time: string }, cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  const t = parseNumber(o.time, '--time', true);
  for (const r of refs) {
    await engine.stop(r, t);
    console.log(r);
  }
}

/** `kill`: send a signal to containers. */
export async function kill(refs: string[], o: { signal: string }, cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  for (const r of refs) {
    await engine.kill(r, o.signal);
    console.log(r);
  }
}

/** `rm`: remove containers; 1 when any could not be removed. */
export async function rm(refs: string[], o: { force?: boolean }, cmd: Command): Promise<number> {
  const engine = await engineFor(cmd);
  let failed = 0;
  for (const r of refs) {
    try {
      await engine.remove(r, { force: o.force });
      console.log(r);
    } catch (err) {
      process.stderr.write(`skiff: ${(err as Error).message}\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

/** `inspect`: containers in detail (JSON). */
export async function inspect(refs: string[], cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  const out = [];
  for (const r of refs) out.push(inspectOf(engine, await engine.resolve(r)));
  console.log(JSON.stringify(out, null, 2));
}

/** `wait`: wait for containers to exit and print their exit codes. */
export async function wait(refs: string[], cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  for (const r of refs) console.log(await engine.wait(r));
}

/** `stats`: CPU, memory and process counts from the cgroups. */
export async function stats(refs: string[], o: { stream?: boolean }, cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  const recs = refs.length ? await Promise.all(refs.map((r) => engine.resolve(r))) : await engine.list(false);
  const head = ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'];
  do {
    const table = formatTable(head, await statsRows(engine, recs));
    if (o.stream !== false && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    console.log(table);
  } while (o.stream !== false);
}

/** `top`: the processes of a container. */
export async function top(ref: string, psArgs: string[], cmd: Command): Promise<void> {
  const engine = await engineFor(cmd);
  process.stdout.write(await engine.top(ref, psArgs.length ? psArgs.join(' ') : undefined));
}

/** `container cleanup` (run by conmon): record a container's exit and release what it held. */
export async function cleanup(id: string, cmd: Command): Promise<void> {
  const engine = await openContainerEngine(rootOf(cmd));
  await engine.finalize(id);
}

/** `container recover`: reconcile records with the runtime after a crash. */
export async function recover(cmd: Command): Promise<void> {
  const engine = await openContainerEngine(rootOf(cmd));
  for (const line of await engine.recover({ deep: true })) console.log(line);
}
