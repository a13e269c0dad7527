/**
 * Crash recovery: finds what a killed `skiff` left half made or half removed and releases
 * it, as a driver's `recover` does after an agent restart.
 *
 * Quick pass (cheap file reads, run by every `skiff pod` command):
 *   - records `creating`/`removing` whose owner process is dead → torn down (CNI DEL with the
 *     recorded config, pins unmounted, record removed); `starting`/`stopping` → stopped;
 *   - records `ready` whose pins are gone (the namespaces died, e.g. a reboot) → network
 *     released, record kept as `stopped`;
 *   - namespace pins under <root>/run/sandboxes/ with no record → unmounted;
 *   - CNI cache entries and host-local IP allocations naming no record → CNI DEL.
 * Deep pass (adds `iptables-save`): iptables rules whose CNI comment names this network and
 * a container ID with no record → CNI DEL for that ID (bridge ipMasq and portmap remove
 * their own chains and rules by container ID).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { withLock } from '../../lib/lock.js';
import { cachedConfList } from './cni.js';
import { ipamDataDir, readNetwork } from './config.js';
import { mountPoints, run, unpinNamespaces } from './netns.js';
import { sweepIptables } from './iptables.js';
import { ownerAlive } from './owner.js';
import { LOOPBACK_NETWORK, POD_IFNAME, SandboxManager } from './sandbox.js';

/** What a recovery pass released. */
export interface RecoveryReport {
  /** Sandboxes torn down (their creation or removal had been interrupted). */
  removed: string[];
  /** Sandboxes whose namespaces were gone, or whose start/stop was cut short: now `stopped`. */
  stopped: string[];
  /** Container IDs with orphaned CNI state (cache, IPs, iptables) released. */
  orphans: string[];
  /** Namespace pin folders with no record, unmounted (also listed in `orphans`). */
  pins: string[];
}

/** Releases whatever no living sandbox owns. `deep` also scans iptables. */
export async function recover(mgr: SandboxManager, opts: { deep?: boolean } = {}): Promise<RecoveryReport> {
  const report: RecoveryReport = { removed: [], stopped: [], orphans: [], pins: [] };
  const mounts = await mountPoints();
  const recs = await mgr.list();
  const known = new Set(recs.map((r) => r.id));

  for (const rec of recs) {
    const busy = rec.state !== 'ready' && rec.state !== 'stopped';
    const lost = rec.state === 'ready' && !SandboxManager.alive(rec, mounts);
    if (!busy && !lost) continue;
    if (busy && rec.owner && (await ownerAlive(rec.owner))) continue;
    const remove = rec.state === 'creating' || rec.state === 'removing';
    await withLock(mgr.lockPath(rec.id), async () => {
      const cur = await mgr.load(rec.id);
      if (!cur || cur.state !== rec.state) return; // someone else got there first
      if (remove) {
        await mgr.teardown(cur, mounts);
        report.removed.push(cur.id);
      } else {
        await mgr.markStopped(cur, mounts);
        report.stopped.push(cur.id);
      }
    });
  }

  // CNI state naming no record: cache entries, IP allocations, namespace pins (a record is
  // written before any of them, so only a hand-deleted record or a crash mid-removal leaves
  // these) and, in the deep pass, iptables rules.
  const orphans = new Set<string>();
  const runRoot = path.join(mgr.root, 'run', 'sandboxes');
  const pinned = new Set((await fs.readdir(runRoot).catch(() => [] as string[])).filter((id) => !known.has(id)));
  for (const id of pinned) orphans.add(id);
  const cached = await mgr.cni.listCached();
  for (const e of cached) if (!known.has(e.containerId)) orphans.add(e.containerId);
  for (const id of await ipamOwners(mgr.root)) if (!known.has(id)) orphans.add(id);
  // A broken or missing conflist must not stop recovery (nor `pod ps`): cached attachments
  // carry their own config; only cache-less orphans need the current one.
  const network = await readNetwork(mgr.root).catch(() => undefined);
  if (opts.deep && network) for (const id of await iptablesOwners(network.name)) if (!known.has(id)) orphans.add(id);
  const cache = new Map(cached.filter((e) => e.ifName === POD_IFNAME).map((e) => [e.containerId, e]));
  for (const id of orphans) {
    // Recheck: a sandbox being created right now writes its record before any CNI state.
    if (await mgr.load(id)) continue;
    const dir = path.join(runRoot, id);
    const netns = mounts.has(path.join(dir, 'net')) ? path.join(dir, 'net') : '';
    const entry = cache.get(id);
    const list = entry ? cachedConfList(entry) : network;
    if (list) {
      await mgr.cni.del(list, { containerId: id, netns, ifName: POD_IFNAME, args: [['IgnoreUnknown', '1']] });
      await sweepIptables(list.name, id);
    }
    await mgr.cni.del(LOOPBACK_NETWORK, { containerId: id, netns, ifName: 'lo' });
    if (pinned.has(id)) {
      await unpinNamespaces(dir, mounts);
      report.pins.push(id);
    }
    report.orphans.push(id);
  }
  return report;
}

/** Container IDs holding host-local allocations under the data root (file content: "ID\r\nIFNAME"). */
export async function ipamOwners(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const base = ipamDataDir(root);
  for (const net of await fs.readdir(base).catch(() => [] as string[])) {
    const dir = path.join(base, net);
    for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f.:]+$/i.test(f)) continue; // skip lock and last_reserved_ip.* files
      const text = await fs.readFile(path.join(dir, f), 'utf8').catch(() => '');
      const id = text.split(/\r?\n/)[0].trim();
      if (id) out.add(id);
    }
  }
  return out;
}

/**
 * Sandbox IDs named in the CNI rule comments of network `name` in the iptables ruleset
 * (bridge: `name: "NET" id: "ID"`, portmap: `dnat name: "NET" id: "ID"`). Other data roots
 * must use other network names, or this would claim their rules.
 */
export async function iptablesOwners(name: string): Promise<Set<string>> {
  const out = new Set<string>();
  const text = await run('iptables-save', []).catch(() => '');
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`name: \\\\"${esc}\\\\" id: \\\\"([0-9a-f]{64})\\\\"`, 'g');
  for (const m of text.matchAll(re)) out.add(m[1]);
  return out;
}
