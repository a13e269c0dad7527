/**
 * The service data path as kube-proxy's iptables mode builds it, as a pure function of
 * Services and EndpointSlices: an `iptables-restore` input for the nat table holding only
 * Skiff's chains.
 *
 *   PREROUTING/OUTPUT -> SKIFF-SERVICES: -d clusterIP -p proto --dport port -> SKIFF-SVC-<h>
 *                        last: dst-type LOCAL -> SKIFF-NODEPORTS: --dport nodePort -> SKIFF-EXT-<h>
 *   SKIFF-EXT-<h>: mark for masquerade, -> SKIFF-SVC-<h>
 *   SKIFF-SVC-<h>: traffic not from a pod is marked for masquerade; then one of the ready
 *                  endpoints at random (-m statistic --probability 1/n, 1/(n-1), ...)
 *   SKIFF-SEP-<h>: hairpin mark, DNAT to endpointIP:port
 *   POSTROUTING -> SKIFF-POSTROUTING: marked packets are masqueraded
 * ClientIP session affinity uses `-m recent`, as kube-proxy does.
 */
import { createHash } from 'node:crypto';
import type { KObject } from '../client/client.js';

/** The fwmark bit that asks for masquerade (kube-proxy's 0x4000). */
export const MASQ_MARK = '0x4000/0x4000';

/** Chains Skiff owns in the nat table. */
export const BASE_CHAINS = ['SKIFF-SERVICES', 'SKIFF-NODEPORTS', 'SKIFF-POSTROUTING', 'SKIFF-MARK-MASQ'];

/** Jumps from the built-in chains into Skiff's (installed once, removed by cleanup). */
export const JUMPS: [chain: string, rule: string[]][] = [
  ['PREROUTING', ['-m', 'comment', '--comment', 'skiff service portals', '-j', 'SKIFF-SERVICES']],
  ['OUTPUT', ['-m', 'comment', '--comment', 'skiff service portals', '-j', 'SKIFF-SERVICES']],
  ['POSTROUTING', ['-m', 'comment', '--comment', 'skiff postrouting rules', '-j', 'SKIFF-POSTROUTING']],
];

function hash(prefix: string, s: string): string {
  // Base32 of a SHA-256, as kube-proxy names its chains; 16 characters keep names under 29.
  const b = createHash('sha256').update(s).digest();
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, val = 0, out = '';
  for (const byte of b) {
    val = (val << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) { out += A[(val >>> (bits - 5)) & 31]; bits -= 5; }
    if (out.length >= 16) break;
  }
  return `${prefix}${out}`;
}

interface Endpoint { ip: string; port: number }

/** The ready (or, when none is ready, serving-and-terminating) endpoints of one service port. */
export function endpointsFor(slices: KObject[], portName: string, protocol: string): Endpoint[] {
  const ready: Endpoint[] = [], serving: Endpoint[] = [];
  for (const s of slices) {
    if (s.addressType && s.addressType !== 'IPv4') continue;
    const p = (s.ports ?? []).find((x: any) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol);
    if (!p) continue;
    for (const e of s.endpoints ?? []) {
      const list = e.conditions?.ready !== false ? ready : e.conditions?.serving && e.conditions?.terminating ? serving : undefined;
      for (const ip of e.addresses ?? []) list?.push({ ip, port: p.port });
    }
  }
  const out = ready.length ? ready : serving;
  return out.sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
}

/** The nat table content for these services; `existing` chains no longer wanted are deleted. */
export function natRules(services: KObject[], slicesOf: (svc: KObject) => KObject[], podCidr: string, existing: string[]): string {
  const chains = new Set(BASE_CHAINS);
  const rules: string[] = [];
  const add = (...r: string[]) => rules.push(r.join(' '));
  add('-A SKIFF-MARK-MASQ -j MARK --or-mark 0x4000');
  add('-A SKIFF-POSTROUTING -m mark ! --mark', MASQ_MARK, '-j RETURN');
  add('-A SKIFF-POSTROUTING -j MARK --xor-mark 0x4000');
  add('-A SKIFF-POSTROUTING -j MASQUERADE --random-fully');
  for (const svc of [...services].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))) {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === 'None' || svc.spec?.type === 'ExternalName') continue;
    const affinity = svc.spec?.sessionAffinity === 'ClientIP' ? (svc.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0;
    for (const sp of svc.spec?.ports ?? []) {
      const proto = (sp.protocol ?? 'TCP').toLowerCase();
      if (proto === 'sctp') continue;
      const id = `${svc.metadata.namespace}/${svc.metadata.name}:${sp.name ?? ''}/${proto}`;
      const comment = `"${svc.metadata.namespace}/${svc.metadata.name}${sp.name ? `:${sp.name}` : ''}"`;
      const eps = endpointsFor(slicesOf(svc), sp.name ?? '', sp.protocol ?? 'TCP');
      if (!eps.length) continue; // no endpoints: no portal (the connection is refused by the host)
      const svcChain = hash('SKIFF-SVC-', id);
      chains.add(svcChain);
      add('-A SKIFF-SERVICES -m comment --comment', `${comment.slice(0, -1)} cluster IP"`, `-d ${ip}/32 -p ${proto} -m ${proto} --dport ${sp.port} -j ${svcChain}`);
      if ((svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer') && sp.nodePort) {
        const ext = hash('SKIFF-EXT-', id);
        chains.add(ext);
        add('-A SKIFF-NODEPORTS -m comment --comment', comment, `-p ${proto} -m ${proto} --dport ${sp.nodePort} -j ${ext}`);
        add(`-A ${ext} -j SKIFF-MARK-MASQ`);
        add(`-A ${ext} -j ${svcChain}`);
      }
      // Traffic to the cluster IP that does not come from a pod (the host, a node port) is masqueraded.
      add(`-A ${svcChain} ! -s ${podCidr} -d ${ip}/32 -p ${proto} -m ${proto} --dport ${sp.port} -j SKIFF-MARK-MASQ`);
      const seps = eps.map((e) => ({ ...e, chain: hash('SKIFF-SEP-', `${id}:${e.ip}:${e.port}`) }));
      if (affinity) for (const e of seps) add(`-A ${svcChain} -m recent --name ${e.chain} --rcheck --seconds ${affinity} --reap -j ${e.chain}`);
      seps.forEach((e, i) => {
        const left = seps.length - i;
        add(`-A ${svcChain}`, left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '', `-j ${e.chain}`);
        chains.add(e.chain);
        add(`-A ${e.chain} -s ${e.ip}/32 -j SKIFF-MARK-MASQ`);
        add(`-A ${e.chain} -p ${proto} -m ${proto}`, affinity ? `-m recent --name ${e.chain} --set` : '', `-j DNAT --to-destination ${e.ip}:${e.port}`);
      });
    }
  }
  add('-A SKIFF-SERVICES -m comment --comment "skiff service nodeports" -m addrtype --dst-type LOCAL -j SKIFF-NODEPORTS');
  const stale = existing.filter((c) => /^SKIFF-(SVC|SEP|EXT)-/.test(c) && !chains.has(c));
  return ['*nat', ...[...chains, ...stale].map((c) => `:${c} - [0:0]`), ...rules.map((r) => r.replace(/ +/g, ' ')), ...stale.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}
