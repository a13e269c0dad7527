/**
 * A last-resort sweep of the iptables rules the CNI plugins tagged with a sandbox's ID.
 *
 * The bridge plugin (1.1.1) removes its ipMasq rules on DEL only when it can still enter the
 * network namespace and read the interface's addresses; once the namespace is gone (pins
 * unmounted behind Skiff's back, or a crash between unpinning and DEL) those rules would
 * leak forever; the same happens when the interface was deleted inside a live namespace.
 * After every DEL, Skiff deletes every nat rule whose comment names the
 * network and the ID (`name: "NET" id: "ID"`, bridge's and portmap's format), then flushes
 * and deletes the per-sandbox chains those rules jumped to (CNI-<hash>, CNI-DN-<hash>).
 */
import { run } from './netns.js';

/** Removes nat rules and chains tagged for sandbox `id` on network `network`; returns how many rules. */
export async function sweepIptables(network: string, id: string): Promise<number> {
  const text = await run('iptables-save', ['-t', 'nat']).catch(() => '');
  const tag = `name: \\"${network}\\" id: \\"${id}\\"`;
  const chains = new Set<string>();
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('-A ') || !line.includes(tag)) continue;
    const args = splitRule(line);
    const j = args.indexOf('-j');
    const target = j >= 0 ? args[j + 1] : '';
    if (/^CNI-(DN-)?[0-9a-f]{12,}$/.test(target)) chains.add(target);
    if (/^CNI-(DN-)?[0-9a-f]{12,}$/.test(args[1])) chains.add(args[1]);
    args[0] = '-D';
    await run('iptables', ['-w', '-t', 'nat', ...args]).then(() => n++, () => {});
  }
  for (const c of chains) {
    await run('iptables', ['-w', '-t', 'nat', '-F', c]).catch(() => {});
    await run('iptables', ['-w', '-t', 'nat', '-X', c]).catch(() => {});
  }
  return n;
}

/** Splits an iptables-save rule line into arguments (double quotes, backslash escapes). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (ch === ' ' && !quoted) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}
