/**
 * The OCI runtime spec (config.json) of a container, made from its image config and the
 * user's options, with Docker's security defaults: its default capability set,
 * no-new-privileges, the default seccomp profile (seccomp.ts), masked and read-only /proc
 * paths, and rlimits never above the host's hard limit.
 */
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import type { ImageConfig } from '../image/manifest.js';
import { cgroupsPath } from './cgroups.js';
import { defaultSeccomp } from './seccomp.js';

/** Docker's default capabilities. */
export const DEFAULT_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

/** Every capability the kernel knows (for --privileged and --cap-add ALL). */
export const ALL_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'];

const MASKED = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** A bind mount into the container. */
export interface BindMount {
  source: string;
  destination: string;
  readonly?: boolean;
}

/** Namespaces to join instead of creating (paths like /proc/PID/ns/net or a pinned file). */
export interface JoinNamespaces {
  network?: string;
  ipc?: string;
  uts?: string;
  pid?: string;
}

/** Everything the engine needs to create a container; knows nothing of Kubernetes. */
export interface ContainerOptions {
  image: string;
  name?: string;
  /** Replaces the image's Cmd (and, with `entrypoint`, its Entrypoint). */
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workdir?: string;
  /** `user`, `uid`, `user:group`, `uid:gid`. */
  user?: string;
  /** Supplementary group IDs of the process (Docker's --group-add). */
  groups?: number[];
  hostname?: string;
  tty?: boolean;
  stdin?: boolean;
  /** With `stdin`: the container's stdin closes when the first attach session ends. */
  stdinOnce?: boolean;
  /**
   * Keep `stdin`/`tty` with conmon for later `attach()` sessions (a detached interactive
   * container, as the node agent's), instead of a foreground run by this process (`run -it`).
   */
  attachable?: boolean;
  readOnly?: boolean;
  mounts?: BindMount[];
  /** `none` (own empty network namespace), `host`, or join a namespace via `join.network`. */
  network?: 'none' | 'host';
  /** `host`: share the host's PID, IPC or UTS namespace (podman's --pid/--ipc/--uts host) instead of a new or joined one. */
  pid?: 'host';
  ipc?: 'host';
  uts?: 'host';
  join?: JoinNamespaces;
  /** Files bind-mounted over /etc/hosts, /etc/resolv.conf, /etc/hostname (a pod sandbox's). */
  etcFiles?: { hosts?: string; resolvConf?: string; hostname?: string };
  memory?: number;
  cpus?: number;
  cpuShares?: number;
  pidsLimit?: number;
  /**
   * The cgroup the container's cgroup is made under (`<parent>/<id>`; default `/skiff`), e.g. a
   * group of containers with limits of its own, made beforehand with `ensureCgroup`.
   */
  cgroupParent?: string;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  noNewPrivileges?: boolean;
  /** `default`, `unconfined`, or a path to an OCI seccomp JSON profile. */
  seccomp?: string;
  /** Map root in the container to an unprivileged host range (user namespace). */
  userns?: boolean;
  labels?: Record<string, string>;
  /** Remove the container when it exits. */
  autoRemove?: boolean;
  stopSignal?: string;
}

let hostBounding: Set<string> | undefined;

/**
 * The capabilities this host can grant: the bounding set of this process (ALL_CAPS is in
 * kernel index order). Some sandboxes lack a few (this machine has no CAP_SYS_RESOURCE), and
 * runc fails outright when asked for one.
 */
export function hostCapabilities(): Set<string> {
  if (hostBounding) return hostBounding;
  let mask = (1n << BigInt(ALL_CAPS.length)) - 1n;
  try {
    const m = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) mask = BigInt('0x' + m[1]);
  } catch {
    // not Linux /proc: assume everything
  }
  hostBounding = new Set(ALL_CAPS.filter((_, i) => (mask >> BigInt(i)) & 1n));
  return hostBounding;
}

/** Normalises `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` to `CAP_NET_ADMIN`. */
export function normalizeCap(c: string): string {
  const up = c.toUpperCase();
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (name !== 'CAP_ALL' && !ALL_CAPS.includes(name)) throw new InvalidArgumentError(`unknown capability "${c}"`);
  return name;
}

/** The capabilities a container gets. */
export function capabilitiesFor(o: ContainerOptions): string[] {
  const host = hostCapabilities();
  const all = ALL_CAPS.filter((c) => host.has(c));
  if (o.privileged) return all;
  const add = (o.capAdd ?? []).map(normalizeCap);
  const drop = (o.capDrop ?? []).map(normalizeCap);
  for (const c of add) {
    if (c !== 'CAP_ALL' && !host.has(c)) throw new InvalidArgumentError(`capability ${c} is not available on this host (missing from its bounding set)`);
  }
  let caps = add.includes('CAP_ALL') ? all : [...DEFAULT_CAPS.filter((c) => host.has(c)), ...add];
  if (drop.includes('CAP_ALL')) caps = add.filter((c) => c !== 'CAP_ALL');
  return [...new Set(caps.filter((c) => !drop.includes(c)))];
}

/** The command to run: Kubernetes/Docker rules for combining Entrypoint and Cmd with overrides. */
export function commandFor(img: ImageConfig, o: ContainerOptions): string[] {
  const entry = o.entrypoint ?? img.config?.Entrypoint ?? [];
  const cmd = o.cmd?.length ? o.cmd : (o.entrypoint ? [] : img.config?.Cmd ?? []);
  const args = [...entry, ...cmd];
  if (!args.length) throw new InvalidArgumentError('no command specified: the image has no Entrypoint or Cmd and none was given');
  return args;
}

/** Merges image env with overrides (later wins by key). */
export function envFor(img: ImageConfig, o: ContainerOptions, hostname: string): string[] {
  const m = new Map<string, string>();
  for (const e of ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...(img.config?.Env ?? []), `HOSTNAME=${hostname}`, ...(o.tty ? ['TERM=xterm'] : []), ...(o.env ?? [])]) {
    const i = e.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`invalid environment variable "${e}": expected KEY=VALUE`);
    m.set(e.slice(0, i), e.slice(i + 1));
  }
  return [...m].map(([k, v]) => `${k}=${v}`);
}

/** Resolves `user[:group]` against the container's /etc/passwd and /etc/group. */
export async function resolveUser(rootfs: string, spec: string | undefined): Promise<{ uid: number; gid: number; additionalGids: number[] }> {
  if (!spec) return { uid: 0, gid: 0, additionalGids: [] };
  const [u, g] = spec.split(':');
  const passwd = await readDb(path.join(rootfs, 'etc/passwd'));
  const group = await readDb(path.join(rootfs, 'etc/group'));
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const row = passwd.find((r) => r[2] === u);
    if (row) gid = Number(row[3]);
  } else {
    const row = passwd.find((r) => r[0] === u);
    if (!row) throw new InvalidArgumentError(`unable to find user ${u}: no matching entries in passwd file`);
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const row = group.find((r) => r[0] === g);
      if (!row) throw new InvalidArgumentError(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(row[2]);
    }
  }
  return { uid, gid: gid ?? 0, additionalGids: [] };
}

async function readDb(file: string): Promise<string[][]> {
  try {
    return (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/** The hard limit on open files of this process, which no container may exceed. */
export async function hardNofile(): Promise<number> {
  try {
    const limits = await fs.readFile('/proc/self/limits', 'utf8');
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits);
    if (m) return m[2] === 'unlimited' ? 1048576 : Number(m[2]);
  } catch {
    // fall through
  }
  return 1024;
}

/** Inputs to the spec builder beyond the options. */
export interface SpecContext {
  id: string;
  rootfs: string;
  hostname: string;
  image: ImageConfig;
  user: { uid: number; gid: number; additionalGids: number[] };
  nofile: number;
  seccompProfile?: object;
}

/** Builds the OCI runtime spec. */
export function buildSpec(o: ContainerOptions, ctx: SpecContext): Record<string, unknown> {
  const caps = capabilitiesFor(o);
  const args = commandFor(ctx.image, o);
  const nsTypes: Array<[string, string | undefined]> = [
    ...(o.pid === 'host' ? [] : [['pid', o.join?.pid]] as Array<[string, string | undefined]>),
    ...(o.ipc === 'host' ? [] : [['ipc', o.join?.ipc]] as Array<[string, string | undefined]>),
    ...(o.uts === 'host' ? [] : [['uts', o.join?.uts]] as Array<[string, string | undefined]>),
    ['mount', undefined],
  ];
  if (o.join?.network) nsTypes.push(['network', o.join.network]);
  else if (o.network !== 'host') nsTypes.push(['network', undefined]);
  if (o.userns) nsTypes.push(['user', undefined]);
  const namespaces = nsTypes.map(([type, p]) => (p ? { type, path: p } : { type }));

  const mounts: Array<Record<string, unknown>> = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(o.userns ? [] : ['gid=5'])] },
    // The host's IPC namespace comes with the host's shared memory (as Docker's --ipc host).
    o.ipc === 'host'
      ? { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    // mqueue mounts the queues of the IPC namespace the container is in (the host's, with `ipc: host`).
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    o.network === 'host' || o.userns
      ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', o.privileged ? 'rw' : 'ro'] },
  ];
  if (!o.userns) mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
  const etc = o.etcFiles ?? {};
  for (const [dst, src] of [['/etc/hosts', etc.hosts], ['/etc/resolv.conf', etc.resolvConf], ['/etc/hostname', etc.hostname]] as const) {
    if (src) mounts.push({ destination: dst, type: 'bind', source: src, options: ['rbind', 'rprivate'] });
  }
  for (const m of o.mounts ?? []) {
    mounts.push({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'rprivate', m.readonly ? 'ro' : 'rw'] });
  }

  const resources: Record<string, unknown> = {
    devices: o.privileged
      ? [{ allow: true, access: 'rwm' }]
      : [
          { allow: false, access: 'rwm' },
          ...[[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2]].map(([major, minor]) => ({ allow: true, type: 'c', major, minor, access: 'rwm' })),
          { allow: true, type: 'c', major: 136, access: 'rwm' },
        ],
  };
  if (o.memory) resources.memory = { limit: o.memory, swap: o.memory };
  if (o.cpus || o.cpuShares) {
    const period = 100_000;
    resources.cpu = {
      ...(o.cpuShares ? { shares: o.cpuShares } : {}),
      ...(o.cpus ? { quota: Math.round(o.cpus * period), period } : {}),
    };
  }
  if (o.pidsLimit) resources.pids = { limit: o.pidsLimit };

  const linux: Record<string, unknown> = {
    namespaces,
    resources,
    cgroupsPath: cgroupsPath(ctx.id, o.cgroupParent),
  };
  if (!o.privileged) {
    linux.maskedPaths = MASKED;
    linux.readonlyPaths = READONLY;
    if (o.seccomp !== 'unconfined') linux.seccomp = ctx.seccompProfile ?? defaultSeccomp(caps);
  }
  if (o.userns) {
    linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  }

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: !!o.tty,
      user: ctx.user,
      args,
      env: envFor(ctx.image, o, ctx.hostname),
      cwd: o.workdir || ctx.image.config?.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: ctx.nofile, soft: ctx.nofile }],
      noNewPrivileges: o.noNewPrivileges ?? !o.privileged,
    },
    root: { path: ctx.rootfs, readonly: !!o.readOnly },
    // A joined UTS namespace (a pod's) already has its hostname; setting it would rename the
    // pod; the host's is never renamed.
    hostname: o.join?.uts || o.uts === 'host' || (o.network === 'host' && !o.hostname) ? undefined : ctx.hostname,
    mounts,
    linux,
  };
}
