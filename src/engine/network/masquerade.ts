/**
 * One masquerade rule set per pod network, made by Skiff, instead of the bridge plugin's
 * `ipMasq` (which adds a chain and two rules per attachment: nine `iptables` processes on
 * every CNI ADD and six on every DEL, all serialised on the xtables lock, the largest cost of
 * starting 30 pods at once). Flannel does the same for k3s: the bridge gets `ipMasq: false`
 * and one rule covers the whole pod CIDR.
 *
 * The rules (nat table), equal to what bridge's ipMasq makes per pod:
 *   -A POSTROUTING -s <subnet> -m comment --comment "skiff masquerade <bridge> <subnet>" -j SKIFFNET-MASQ-<hash>
 *   -A SKIFFNET-MASQ-<hash> -d <subnet> -j RETURN          (pod to pod: addresses kept)
 *   -A SKIFFNET-MASQ-<hash> -d 224.0.0.0/4 -j RETURN       (multicast is not masqueraded)
 *   -A SKIFFNET-MASQ-<hash> -j MASQUERADE
 * The rules serve the bridge, so they live as long as pods use it: `skiff down` removes them
 * once no interface is attached to the bridge (another data root may share it).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { runCommand } from '../../lib/spawner.js';
import type { NetworkConfList } from './config.js';
import { run } from './netns.js';

/** What a conflist asks Skiff to masquerade (its top-level `skiffMasquerade` key). */
export interface MasqueradeSpec {
  /** The Linux bridge the pods are attached to. */
  bridge: string;
  /** The pod subnet whose traffic leaving it is masqueraded. */
  subnet: string;
}

/** The masquerade a conflist asks for, if any (libcni ignores the key; the plugins never see it). */
export function masqueradeOf(list: NetworkConfList): MasqueradeSpec | undefined {
  const m = list.skiffMasquerade as Partial<MasqueradeSpec> | undefined;
  return m && typeof m.bridge === 'string' && typeof m.subnet === 'string' ? { bridge: m.bridge, subnet: m.subnet } : undefined;
}

/** The chain and the POSTROUTING jump of a spec. */
export function masqueradeRules(m: MasqueradeSpec): { chain: string; jump: string[] } {
  const chain = `SKIFFNET-MASQ-${createHash('sha256').update(`${m.bridge} ${m.subnet}`).digest('hex').slice(0, 12).toUpperCase()}`;
  return { chain, jump: ['-s', m.subnet, '-m', 'comment', '--comment', `skiff masquerade ${m.bridge} ${m.subnet}`, '-j', chain] };
}

/** When each chain was last seen in place (ms): checked again after RECHECK_MS. */
const checked = new Map<string, number>();
const RECHECK_MS = 30_000;

/**
 * Makes sure the masquerade rules exist (one `iptables -C`, at most every 30 s per process;
 * when missing, one atomic `iptables-restore --noflush` writes the chain and its jump).
 */
export async function ensureMasquerade(m: MasqueradeSpec): Promise<void> {
  const { chain, jump } = masqueradeRules(m);
  const at = checked.get(chain);
  if (at !== undefined && Date.now() - at < RECHECK_MS) return;
  const present = await run('iptables', ['-w', '-t', 'nat', '-C', 'POSTROUTING', ...jump]).then(() => true, () => false);
  if (!present) {
    // Declaring the chain flushes it even with --noflush: rewriting is idempotent.
    const input = ['*nat', `:${chain} - [0:0]`,
      `-A ${chain} -d ${m.subnet} -j RETURN`, `-A ${chain} -d 224.0.0.0/4 -j RETURN`, `-A ${chain} -j MASQUERADE`,
      `-A POSTROUTING ${jump.map(quote).join(' ')}`, 'COMMIT', ''].join('\n');
    const r = await runCommand('iptables-restore', ['--noflush', '-w', '5'], { input });
    if (r.code !== 0) throw new Error(`iptables-restore: ${r.stderr.trim() || `exit ${r.code}`}`);
    // Two processes may both have found it missing: keep one jump.
    while (await run('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING']).then((s) => s.split('\n').filter((l) => l.includes(`-j ${chain}`)).length > 1, () => false)) {
      await run('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', ...jump]);
    }
  }
  checked.set(chain, Date.now());
}

/** Removes the masquerade rules when no interface is attached to the bridge any more; true when removed. */
export async function releaseMasquerade(m: MasqueradeSpec): Promise<boolean> {
  const ports = await fs.readdir(`/sys/class/net/${m.bridge}/brif`).catch(() => [] as string[]);
  if (ports.length) return false;
  const { chain, jump } = masqueradeRules(m);
  while (await run('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', ...jump]).then(() => true, () => false));
  await run('iptables', ['-w', '-t', 'nat', '-F', chain]).catch(() => {});
  await run('iptables', ['-w', '-t', 'nat', '-X', chain]).catch(() => {});
  checked.delete(chain);
  return true;
}

function quote(a: string): string {
  return /^[A-Za-z0-9_./:-]+$/.test(a) ? a : `"${a.replace(/(["\\])/g, '\\$1')}"`;
}
