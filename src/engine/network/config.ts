/**
 * CNI network configuration lists (conflists): Skiff's default one, written on first use to
 * `<root>/cni/net.d/`, and loading whatever the user put there instead (the first
 * `*.conflist` in lexical order wins, as libcni's ConfFiles + sort do).
 *
 * The default: a `bridge` (isGateway, hairpin) with `host-local` IPAM over the pod
 * CIDR and its data kept under the data root (so `recover()` can see every allocation Skiff
 * made and two data roots never share allocation files), then `portmap` for `-p`. Traffic
 * leaving the pod CIDR is masqueraded by one rule set Skiff keeps for the whole network
 * (`skiffMasquerade`, masquerade.ts), not by bridge's per-attachment `ipMasq`.
 * 10.89.0.0/16 by default: podman's default network (netavark or CNI) is 10.88.0.0/16.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../core/errors.js';
import { DEFAULT_ROOT } from '../../core/root.js';
import { writeJsonAtomic } from '../../lib/atomic.js';
import { withLock } from '../../lib/lock.js';

/** One plugin entry of a conflist: `type` names the binary; the rest is the plugin's. */
export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** A CNI network configuration list (spec section "Configuration format"). */
export interface NetworkConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
  /** Skiff's own key (the plugins never see it): masquerade this bridge's subnet with one rule set (masquerade.ts). */
  skiffMasquerade?: { bridge: string; subnet: string };
}

/** Knobs of the default conflist. */
export interface DefaultNetworkOptions {
  /** Network name (default `defaultNetworkName(root)`: `skiff` for /var/lib/skiff). */
  name?: string;
  /** Linux bridge name (default `skiff0`, at most 15 characters). */
  bridge?: string;
  /** Pod CIDR (default 10.89.0.0/16, or `SKIFF_POD_CIDR`). */
  subnet?: string;
}

/** The pod CIDR used when nothing else is said. */
export const DEFAULT_POD_CIDR = '10.89.0.0/16';

/** The CNI versions Skiff speaks (Debian's plugins support 0.1.0 … 1.0.0). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

/** Where conflists live under a data root. */
export function confDir(root: string): string {
  return path.join(root, 'cni', 'net.d');
}

/** Where host-local keeps its IP allocations under a data root. */
export function ipamDataDir(root: string): string {
  return path.join(root, 'cni', 'networks');
}

/**
 * The default network's name for a data root: `skiff` for /var/lib/skiff, `skiff-<hash>` for
 * any other root. The name tags the plugins' iptables rules (`name: "NET" id: "ID"`), and a
 * root's deep recovery pass releases rules of its network whose ID it has no record of: with
 * one name for every root, one root's pass deleted another root's published ports.
 */
export function defaultNetworkName(root: string): string {
  const abs = path.resolve(root);
  return abs === DEFAULT_ROOT ? 'skiff' : `skiff-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`;
}

/** Builds Skiff's default conflist for a data root. */
export function defaultConfList(root: string, opts: DefaultNetworkOptions = {}): NetworkConfList {
  const subnet = opts.subnet ?? process.env.SKIFF_POD_CIDR ?? DEFAULT_POD_CIDR;
  parseCidr(subnet);
  const bridge = opts.bridge ?? 'skiff0';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new InvalidArgumentError(`invalid bridge name "${bridge}"`);
  return {
    cniVersion: '1.0.0',
    name: opts.name ?? defaultNetworkName(root),
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: ipamDataDir(root),
          routes: [{ dst: '0.0.0.0/0' }],
          ranges: [[{ subnet }]],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
    skiffMasquerade: { bridge, subnet },
  };
}

/** Checks the shape of a conflist (what libcni checks before running anything). */
export function validateConfList(raw: unknown, source: string): NetworkConfList {
  const c = raw as Partial<NetworkConfList> | null;
  const bad = (why: string) => new InvalidArgumentError(`network config ${source}: ${why}`);
  if (!c || typeof c !== 'object') throw bad('not a JSON object');
  if (typeof c.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(c.name)) throw bad('missing or invalid "name"');
  if (typeof c.cniVersion !== 'string' || !SUPPORTED_VERSIONS.includes(c.cniVersion)) {
    throw bad(`unsupported cniVersion ${JSON.stringify(c.cniVersion)} (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (!Array.isArray(c.plugins) || c.plugins.length === 0) throw bad('"plugins" must be a non-empty list');
  for (const p of c.plugins) {
    if (!p || typeof p.type !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(p.type)) throw bad('every plugin needs a "type"');
  }
  const m = c.skiffMasquerade;
  if (m !== undefined) {
    // Both end up in iptables rules: nothing but a bridge name and a CIDR may pass.
    if (!m || typeof m.bridge !== 'string' || !/^[A-Za-z0-9_.-]{1,15}$/.test(m.bridge)) throw bad('"skiffMasquerade.bridge" must be a bridge name');
    if (typeof m.subnet !== 'string') throw bad('"skiffMasquerade.subnet" must be a CIDR');
    parseCidr(m.subnet);
  }
  return c as NetworkConfList;
}

/**
 * Loads the network to use: the first `*.conflist` in `<root>/cni/net.d/`, writing the
 * default there first when the folder has none (under a lock, so two first commands agree).
 */
export async function loadNetwork(root: string, opts: DefaultNetworkOptions = {}): Promise<NetworkConfList> {
  const dir = confDir(root);
  const found = await firstConfList(dir);
  if (found) return found;
  return withLock(path.join(dir, '.default'), async () => {
    const again = await firstConfList(dir);
    if (again) return again;
    const conf = defaultConfList(root, opts);
    await writeJsonAtomic(path.join(dir, `87-${conf.name}.conflist`), conf);
    return conf;
  });
}

/** The network `loadNetwork` would use, without writing the default; undefined when none. */
export async function readNetwork(root: string): Promise<NetworkConfList | undefined> {
  return firstConfList(confDir(root));
}

async function firstConfList(dir: string): Promise<NetworkConfList | undefined> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.conflist') && !n.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!names.length) return undefined;
  const file = path.join(dir, names[0]);
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`network config ${file}: ${(err as Error).message}`);
  }
  return validateConfList(raw, file);
}

/** Parses an IPv4 CIDR into its network address (as a number) and prefix length. */
export function parseCidr(cidr: string): { base: number; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const parts = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : -1;
  if (!m || parts.some((p) => p > 255) || prefix < 8 || prefix > 30) {
    throw new InvalidArgumentError(`invalid pod CIDR "${cidr}" (want an IPv4 a.b.c.d/N with 8 <= N <= 30)`);
  }
  const base = ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (base & mask) >>> 0, prefix };
}
