/**
 * The shapes of pod sandboxes: their record (sandbox.json), states and options.
 */
import type { CniResult } from './cni.js';
import type { DefaultNetworkOptions, NetworkConfList } from './config.js';
import type { DnsOptions } from './files.js';
import type { NamespacePaths, PinnedKind } from './netns.js';
import type { Owner } from './owner.js';
import type { PortMapping } from './ports.js';

/**
 * Where a sandbox is in its life. `stopped`: no namespaces, no network (after `stop`, or a
 * reboot); `start` makes them again. The -ing states carry an owner process.
 */
export type SandboxState = 'creating' | 'ready' | 'stopping' | 'stopped' | 'starting' | 'removing';

/** The loopback network every sandbox gets (the `loopback` plugin on `lo`). */
export const LOOPBACK_NETWORK: NetworkConfList = { cniVersion: '1.0.0', name: 'skiff-loopback', plugins: [{ type: 'loopback' }] };

/** The interface a sandbox's pod network appears as. */
export const POD_IFNAME = 'eth0';

/** What is known about a sandbox, as stored in sandbox.json. */
export interface SandboxRecord {
  id: string;
  name: string;
  hostname: string;
  state: SandboxState;
  createdAt: string;
  /** The process creating or removing the sandbox, while it does so. */
  owner?: Owner;
  /** Pinned namespace files for containers to join (only the kinds not shared with the host). */
  namespaces: Partial<NamespacePaths>;
  /** Namespaces shared with the host instead of pinned: `network` (and with it UTS), `ipc`. */
  host?: HostNamespaces;
  /** Files for containers to bind-mount at /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  files: { hostname: string; hosts: string; resolvConf: string };
  /** The pod network (the conflist as used, so removal detaches from the same one). */
  network: NetworkConfList;
  ports: PortMapping[];
  labels: Record<string, string>;
  /** As given to create, kept so that `start` writes the same files again. */
  dns?: DnsOptions;
  extraHosts?: string[];
  hostsHeader?: string;
  /** Filled once attached. */
  ip?: string;
  gateway?: string;
  mac?: string;
  cniResult?: CniResult;
}

/** Which namespaces a sandbox shares with the host. */
export interface HostNamespaces {
  /**
   * The host's network and UTS namespaces: no CNI attachment, no IP of its own, the host's
   * hostname; /etc/hosts is the host's (with extraHosts), resolv.conf as for any sandbox.
   */
  network?: boolean;
  ipc?: boolean;
}

/** The namespaces a sandbox pins (those it does not share with the host). */
export function pinnedKinds(host: HostNamespaces | undefined): PinnedKind[] {
  return [...(host?.network ? [] : ['net' as const]), ...(host?.ipc ? [] : ['ipc' as const]), ...(host?.network ? [] : ['uts' as const])];
}

/** What `create` accepts. */
export interface CreateOptions {
  name?: string;
  hostname?: string;
  /** Namespaces to share with the host (ports are then not published: there is nothing to map). */
  host?: HostNamespaces;
  /** A comment line /etc/hosts starts with (e.g. who manages the file). */
  hostsHeader?: string;
  ports?: PortMapping[];
  dns?: DnsOptions;
  /** Extra /etc/hosts lines (`--add-host name:ip` becomes `ip\tname`). */
  extraHosts?: string[];
  labels?: Record<string, string>;
}

/** Options of a SandboxManager. */
export interface SandboxManagerOptions {
  /** Used to write the default conflist on first use. */
  network?: DefaultNetworkOptions;
  /** CNI plugin directories (default /usr/lib/cni, /opt/cni/bin). */
  pluginDirs?: string[];
  /** Names the containers still in a sandbox; removal without force refuses when any. */
  containersOf?: (sandboxId: string) => Promise<string[]>;
}
