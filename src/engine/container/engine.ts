/**
 * The container engine: a library with a small interface (create, start, stop, kill, remove,
 * exec, wait, list, inspect, stats, top, recover) that the CLI uses today and the node agent
 * will use tomorrow. Daemonless, like Podman: each container runs under its own conmon, which
 * outlives the process that started it, keeps its log (CRI format) and writes its exit code.
 *
 * Order of work, so that a crash at any point is recoverable:
 *   create: record (status creating, creator pid) → overlay mount → bundle → conmon + runtime
 *           create → record (created)
 *   remove: record (removing) → runtime delete → unmount → cgroups → directory (record last)
 * `recover()` undoes half-made containers whose creator died, finishes interrupted removals,
 * and records exits that nobody saw.
 */
import fs from 'node:fs/promises';
import { existsSync, watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError, UnavailableError, FailedPreconditionError } from '../../core/errors.js';
import { withLock } from '../../lib/lock.js';
import { runCommand } from '../../lib/spawner.js';
import { processAlive as alive } from '../../lib/process.js';
import { ImageStore } from '../image/store.js';
import { type ContainerOptions, buildSpec, commandFor, hardNofile, resolveUser } from './spec.js';
import { type RuntimeChoice, chooseRuntime, cleanRuntimeError, runtimeCmd, runtimeList } from './runtime.js';
import { type ContainerRecord, ContainerPaths, listIds, readRecord, writeRecord } from './state.js';
import { cgroupPids, cgroupsPath, containerCgroup, oomKills, readStats, removeCgroups, type CgroupStats } from './cgroups.js';
import { randomName } from './names.js';
// stdio.ts loads node-pty and node-unix-socket (native addons, ~10 ms): only exec and attach need it.
import type { StdioStreams } from './stdio.js';

const exec = promisify(execFile);

/** Options of an engine. */
export interface EngineOptions {
  /** The image store (default: the data root's). */
  images?: ImageStore;
  /**
   * A command conmon runs when a detached container exits (Skiff's CLI passes
   * `skiff --root R container cleanup`), so exits are recorded and `--rm` honoured even when
   * no skiff process is watching.
   */
  exitCommand?: string[];
  /** Called after a container is removed (the CLI releases a network sandbox it owned). */
  onRemoved?: (rec: ContainerRecord) => Promise<void>;
}

/** Options of `exec`. */
export interface ExecOptions {
  cmd: string[];
  tty?: boolean;
  interactive?: boolean;
  env?: string[];
  user?: string;
  workdir?: string;
  /** Where the runtime writes the host PID of the command (so a caller can kill it on a timeout). */
  pidFile?: string;
}

/** An exit code, or the runtime's "could not start the command" error as 127/126 (Docker's codes). */
function execFailure(code: number, err: string): number {
  if (code !== 0 && /executable file not found|no such file or directory/.test(err)) {
    throw Object.assign(new InvalidArgumentError(cleanRuntimeError(err)), { exitCode: 127 });
  }
  if (code !== 0 && /permission denied/.test(err)) throw Object.assign(new InvalidArgumentError(cleanRuntimeError(err)), { exitCode: 126 });
  return code;
}

/** The engine for one data root. */
export class ContainerEngine {
  readonly root: string;
  readonly images: ImageStore;
  readonly runtime: RuntimeChoice;
  private readonly stateRoot: string;
  private readonly opts: EngineOptions;

  constructor(root: string, opts: EngineOptions = {}) {
    this.root = root;
    this.opts = opts;
    this.images = opts.images ?? new ImageStore(root);
    this.runtime = chooseRuntime();
    this.stateRoot = path.join(root, 'runc');
  }

  private paths(id: string): ContainerPaths {
    return new ContainerPaths(this.root, id);
  }

  private rt(args: string[]): Promise<string> {
    return runtimeCmd(this.runtime, this.stateRoot, args);
  }

  /** Finds a container by full ID, unique ID prefix, or name. */
  async resolve(ref: string): Promise<ContainerRecord> {
    const ids = await listIds(this.root);
    if (ids.includes(ref)) {
      const r = await readRecord(this.paths(ref));
      if (r) return r;
    }
    const recs = (await Promise.all(ids.map((id) => readRecord(this.paths(id))))).filter((r): r is ContainerRecord => !!r);
    const byName = recs.find((r) => r.name === ref);
    if (byName) return byName;
    if (/^[0-9a-f]{3,64}$/.test(ref)) {
      const hits = recs.filter((r) => r.id.startsWith(ref));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw new InvalidArgumentError(`container ID prefix "${ref}" is ambiguous`);
    }
    throw new NotFoundError(`no such container: ${ref}`);
  }

  /** Creates a container (not started). On failure nothing is left behind. */
  async create(o: ContainerOptions): Promise<ContainerRecord> {
    validate(o);
    const imgRec = await this.images.get(o.image);
    const img = await this.images.resolve(imgRec);
    const command = commandFor(img.config, o);
    const id = randomBytes(32).toString('hex');
    const p = this.paths(id);
    const rec: ContainerRecord = {
      id, name: o.name ?? '', image: o.image, imageId: img.id, options: o, command,
      status: 'creating', createdAt: new Date().toISOString(), creatorPid: process.pid,
      runtime: this.runtime.name, lowerDirs: [],
    };
    // The name is reserved by writing the record under the names lock.
    await fs.mkdir(path.join(this.root, 'containers'), { recursive: true });
    await withLock(path.join(this.root, 'containers', 'names'), async () => {
      const taken = new Set((await this.list(true, false)).map((r) => r.name));
      if (o.name && taken.has(o.name)) {
        const other = await this.resolve(o.name);
        throw new AlreadyExistsError(`the container name "${o.name}" is already in use by container ${other.id.slice(0, 12)}; remove it or choose another name`);
      }
      if (!o.name) do rec.name = randomName(); while (taken.has(rec.name));
      // 0711: a user-namespaced container's root must be able to reach its rootfs below.
      await fs.mkdir(p.dir, { recursive: true, mode: 0o711 });
      await writeRecord(p, rec);
    });
    try {
      rec.lowerDirs = await this.images.unpack(img);
      await this.prepareBundle(rec, img.config);
      // Interactive containers are run by `runInteractive` (runc in the foreground), not
      // conmon, unless they are made for later attaches.
      if ((!o.tty && !o.stdin) || o.attachable) await this.spawnConmon(rec);
      rec.status = 'created';
      delete rec.creatorPid;
      await writeRecord(p, rec);
      return rec;
    } catch (err) {
      await this.destroy(rec).catch(() => {});
      throw err;
    }
  }

  private async prepareBundle(rec: ContainerRecord, image: Awaited<ReturnType<ImageStore['resolve']>>['config']): Promise<void> {
    const p = this.paths(rec.id);
    const o = rec.options;
    await Promise.all([p.upper, p.work, p.rootfs, p.exitDir, p.etc].map((d) => fs.mkdir(d, { recursive: true })));
    if (o.userns) {
      await fs.chown(p.upper, 100000, 100000);
      // The container's root (an unprivileged host uid) must traverse down to its rootfs.
      for (const d of [this.root, path.join(this.root, 'containers')]) {
        const st = await fs.stat(d);
        if (!(st.mode & 0o001)) await fs.chmod(d, (st.mode & 0o7777) | 0o011);
      }
    }
    // The overlay mount (a process) runs while the files outside the rootfs are written; it
    // is awaited even when those fail, so the cleanup that follows finds it and unmounts it.
    const mounted = runCommand('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rec.lowerDirs.join(':')},upperdir=${p.upper},workdir=${p.work}`, p.rootfs])
      .catch((err: Error) => ({ code: -1, stderr: err.message }));
    const hostname = o.hostname ?? (o.network === 'host' ? os.hostname() : rec.id.slice(0, 12));
    const outside = async () => {
      for (const m of o.mounts ?? []) {
        if (!existsSync(m.source)) await fs.mkdir(m.source, { recursive: true });
      }
      if (o.etcFiles) return o.etcFiles;
      // Without a pod sandbox, the container gets its own copies, as Docker writes them.
      const hosts = `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${o.network === 'host' ? '' : `127.0.1.1\t${hostname}\n`}`;
      const [resolv, hostHosts] = await Promise.all([
        fs.readFile('/etc/resolv.conf', 'utf8').catch(() => ''),
        o.network === 'host' ? fs.readFile('/etc/hosts', 'utf8').catch(() => hosts) : hosts,
      ]);
      const files = { hosts: path.join(p.etc, 'hosts'), resolvConf: path.join(p.etc, 'resolv.conf'), hostname: path.join(p.etc, 'hostname') };
      await Promise.all([fs.writeFile(files.hosts, hostHosts), fs.writeFile(files.resolvConf, resolv), fs.writeFile(files.hostname, hostname + '\n')]);
      return files;
    };
    const [etc, m, nofile] = await Promise.allSettled([outside(), mounted, hardNofile()]);
    if (m.status === 'fulfilled' && m.value.code !== 0) throw new Error(`mount: ${m.value.stderr.trim() || `exit status ${m.value.code}`}`);
    if (etc.status === 'rejected') throw etc.reason;
    const etcFiles = etc.value;
    // Mount points made here, as real root: a user-namespaced container's root could not
    // create them in image directories that belong to the real root.
    await fs.mkdir(path.join(p.rootfs, 'etc'), { recursive: true });
    for (const f of ['hosts', 'resolv.conf', 'hostname']) {
      const t = path.join(p.rootfs, 'etc', f);
      if (!existsSync(t)) await fs.writeFile(t, '');
    }
    const user = await resolveUser(p.rootfs, o.user ?? image.config?.User);
    if (o.groups?.length) user.additionalGids = [...new Set(o.groups)];
    let seccompProfile: object | undefined;
    if (o.seccomp && o.seccomp !== 'default' && o.seccomp !== 'unconfined') {
      try {
        seccompProfile = JSON.parse(await fs.readFile(o.seccomp, 'utf8'));
      } catch (err) {
        throw new InvalidArgumentError(`invalid seccomp profile ${o.seccomp}: ${(err as Error).message}`);
      }
    }
    const spec = buildSpec({ ...o, etcFiles }, { id: rec.id, rootfs: p.rootfs, hostname, image, user, nofile: Math.min(1048576, nofile.status === 'fulfilled' ? nofile.value : 1024), seccompProfile });
    await fs.writeFile(path.join(p.bundle, 'config.json'), JSON.stringify(spec));
  }

  /**
   * conmon's short path to a container's bundle (`--socket-dir-path` + cuuid, a symlink), under
   * which it binds the attach socket; shortened by one as conmon does when it is 107 long.
   */
  private attachDir(id: string): string {
    const dir = path.join(this.root, 'run', 'sock', id.slice(0, 12));
    return dir.length === 107 ? dir.slice(0, 106) : dir;
  }

  private async spawnConmon(rec: ContainerRecord): Promise<void> {
    const p = this.paths(rec.id);
    const sockDir = path.join(this.root, 'run', 'sock');
    await fs.mkdir(sockDir, { recursive: true });
    const o = rec.options;
    // A terminal is conmon's (-t); stdin alone a pipe conmon holds open (-i), closed after the
    // first attach session unless the container keeps it open for every session.
    const stdio = o.tty ? ['-t'] : o.stdin ? ['-i', ...(o.stdinOnce ? [] : ['--leave-stdin-open'])] : [];
    const args = [
      '--api-version', '1', '-c', rec.id, '-u', rec.id.slice(0, 12), '-n', rec.name, ...stdio,
      '-r', this.runtime.path, '-b', p.bundle, '-p', p.pidFile, '-P', p.conmonPidFile,
      '-l', `k8s-file:${p.log}`, '--exit-dir', p.exitDir, '--socket-dir-path', sockDir,
      '--log-level', 'error', '--no-sync-log', '--runtime-arg', `--root=${this.stateRoot}`,
      // conmon writes its `oom` marker into the persist dir, else into its working directory.
      '--persist-dir', p.dir,
    ];
    if (this.opts.exitCommand?.length) {
      args.push('--exit-command', this.opts.exitCommand[0]);
      for (const a of [...this.opts.exitCommand.slice(1), rec.id]) args.push('--exit-command-arg', a);
    }
    // Through the spawn helper when there is one: forking this (large) process costs ~8 ms.
    const r = await runCommand('conmon', args, { cwd: p.dir, env: { ...process.env, _OCI_SYNCPIPE: '3' }, syncPipe: true })
      .catch((e: Error) => { throw new UnavailableError(`cannot start conmon: ${e.message}`); });
    if (r.sync === undefined) throw new UnavailableError(`conmon exited without reporting: ${r.stderr.trim() || 'no output'}`);
    const msg = JSON.parse(r.sync) as { data?: number; message?: string };
    if (msg.data === undefined || msg.data < 0) {
      const why = cleanRuntimeError(msg.message ?? r.stderr ?? 'unknown error');
      throw runtimeFailure(why);
    }
    rec.pid = msg.data;
    // The daemonised conmon writes its pid file around the time it reports; wait for it.
    for (let i = 0; i < 200 && !rec.conmonPid; i++) {
      rec.conmonPid = Number((await fs.readFile(p.conmonPidFile, 'utf8').catch(() => '0')).trim()) || undefined;
      if (!rec.conmonPid) await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Starts a created container. With `owner`, this process takes charge of recording the
   * exit and of the autoRemove (a foreground run): other processes leave those to it.
   */
  async start(ref: string, opts: { owner?: boolean } = {}): Promise<ContainerRecord> {
    const rec = await this.resolve(ref);
    const p = this.paths(rec.id);
    return withLock(p.dir, async () => {
      const cur = (await readRecord(p))!;
      if (cur.status === 'running') return cur;
      if (cur.status !== 'created') throw new FailedPreconditionError(`container ${cur.name} is ${cur.status}; only created containers can be started`);
      try {
        await this.rt(['start', cur.id]);
      } catch (err) {
        throw runtimeFailure((err as Error).message);
      }
      cur.status = 'running';
      cur.startedAt = new Date().toISOString();
      if (opts.owner) cur.ownerPid = process.pid;
      await writeRecord(p, cur);
      return cur;
    });
  }

  /**
   * Runs an interactive container (`-i`/`-t`) with the runtime in the foreground on this
   * process's stdio: runc itself allocates the pseudo-terminal and forwards window sizes.
   * Such a container lives as long as this process; its output is not logged. Returns the
   * exit code.
   */
  async runInteractive(rec: ContainerRecord): Promise<number> {
    const p = this.paths(rec.id);
    rec.status = 'running';
    rec.startedAt = new Date().toISOString();
    await writeRecord(p, rec);
    const child = spawn(this.runtime.path, ['--root', this.stateRoot, 'run', '--bundle', p.bundle, '--pid-file', p.pidFile, rec.id], { stdio: 'inherit' });
    const code = await new Promise<number>((resolve) => child.on('exit', (c, sig) => resolve(c ?? 128 + (os.constants.signals[sig as NodeJS.Signals] ?? 0))));
    await fs.writeFile(p.exitFile, String(code));
    await this.finalize(rec.id);
    return code;
  }

  /** Waits for a container to exit; returns its exit code (records the exit). */
  async wait(ref: string): Promise<number> {
    const rec = await this.resolve(ref);
    // Another process may have recorded the exit; finalize still does the owner's autoRemove.
    if (rec.status === 'exited') return (await this.finalize(rec.id))?.exitCode ?? rec.exitCode ?? -1;
    if (rec.status === 'creating') throw new FailedPreconditionError(`container ${rec.name} is being created`);
    const p = this.paths(rec.id);
    await waitForFile(p.exitFile, () => this.isGone(rec));
    const done = await this.finalize(rec.id);
    return done?.exitCode ?? -1;
  }

  /** True when the container cannot still be running (for waits on containers whose conmon died). */
  private async isGone(rec: ContainerRecord): Promise<boolean> {
    const p = this.paths(rec.id);
    if (existsSync(p.exitFile)) return true;
    // conmon writes the exit file after the container's process ends: while conmon lives, the
    // container is not gone even if its process is. Its pid file may appear after create.
    const conmon = rec.conmonPid ?? (Number((await fs.readFile(p.conmonPidFile, 'utf8').catch(() => '')).trim()) || undefined);
    if (conmon) return !alive(conmon) && !existsSync(p.exitFile) ? !(rec.pid && alive(rec.pid)) : false;
    if (!(rec.options.tty || rec.options.stdin) || rec.options.attachable) return false; // conmon's pid file is not written yet
    // No conmon (an interactive run supervised by a skiff process): gone when its process is.
    const pid = rec.pid ?? (Number((await fs.readFile(p.pidFile, 'utf8').catch(() => '')).trim()) || undefined);
    return !!pid && !alive(pid);
  }

  /**
   * Records a container's exit (code, OOM kill), releases its runtime state, cgroups and
   * rootfs mount, and removes it if it was created with autoRemove. Safe to call twice.
   */
  async finalize(id: string): Promise<ContainerRecord | undefined> {
    const p = this.paths(id);
    let removed = false;
    const out = await withLock(p.dir, async () => {
      const rec = await readRecord(p);
      if (!rec || rec.status === 'exited') return rec;
      // conmon creates the exit file, then writes it: an empty file is one being written.
      let text = await fs.readFile(p.exitFile, 'utf8').catch(() => undefined);
      for (let i = 0; i < 50 && text !== undefined && !text.trim(); i++) {
        await new Promise((r) => setTimeout(r, 10));
        text = await fs.readFile(p.exitFile, 'utf8').catch(() => undefined);
      }
      rec.exitCode = text !== undefined && /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : (rec.exitCode ?? 255);
      rec.oomKilled = (await oomKills(containerCgroup(rec))) > 0;
      rec.status = 'exited';
      rec.finishedAt = new Date().toISOString();
      delete rec.pid;
      const owned = rec.ownerPid && rec.ownerPid !== process.pid && alive(rec.ownerPid);
      if (rec.options.autoRemove && !owned) {
        // --rm: removed in this same locked step. The record says first that the removal
        // began, so a crash part-way leaves one that recover() finishes.
        await writeRecord(p, { ...rec, error: 'removing' });
        // A failure is retried below through remove() (and else by recover()).
        removed = await this.teardown(rec, { released: false, exited: true }).then(() => true, () => false);
        return rec;
      }
      // runc delete (which removes the cgroups) and the unmount are independent.
      await Promise.all([this.rt(['delete', '--force', id]).catch(() => {}), unmount(p.rootfs)]);
      await removeCgroups(containerCgroup(rec));
      await writeRecord(p, rec);
      return rec;
    });
    if (removed) {
      await this.afterRemoval(out!);
      return out;
    }
    // Exited before (recorded by another process), or the removal above failed: the
    // autoRemove is still to do.
    const owned = out?.ownerPid && out.ownerPid !== process.pid && alive(out.ownerPid);
    if (out?.status === 'exited' && out.options.autoRemove && !owned) await this.remove(id, { force: true }).catch(() => {});
    return out;
  }

  /** Sends a signal to a running container. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = await this.resolve(ref);
    if (rec.status !== 'running' && rec.status !== 'created') throw new FailedPreconditionError(`container ${rec.name} is not running`);
    const sig = signal.toUpperCase().replace(/^(SIG)?/, 'SIG');
    if (!/^\d+$/.test(signal) && !(sig in os.constants.signals)) throw new InvalidArgumentError(`invalid signal "${signal}"`);
    await this.rt(['kill', rec.id, /^\d+$/.test(signal) ? signal : sig]);
  }

  /** Stops a container: its stop signal, then SIGKILL after `timeout` seconds. */
  async stop(ref: string, timeout = 10): Promise<ContainerRecord | undefined> {
    const rec = await this.resolve(ref);
    if (rec.status === 'exited') return rec;
    const p = this.paths(rec.id);
    const signal = rec.options.stopSignal ?? (await this.imageStopSignal(rec)) ?? 'SIGTERM';
    await this.kill(rec.id, signal).catch(() => {});
    const exited = await waitForFile(p.exitFile, () => this.isGone(rec), timeout * 1000);
    if (!exited) {
      await this.rt(['kill', rec.id, 'SIGKILL']).catch(() => {});
      await waitForFile(p.exitFile, () => this.isGone(rec), 10_000);
    }
    return this.finalize(rec.id);
  }

  private async imageStopSignal(rec: ContainerRecord): Promise<string | undefined> {
    try {
      return (await this.images.resolve(await this.images.get(rec.imageId))).config.config?.StopSignal;
    } catch {
      return undefined;
    }
  }

  /** Removes a container; a running one only with `force` (it is killed first). */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = await this.resolve(ref);
    if (rec.status === 'running' && !opts.force && !existsSync(this.paths(rec.id).exitFile)) {
      throw new ConflictError(`cannot remove container ${rec.name}: it is ${rec.status}; stop it first or use -f`);
    }
    await this.destroy(rec);
  }

  /** Releases everything a container has, in the order that keeps a crash recoverable. */
  private async destroy(rec: ContainerRecord): Promise<void> {
    const p = this.paths(rec.id);
    await withLock(p.dir, async () => {
      const cur = await readRecord(p);
      // finalize() already released the runtime state and the mount of an exited container.
      const released = cur?.status === 'exited' && cur.error !== 'removing';
      if (cur) {
        cur.status = 'exited';
        cur.error = 'removing';
        await writeRecord(p, cur).catch(() => {});
      }
      await this.teardown(rec, { released, exited: false });
    });
    await this.afterRemoval(rec);
  }

  /**
   * Releases a container's runtime state and mount (unless `released`), cgroups and
   * directory; its lock is held. When its process has `exited`, the runtime's delete and the
   * unmount run side by side; otherwise the delete kills it first.
   */
  private async teardown(rec: ContainerRecord, o: { released: boolean; exited: boolean }): Promise<void> {
    const p = this.paths(rec.id);
    const del = () => this.rt(['delete', '--force', rec.id]).catch(() => {});
    if (!o.released) {
      if (o.exited) await Promise.all([del(), unmount(p.rootfs)]);
      else await del();
    }
    if (rec.conmonPid && alive(rec.conmonPid)) {
      // conmon leaves once the container is gone; give it a moment.
      for (let i = 0; i < 50 && alive(rec.conmonPid); i++) await new Promise((r) => setTimeout(r, 20));
    }
    if (!o.released && !o.exited) await unmount(p.rootfs);
    await removeCgroups(containerCgroup(rec));
    // conmon's symlink to the bundle (it never removes it), before the directory it names.
    await fs.unlink(this.attachDir(rec.id)).catch(() => { /* none: conmon never ran */ });
    await fs.rm(p.dir, { recursive: true, force: true });
  }

  private async afterRemoval(rec: ContainerRecord): Promise<void> {
    await fs.rm(`${this.paths(rec.id).dir}.lock`, { recursive: true, force: true }).catch(() => {});
    await this.opts.onRemoved?.(rec);
  }

  /**
   * Every container, oldest first. With `refresh`, running containers whose exit nobody has
   * recorded yet are finalized first (cheap: a stat of their exit file).
   */
  async list(all = true, refresh = true): Promise<ContainerRecord[]> {
    return this.records(await listIds(this.root), all, refresh);
  }

  /**
   * The records of these containers only (IDs with no record are skipped), as list() reads
   * them: a caller that knows its containers' IDs (the node agent, per pod) need not read
   * every record on the machine.
   */
  async records(ids: Iterable<string>, all = true, refresh = true): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    // Read all at once: one after another, 30 records took the names lock's holder ~50 ms.
    const read = await Promise.all([...ids].map(async (id) => [id, await readRecord(this.paths(id))] as const));
    for (const [id, found] of read) {
      let rec = found;
      if (!rec) continue;
      if (refresh && (rec.status === 'running' || rec.status === 'created') && existsSync(this.paths(id).exitFile)) {
        rec = await this.finalize(id);
        if (!rec) continue;
      }
      if (all || rec.status === 'running') out.push(rec);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** The `runc exec` arguments of a command in a running container. */
  private async execArgs(ref: string, e: ExecOptions): Promise<string[]> {
    const rec = await this.resolve(ref);
    if (rec.status !== 'running') throw new FailedPreconditionError(`container ${rec.name} is not running`);
    if (!e.cmd.length) throw new InvalidArgumentError('exec needs a command');
    const args = ['--root', this.stateRoot, 'exec'];
    if (e.tty) args.push('--tty');
    for (const v of e.env ?? []) args.push('--env', v);
    if (e.workdir) args.push('--cwd', e.workdir);
    if (e.pidFile) args.push('--pid-file', e.pidFile);
    if (e.user) {
      const u = await resolveUser(this.paths(rec.id).rootfs, e.user);
      args.push('--user', `${u.uid}:${u.gid}`);
    }
    args.push(rec.id, ...e.cmd);
    return args;
  }

  /** Runs a command in a running container; returns its exit code (126/127 as Docker does). */
  async exec(ref: string, e: ExecOptions): Promise<number> {
    const child = spawn(this.runtime.path, await this.execArgs(ref, e), { stdio: [e.interactive || e.tty ? 'inherit' : 'ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (!/level=error|runc exec failed/.test(d.toString())) process.stderr.write(d);
    });
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 255)));
    return execFailure(code, err);
  }

  /**
   * Runs a command in a running container with its stdio as pipes (no terminal), for callers
   * that relay the streams (the node agent's exec). `done` gives the exit code, with the
   * runtime's own "cannot start" errors mapped to 126/127 and a one-line message.
   */
  async execPiped(ref: string, e: ExecOptions): Promise<{ child: import('node:child_process').ChildProcess; done: Promise<{ code: number; message?: string }>; kill: () => Promise<void> }> {
    if (e.tty) throw new InvalidArgumentError('a terminal for exec is not supported here');
    // The command's host PID: runc forwards catchable signals only, so a kill must reach it directly.
    const own = !e.pidFile;
    const pidFile = e.pidFile ?? path.join(this.paths((await this.resolve(ref)).id).dir, `exec-${randomBytes(6).toString('hex')}.pid`);
    const child = spawn(this.runtime.path, await this.execArgs(ref, { ...e, pidFile }), { stdio: [e.interactive ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let tail = '';
    child.stderr!.on('data', (d: Buffer) => { tail = (tail + d.toString()).slice(-4096); });
    // 'close', not 'exit': the output is all read by then — unless something the command left
    // running in the background holds it open: that is cut a second after the exit.
    child.once('exit', () => {
      const cut = setTimeout(() => { child.stdout?.destroy(); child.stderr?.destroy(); }, 1000);
      child.once('close', () => clearTimeout(cut));
    });
    const done = new Promise<{ code: number; message?: string }>((resolve) => child.on('close', (c) => {
      const code = c ?? 255;
      if (own) void fs.rm(pidFile, { force: true });
      try { resolve({ code: execFailure(code, tail) }); } catch (err) { resolve({ code: (err as { exitCode?: number }).exitCode ?? code, message: (err as Error).message }); }
    }));
    /** SIGKILL to the command in the container (by its PID) and to the runtime's process. */
    const kill = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid > 0) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      child.kill('SIGKILL');
    };
    return { child, done, kill };
  }

  /**
   * Runs a command in a running container on a terminal (`runc exec --tty`, TERM=xterm as
   * container runtimes set it) relayed to `io`: raw input, output, window sizes (stdio.ts).
   * runc's own messages go to a file, not the terminal, and give 126/127 as `execPiped` does.
   */
  async execTerminal(ref: string, e: ExecOptions, io: StdioStreams): Promise<{ code: number; message?: string }> {
    const rec = await this.resolve(ref);
    const args = await this.execArgs(rec.id, { ...e, tty: true, env: ['TERM=xterm', ...(e.env ?? [])] });
    const errFile = path.join(this.paths(rec.id).dir, `exec-${randomBytes(6).toString('hex')}.err`);
    try {
      const { runTerminal } = await import('./stdio.js');
      const { code } = await runTerminal('/bin/sh', ['-c', 'exec "$0" "$@" 2>"$SKIFF_EXEC_STDERR"', this.runtime.path, ...args], io,
        { ...process.env, SKIFF_EXEC_STDERR: errFile });
      const err = await fs.readFile(errFile, 'utf8').catch(() => '');
      try { return { code: execFailure(code, err) }; } catch (x) { return { code: (x as { exitCode?: number }).exitCode ?? code, message: (x as Error).message }; }
    } finally {
      await fs.rm(errFile, { force: true });
    }
  }

  /**
   * Attaches `io` to the stdio of a running container under conmon (stdio.ts) until its output
   * ends (it exited) or the client leaves. Input reaches it only if it was created with
   * `stdin` or `tty`; a session without a terminal whose container keeps stdin open across
   * sessions (not `stdinOnce`) also ends when the client's input does, as CRI-O's attach.
   */
  async attach(ref: string, io: StdioStreams, opts: { tty?: boolean } = {}): Promise<void> {
    const rec = await this.resolve(ref);
    if (rec.status !== 'running') throw new FailedPreconditionError(`container ${rec.name} is not running`);
    if (!rec.conmonPid) throw new FailedPreconditionError(`container ${rec.name} runs in the foreground of another process; it cannot be attached to`);
    const o = rec.options;
    const terminal = o.tty && rec.pid ? await terminalOf(rec.pid) : undefined;
    const { attachConmon } = await import('./stdio.js');
    await attachConmon({ socket: path.join(this.attachDir(rec.id), 'attach'), terminal }, io,
      { endWithInput: !!o.stdin && !o.stdinOnce && !opts.tty });
  }

  /** Resource usage of a running container. */
  async stats(ref: string): Promise<CgroupStats & { id: string; name: string }> {
    const rec = await this.resolve(ref);
    return { id: rec.id, name: rec.name, ...(await readStats(containerCgroup(rec))) };
  }

  /** The processes of a running container, as `ps` shows them. */
  async top(ref: string, psArgs = '-o user,pid,ppid,c,stime,tty,time,cmd'): Promise<string> {
    const rec = await this.resolve(ref);
    if (rec.status !== 'running') throw new FailedPreconditionError(`container ${rec.name} is not running`);
    const pids = await cgroupPids(containerCgroup(rec));
    if (!pids.length) return '';
    const { stdout } = await exec('ps', [...psArgs.split(/\s+/), '-p', pids.join(',')]);
    return stdout;
  }

  /** The log file of a container (CRI format). */
  logPath(rec: ContainerRecord): string {
    return this.paths(rec.id).log;
  }

  /** Resolves when the container's exit file appears. */
  exited(rec: ContainerRecord): Promise<boolean> {
    return waitForFile(this.paths(rec.id).exitFile, () => this.isGone(rec));
  }

  /**
   * Reconciles records with reality after a crash: half-made containers whose creator died
   * are undone, interrupted removals finished, unseen exits recorded, and runtime state or
   * rootfs mounts that no record owns released. Returns what it did, for logging.
   */
  async recover(opts: { deep?: boolean } = {}): Promise<string[]> {
    const did: string[] = [];
    const ids = new Set(await listIds(this.root));
    for (const id of ids) {
      const p = this.paths(id);
      const rec = await readRecord(p);
      if (!rec) {
        // A directory without a record: a create that died before its first write.
        const st = await fs.stat(p.dir).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > 30_000) {
          await unmount(p.rootfs);
          await fs.rm(p.dir, { recursive: true, force: true });
          did.push(`removed record-less ${id.slice(0, 12)}`);
        }
        continue;
      }
      if ((rec.status === 'creating' && !(rec.creatorPid && alive(rec.creatorPid))) || rec.error === 'removing') {
        await this.destroy(rec);
        did.push(`removed half-made or half-removed ${rec.name}`);
      } else if (rec.status === 'exited' && rec.options.autoRemove && !(rec.ownerPid && alive(rec.ownerPid))) {
        await this.destroy(rec);
        did.push(`removed exited --rm container ${rec.name}`);
      } else if ((rec.status === 'running' || rec.status === 'created') && (await this.isGone(rec))) {
        await this.finalize(id);
        did.push(`recorded the exit of ${rec.name}`);
      }
    }
    // Runtime state and mounts without a record cannot come from Skiff's own steps (records
    // are written first and removed last); sweeping for them costs a runc spawn, so only the
    // deep pass (`skiff container recover`, `ps -a`) does it.
    if (!opts.deep) return did;
    // Other skiff processes may be creating containers right now: their records are written
    // before any runtime state or mount exists, so only what has no record (now) is orphaned.
    const hasRecord = (id: string) => existsSync(this.paths(id).record);
    for (const s of await runtimeList(this.runtime, this.stateRoot).catch(() => [])) {
      if (!hasRecord(s.id)) {
        await this.rt(['delete', '--force', s.id]).catch(() => {});
        // No record says where its cgroup is: runc delete removed it, else the default parent's.
        await removeCgroups(cgroupsPath(s.id));
        did.push(`deleted orphaned runtime state ${s.id.slice(0, 12)}`);
      }
    }
    const mounts = await fs.readFile('/proc/mounts', 'utf8');
    const prefix = path.join(this.root, 'containers') + '/';
    for (const line of mounts.split('\n')) {
      const mp = line.split(' ')[1];
      if (mp?.startsWith(prefix)) {
        const id = mp.slice(prefix.length).split('/')[0];
        if (!hasRecord(id)) {
          await unmount(mp);
          did.push(`unmounted orphaned ${mp}`);
        }
      }
    }
    // conmon's symlinks whose container is gone (a crash between the unlink and the record's
    // removal, or a version that did not unlink them): their target no longer exists.
    const sockDir = path.join(this.root, 'run', 'sock');
    for (const name of await fs.readdir(sockDir).catch(() => [] as string[])) {
      const link = path.join(sockDir, name);
      if (!existsSync(link)) {
        await fs.unlink(link).catch(() => {});
        did.push(`removed dangling attach link ${name}`);
      }
    }
    return did;
  }
}

function validate(o: ContainerOptions): void {
  if (o.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.name)) {
    throw new InvalidArgumentError(`invalid container name "${o.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  if (o.memory !== undefined && (!Number.isFinite(o.memory) || o.memory < 6 * 1024 * 1024)) {
    throw new InvalidArgumentError('invalid --memory: the minimum is 6MB');
  }
  if (o.cpus !== undefined && (!Number.isFinite(o.cpus) || o.cpus <= 0 || o.cpus > os.cpus().length)) {
    throw new InvalidArgumentError(`invalid --cpus ${o.cpus}: range is 0.01-${os.cpus().length}`);
  }
  if (o.pidsLimit !== undefined && (!Number.isInteger(o.pidsLimit) || o.pidsLimit < -1 || o.pidsLimit === 0)) {
    throw new InvalidArgumentError(`invalid --pids-limit ${o.pidsLimit}`);
  }
  if (o.cgroupParent !== undefined && !/^\/?[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(o.cgroupParent) || o.cgroupParent?.split('/').some((p) => p === '..' || p === '.')) {
    throw new InvalidArgumentError(`invalid cgroup parent "${o.cgroupParent}"`);
  }
  for (const m of o.mounts ?? []) {
    if (!path.isAbsolute(m.destination)) throw new InvalidArgumentError(`invalid mount destination "${m.destination}": must be absolute`);
  }
}

/** Maps runtime create/start errors to Docker's exit codes: 127 not found, 126 not executable. */
function runtimeFailure(why: string): Error {
  if (/executable file not found|no such file or directory/.test(why)) {
    return Object.assign(new InvalidArgumentError(why), { exitCode: 127 });
  }
  if (/permission denied/.test(why)) return Object.assign(new InvalidArgumentError(why), { exitCode: 126 });
  return new UnavailableError(why);
}

/** The terminal of a container's process (its stdin, stdout or stderr on a /dev/pts), as the host reaches it. */
async function terminalOf(pid: number): Promise<string | undefined> {
  for (const fd of [0, 1, 2]) {
    const link = `/proc/${pid}/fd/${fd}`;
    if ((await fs.readlink(link).catch(() => '')).startsWith('/dev/pts/')) return link;
  }
  return undefined;
}

async function unmount(dir: string): Promise<void> {
  const r = await runCommand('umount', [dir]).catch(() => ({ code: -1 }));
  if (r.code !== 0 && (await fs.readFile('/proc/mounts', 'utf8')).includes(` ${dir} `)) await runCommand('umount', ['-l', dir]).catch(() => {});
}

/** Waits for `file` to exist (inotify, with a slow poll of `gone` as a fallback). */
function waitForFile(file: string, gone: () => Promise<boolean>, timeoutMs?: number): Promise<boolean> {
  return new Promise((resolve) => {
    let finished = false;
    let watcher: ReturnType<typeof watch> | undefined;
    const finish = (v: boolean) => {
      if (finished) return;
      finished = true;
      watcher?.close();
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      resolve(v);
    };
    try {
      watcher = watch(path.dirname(file), () => { if (existsSync(file)) finish(true); });
      watcher.on('error', () => {});
    } catch {
      // no inotify: the poll below still works
    }
    const poll = setInterval(() => {
      if (existsSync(file)) finish(true);
      else void gone().then((g) => g && finish(true));
    }, 250);
    const timer = timeoutMs !== undefined ? setTimeout(() => finish(existsSync(file)), timeoutMs) : undefined;
    if (existsSync(file)) finish(true);
  });
}
