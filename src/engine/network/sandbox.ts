/**
 * Pod sandboxes: the network, IPC and UTS namespaces that a pod's containers share, pinned
 * for the pod's life (netns.ts), attached to the pod network by CNI (cni.ts), with the
 * /etc/hostname, /etc/hosts and /etc/resolv.conf files containers bind-mount (files.ts).
 *
 * Layout:
 *   <root>/sandboxes/<id>/sandbox.json   the record (atomic writes)
 *   <root>/sandboxes/<id>/{hostname,hosts,resolv.conf}
 *   <root>/run/sandboxes/<id>/{net,ipc,uts}   the namespace pins (bind mounts of nsfs)
 *   <root>/cni/results/…                 CNI result cache; <root>/cni/networks/ host-local IPs
 *
 * Lifecycle: the record is written (state `creating`, owner = this process) BEFORE any
 * side effect and removed AFTER the last one is undone, so whatever a crash leaves behind
 * is always named by a record whose owner is dead — which `recover()` (recover.ts) finds
 * and releases. Removal marks `removing` with its owner the same way.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, isENOENT } from '../../core/errors.js';
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../../lib/atomic.js';
import { withLock } from '../../lib/lock.js';
import { Cni, type RuntimeConf } from './cni.js';
import { loadNetwork } from './config.js';
import { hostHostsFile, hostResolvConf, hostsFile, resolvConf, validHostname } from './files.js';
import { mountPoints, namespacesMounted, pinNamespaces, pinPaths, unpinNamespaces } from './netns.js';
import { assertPortsFree } from './ports.js';
import { sweepIptables } from './iptables.js';
import { ensureMasquerade, masqueradeOf } from './masquerade.js';
import { currentOwner, ownerAlive } from './owner.js';
import { LOOPBACK_NETWORK, POD_IFNAME, pinnedKinds, type CreateOptions, type SandboxManagerOptions, type SandboxRecord } from './types.js';

export * from './types.js';

/** Creates, starts, stops, lists and removes the pod sandboxes of one data root. */
export class SandboxManager {
  readonly root: string;
  readonly cni: Cni;
  private readonly opts: SandboxManagerOptions;

  constructor(root: string, opts: SandboxManagerOptions = {}) {
    this.root = root;
    this.opts = opts;
    this.cni = new Cni({ cacheDir: path.join(root, 'cni'), pluginDirs: opts.pluginDirs });
  }

  /** The folder of a sandbox's record and files. */
  dir(id: string): string {
    return path.join(this.root, 'sandboxes', id);
  }

  /** The folder of a sandbox's namespace pins. */
  runDir(id: string): string {
    return path.join(this.root, 'run', 'sandboxes', id);
  }

  /** Makes a sandbox: pinned namespaces, hostname, CNI attachment, hosts/resolv files. */
  async create(opts: CreateOptions = {}): Promise<SandboxRecord> {
    const id = randomBytes(32).toString('hex');
    const name = opts.name ?? `pod-${id.slice(0, 12)}`;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(name)) throw new InvalidArgumentError(`invalid pod name "${name}"`);
    const hostNet = !!opts.host?.network;
    // The host's UTS namespace comes with its network: its hostname is the host's.
    const hostname = hostNet ? os.hostname() : opts.hostname ?? (validHostname(name) ? name : id.slice(0, 12));
    if (!validHostname(hostname)) throw new InvalidArgumentError(`invalid hostname "${hostname}"`);
    if (hostNet && opts.ports?.length) throw new InvalidArgumentError('cannot publish ports of a pod in the host\'s network: its containers bind host ports themselves');
    const network = await loadNetwork(this.root, this.opts.network);
    if (opts.ports?.length && !network.plugins.some((p) => p.capabilities?.portMappings)) {
      // Otherwise the ports would silently not be published.
      throw new InvalidArgumentError(`cannot publish ports: no plugin of network ${network.name} has the portMappings capability`);
    }
    const dir = this.dir(id);
    const rec: SandboxRecord = {
      id, name, hostname, state: 'creating', createdAt: new Date().toISOString(), owner: await currentOwner(),
      namespaces: pinPaths(this.runDir(id), pinnedKinds(opts.host)),
      ...(opts.host?.network || opts.host?.ipc ? { host: { ...opts.host } } : {}),
      ...(opts.hostsHeader ? { hostsHeader: opts.hostsHeader } : {}),
      files: { hostname: path.join(dir, 'hostname'), hosts: path.join(dir, 'hosts'), resolvConf: path.join(dir, 'resolv.conf') },
      network, ports: opts.ports ?? [], labels: opts.labels ?? {}, dns: opts.dns, extraHosts: opts.extraHosts,
    };
    // Reserve the name and write the record before touching the system.
    await withLock(this.namesLock(), async () => {
      const others = await this.list();
      if (others.some((s) => s.name === name)) throw new AlreadyExistsError(`pod name "${name}" is already in use`);
      await assertPortsFree(rec.ports, others.filter((s) => s.state !== 'stopped').flatMap((s) => s.ports));
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await this.save(rec);
    });
    try {
      return await this.attach(rec);
    } catch (err) {
      await this.teardown(rec).catch(() => { /* recover() retries: the record still names it */ });
      throw err;
    }
  }

  /**
   * Pins fresh namespaces, attaches them (CNI ADD), writes the files; saves the record `ready`.
   * A sandbox in the host's network is attached to nothing: its containers use the host's.
   */
  private async attach(rec: SandboxRecord): Promise<SandboxRecord> {
    const masq = rec.host?.network ? undefined : masqueradeOf(rec.network);
    await Promise.all([pinNamespaces(this.runDir(rec.id), rec.hostname, pinnedKinds(rec.host)), masq && ensureMasquerade(masq)]);
    const dns = { ...rec.dns };
    if (!rec.host?.network) {
      // Settle both before failing, so a teardown never races a still-running ADD.
      const [main, lo] = await Promise.allSettled([
        this.cni.add(rec.network, this.runtime(rec, rec.namespaces.net!)),
        this.cni.add(LOOPBACK_NETWORK, { containerId: rec.id, netns: rec.namespaces.net!, ifName: 'lo' }),
      ]);
      if (main.status === 'rejected') throw main.reason;
      if (lo.status === 'rejected') throw lo.reason;
      const result = main.value;
      const ip = result.ips?.find((a) => !a.address.includes(':')) ?? result.ips?.[0];
      rec.ip = ip?.address.split('/')[0];
      rec.gateway = ip?.gateway;
      rec.mac = result.interfaces?.find((i) => i.name === POD_IFNAME && i.sandbox)?.mac;
      rec.cniResult = result;
      if (!dns.servers?.length && result.dns?.nameservers?.length) dns.servers = result.dns.nameservers;
    }
    const resolv = resolvConf(await hostResolvConf(), dns);
    const hosts = rec.host?.network ? hostHostsFile(await fs.readFile('/etc/hosts', 'utf8').catch(() => ''), rec.extraHosts) : hostsFile(rec.hostname, rec.ip, rec.gateway, rec.extraHosts);
    await Promise.all([
      writeFileAtomic(rec.files.hostname, rec.hostname + '\n'),
      writeFileAtomic(rec.files.hosts, (rec.hostsHeader ? `${rec.hostsHeader.replace(/^#?\s*/, '# ')}\n` : '') + hosts),
      writeFileAtomic(rec.files.resolvConf, resolv),
    ]);
    rec.state = 'ready';
    delete rec.owner;
    await this.save(rec);
    return rec;
  }

  /**
   * Starts a stopped sandbox again: new namespaces, a new attachment (the IP may change),
   * files rewritten. Starting a running sandbox does nothing, as with `podman pod start`.
   */
  async start(ref: string): Promise<SandboxRecord> {
    const rec = await this.get(ref);
    return withLock(this.lockPath(rec.id), async () => {
      const cur = await this.mustLoad(rec.id, ref);
      if (cur.state === 'ready') return cur;
      if (cur.state !== 'stopped') throw new FailedPreconditionError(`pod ${cur.name} is ${cur.state}`);
      await withLock(this.namesLock(), async () => {
        const others = (await this.list()).filter((s) => s.id !== cur.id && s.state !== 'stopped');
        await assertPortsFree(cur.ports, others.flatMap((s) => s.ports));
        cur.state = 'starting';
        cur.owner = await currentOwner();
        await this.save(cur);
      });
      try {
        return await this.attach(cur);
      } catch (err) {
        await this.markStopped(cur).catch(() => { /* recover() finishes it: state is starting */ });
        throw err;
      }
    });
  }

  /** Stops a sandbox: detaches it and drops its namespaces, keeping the record (`stopped`). */
  async stop(ref: string): Promise<SandboxRecord> {
    const rec = await this.get(ref);
    const users = (await this.opts.containersOf?.(rec.id)) ?? [];
    if (users.length) throw new FailedPreconditionError(`pod ${rec.name} has running containers (${users.join(', ')}): stop them first`);
    return withLock(this.lockPath(rec.id), async () => {
      const cur = await this.mustLoad(rec.id, ref);
      if (cur.state === 'stopped') return cur;
      if (cur.state !== 'ready') throw new FailedPreconditionError(`pod ${cur.name} is ${cur.state}`);
      cur.state = 'stopping';
      cur.owner = await currentOwner();
      await this.save(cur);
      await this.markStopped(cur);
      return cur;
    });
  }

  /** Removes a sandbox: CNI DEL, namespace pins unmounted, files and record deleted. */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<SandboxRecord> {
    const rec = await this.get(ref);
    const users = (await this.opts.containersOf?.(rec.id)) ?? [];
    if (users.length && !opts.force) {
      throw new FailedPreconditionError(`pod ${rec.name} has containers (${users.join(', ')}): remove them first or use --force`);
    }
    return withLock(this.lockPath(rec.id), async () => {
      const cur = await this.mustLoad(rec.id, ref);
      if (cur.owner && cur.state !== 'ready' && cur.state !== 'stopped' && (await ownerAlive(cur.owner))) {
        throw new FailedPreconditionError(`pod ${cur.name} is ${cur.state} (process ${cur.owner.pid})`);
      }
      cur.state = 'removing';
      cur.owner = await currentOwner();
      await this.save(cur);
      await this.teardown(cur);
      return cur;
    });
  }

  /**
   * Undoes everything a record names, in reverse order of creation; each step tolerates
   * having been done already, so it is safe after a crash at any point.
   */
  async teardown(rec: SandboxRecord, mounts?: Set<string>): Promise<void> {
    await this.detach(rec, mounts);
    await fs.rm(this.dir(rec.id), { recursive: true, force: true });
  }

  /** Releases a sandbox's network and namespaces but keeps its record, as `stopped`. */
  async markStopped(rec: SandboxRecord, mounts?: Set<string>): Promise<void> {
    await this.detach(rec, mounts);
    rec.state = 'stopped';
    delete rec.owner;
    delete rec.ip;
    delete rec.gateway;
    delete rec.mac;
    delete rec.cniResult;
    await this.save(rec);
  }

  /**
   * CNI DEL (pod network and loopback, concurrently: they are independent networks), then
   * the pins unmounted. DEL needs the namespace to undo everything, so it goes first; rules
   * the plugins could not find (namespace or interface gone) are then swept.
   */
  private async detach(rec: SandboxRecord, mounts?: Set<string>): Promise<void> {
    const m = mounts ?? (await mountPoints());
    if (rec.host?.network) {
      await unpinNamespaces(this.runDir(rec.id), m);
      return;
    }
    const netns = rec.namespaces.net && m.has(rec.namespaces.net) ? rec.namespaces.net : '';
    const [main, lo] = await Promise.allSettled([
      this.cni.del(rec.network, this.runtime(rec, netns)),
      this.cni.del(LOOPBACK_NETWORK, { containerId: rec.id, netns, ifName: 'lo' }),
    ]);
    if (main.status === 'rejected') throw main.reason;
    if (lo.status === 'rejected') throw lo.reason;
    // Bridge skips its ipMasq teardown when the namespace or the interface is already gone
    // (e.g. deleted inside the pod): sweep what it left. portmap needs neither (it deletes its
    // chains by container ID), and Skiff's default network makes no ipMasq rules, so this
    // costs a default pod nothing. `main.value` is the conflist DEL ran (the cached one).
    if (main.value.plugins.some((p) => p.ipMasq)) await sweepIptables(main.value.name, rec.id);
    await unpinNamespaces(this.runDir(rec.id), m);
  }

  /** Runs CNI CHECK on a sandbox's attachment; throws when the plugins find it broken. */
  async check(ref: string): Promise<void> {
    const rec = await this.get(ref);
    if (rec.state !== 'ready') throw new FailedPreconditionError(`pod ${rec.name} is ${rec.state}`);
    if (rec.host?.network) return; // attached to nothing
    await this.cni.check(rec.network, this.runtime(rec, rec.namespaces.net!));
  }

  /** Finds a sandbox by full ID, unique ID prefix or name. */
  async get(ref: string): Promise<SandboxRecord> {
    if (!ref) throw new InvalidArgumentError('a pod name or ID is required');
    const all = await this.list();
    const byName = all.find((s) => s.name === ref);
    if (byName) return byName;
    const byId = all.filter((s) => s.id.startsWith(ref.toLowerCase()));
    if (byId.length === 1 && /^[0-9a-f]+$/i.test(ref)) return byId[0];
    if (byId.length > 1) throw new InvalidArgumentError(`pod ID prefix "${ref}" is ambiguous`);
    throw new NotFoundError(`no such pod: ${ref}`);
  }

  /** Every sandbox record, oldest first. */
  async list(): Promise<SandboxRecord[]> {
    let ids: string[];
    try {
      ids = (await fs.readdir(path.join(this.root, 'sandboxes'))).filter((n) => /^[0-9a-f]{64}$/.test(n));
    } catch (err) {
      if (isENOENT(err)) return [];
      throw err;
    }
    return this.records(ids);
  }

  /** The records of these sandboxes only (IDs with no record are skipped), oldest first. */
  async records(ids: Iterable<string>): Promise<SandboxRecord[]> {
    const recs = await Promise.all([...ids].map((id) => this.load(id)));
    return recs.filter((r): r is SandboxRecord => !!r).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Reads one record (undefined when absent, e.g. removed meanwhile). */
  async load(id: string): Promise<SandboxRecord | undefined> {
    return readJsonIfExists<SandboxRecord>(path.join(this.dir(id), 'sandbox.json'));
  }

  /** The lock under which names and published ports are claimed. */
  private namesLock(): string {
    return path.join(this.root, 'sandboxes', '.names');
  }

  private async mustLoad(id: string, ref: string): Promise<SandboxRecord> {
    const cur = await this.load(id);
    if (!cur) throw new NotFoundError(`no such pod: ${ref}`);
    return cur;
  }

  /** Whether a ready sandbox's namespaces are still pinned. */
  static alive(rec: SandboxRecord, mounts: Set<string>): boolean {
    return rec.state === 'ready' && namespacesMounted(rec.namespaces, mounts);
  }

  /** The CNI arguments of a sandbox's pod-network attachment. */
  runtime(rec: SandboxRecord, netns: string): RuntimeConf {
    return {
      containerId: rec.id, netns, ifName: POD_IFNAME,
      args: [['IgnoreUnknown', '1'], ['K8S_POD_NAME', rec.name]],
      capabilityArgs: rec.ports.length ? { portMappings: rec.ports } : {},
    };
  }

  /** The lock serialising state changes of one sandbox (outside its folder, which removal deletes). */
  lockPath(id: string): string {
    return path.join(this.root, 'sandboxes', `.${id}`);
  }

  private async save(rec: SandboxRecord): Promise<void> {
    await writeJsonAtomic(path.join(this.dir(rec.id), 'sandbox.json'), rec);
  }
}
