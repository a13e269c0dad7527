/**
 * The service data path as kube-proxy's iptables mode builds it, as a pure function of
 * Services and EndpointSlices: an `iptables-restore` input for the filter and nat tables
 * holding only Skiff's chains.
 *
 *   nat PREROUTING/OUTPUT -> SKIFF-SERVICES:
 *       -d clusterIP --dport port          -> SKIFF-SVC-<h> (or SKIFF-SVL-<h>: internalTrafficPolicy Local)
 *       -d externalIP|LB ingress IP --dport -> SKIFF-EXT-<h>
 *       last: dst-type LOCAL -> SKIFF-NODEPORTS: --dport nodePort -> SKIFF-EXT-<h>
 *   SKIFF-EXT-<h>: Cluster policy: mark for masquerade, -> SKIFF-SVC-<h>
 *                  Local policy: pods -> SKIFF-SVC-<h>; the host (masqueraded) -> SKIFF-SVC-<h>;
 *                  others -> SKIFF-SVL-<h> (source kept)
 *   SKIFF-SVC-<h> / SKIFF-SVL-<h>: traffic not from a pod to the cluster IP is marked; then one
 *                  endpoint at random (-m statistic --probability 1/n, 1/(n-1), ...)
 *   SKIFF-SEP-<h>: hairpin mark, DNAT to endpointIP:port
 *   nat POSTROUTING -> SKIFF-POSTROUTING: marked packets are masqueraded
 *   filter: SKIFF-SERVICES (FORWARD, OUTPUT) and SKIFF-EXTERNAL-SERVICES (INPUT, FORWARD) REJECT
 *           ports without endpoints (DROP where there are endpoints, but none on this node);
 *           SKIFF-NODEPORTS (INPUT) accepts health check node ports; SKIFF-FORWARD accepts
 *           masqueraded and established traffic; SKIFF-FIREWALL drops outside traffic to
 *           127.0.0.0/8 (route_localnet is on for node ports on localhost).
 * ClientIP session affinity uses `-m recent`, as kube-proxy does.
 */
import { createHash } from 'node:crypto';
import type { KObject } from '../client/client.js';
import { categorize, sliceEndpoints, type Endpoint } from './endpoints.js';

/** The fwmark bit that asks for masquerade (kube-proxy's 0x4000). */
export const MASQ_MARK = '0x4000/0x4000';

/** Chains Skiff always has, per table. */
export const BASE_CHAINS = {
  nat: ['SKIFF-SERVICES', 'SKIFF-NODEPORTS', 'SKIFF-POSTROUTING', 'SKIFF-MARK-MASQ'],
  filter: ['SKIFF-SERVICES', 'SKIFF-EXTERNAL-SERVICES', 'SKIFF-NODEPORTS', 'SKIFF-FORWARD', 'SKIFF-FIREWALL'],
};

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'];
const jump = (comment: string, target: string, extra: string[] = []) => ['-m', 'comment', '--comment', comment, ...extra, '-j', target];

/** Jumps from the built-in chains into Skiff's (installed once, first in their chain; removed by cleanup). */
export const JUMPS: [table: 'nat' | 'filter', chain: string, rule: string[]][] = [
  ['nat', 'PREROUTING', jump('skiff service portals', 'SKIFF-SERVICES')],
  ['nat', 'OUTPUT', jump('skiff service portals', 'SKIFF-SERVICES')],
  ['nat', 'POSTROUTING', jump('skiff postrouting rules', 'SKIFF-POSTROUTING')],
  ['filter', 'INPUT', jump('skiff externally-visible service portals', 'SKIFF-EXTERNAL-SERVICES', NEW)],
  ['filter', 'FORWARD', jump('skiff externally-visible service portals', 'SKIFF-EXTERNAL-SERVICES', NEW)],
  ['filter', 'INPUT', jump('skiff health check service ports', 'SKIFF-NODEPORTS')],
  ['filter', 'FORWARD', jump('skiff service portals', 'SKIFF-SERVICES', NEW)],
  ['filter', 'OUTPUT', jump('skiff service portals', 'SKIFF-SERVICES', NEW)],
  ['filter', 'FORWARD', jump('skiff forwarding rules', 'SKIFF-FORWARD')],
  ['filter', 'INPUT', jump('skiff firewall for localhost node ports', 'SKIFF-FIREWALL')],
];

/** Per-service chains of the nat table (made and deleted as Services come and go). */
export const SERVICE_CHAIN = /^SKIFF-(SVC|SVL|EXT|SEP)-/;

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

/** What the rules are computed from. */
export interface RulesInput {
  services: KObject[];
  slicesOf: (svc: KObject) => KObject[];
  /** The pod CIDR: traffic from elsewhere to a cluster IP is masqueraded. */
  podCidr: string;
  /** This node's name: endpoints on it are "local". */
  nodeName: string;
  /** Skiff's chains now in the nat table (stale per-service ones are deleted). */
  existingNat: string[];
}

/** The load balancer IPs kube-proxy captures (not those with ipMode Proxy). */
export function loadBalancerIPs(svc: KObject): string[] {
  if (svc.spec?.type !== 'LoadBalancer') return [];
  return (svc.status?.loadBalancer?.ingress ?? []).filter((i: any) => i?.ip && i.ipMode !== 'Proxy' && !i.ip.includes(':')).map((i: any) => i.ip);
}

/** The number of ready endpoints on this node per Service ("ns/name"), for health checks. */
export function localReadyEndpoints(svc: KObject, slices: KObject[], nodeName: string): number {
  const ips = new Set<string>();
  for (const p of svc.spec?.ports ?? []) {
    for (const e of sliceEndpoints(slices, p.name ?? '', p.protocol ?? 'TCP', nodeName)) if (e.local && e.ready) ips.add(e.ip);
  }
  return ips.size;
}

const byName = (a: KObject, b: KObject) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`);

/** The `iptables-restore --noflush` input (filter then nat) for these Services. */
export function proxyRules(input: RulesInput): string {
  const natChains = new Set(BASE_CHAINS.nat);
  const nat: string[] = [];
  const filter: string[] = [];
  const n = (...r: (string | number)[]) => nat.push(r.join(' '));
  const f = (...r: (string | number)[]) => filter.push(r.join(' '));
  n('-A SKIFF-MARK-MASQ -j MARK --or-mark 0x4000');
  n('-A SKIFF-POSTROUTING -m mark ! --mark', MASQ_MARK, '-j RETURN');
  n('-A SKIFF-POSTROUTING -j MARK --xor-mark 0x4000');
  n('-A SKIFF-POSTROUTING -m comment --comment "skiff service traffic requiring SNAT" -j MASQUERADE --random-fully');
  f('-A SKIFF-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP');

  for (const svc of [...input.services].sort(byName)) {
    const clusterIP = svc.spec?.clusterIP;
    if (!clusterIP || clusterIP === 'None' || svc.spec?.type === 'ExternalName') continue;
    const name = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const lbIPs = loadBalancerIPs(svc);
    const externalIPs: string[] = (svc.spec?.externalIPs ?? []).filter((ip: string) => !ip.includes(':'));
    const affinity = svc.spec?.sessionAffinity === 'ClientIP' ? (svc.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0;
    for (const sp of svc.spec?.ports ?? []) {
      const proto = (sp.protocol ?? 'TCP').toLowerCase();
      if (proto === 'sctp') continue;
      const id = `${name}:${sp.name ?? ''}/${proto}`;
      const label = `${name}${sp.name ? `:${sp.name}` : ''}`;
      const nodePort = (svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer') ? sp.nodePort : undefined;
      const facts = {
        internalLocal: svc.spec?.internalTrafficPolicy === 'Local',
        externallyAccessible: !!nodePort || lbIPs.length > 0 || externalIPs.length > 0,
        externalLocal: false,
      };
      facts.externalLocal = facts.externallyAccessible && svc.spec?.externalTrafficPolicy === 'Local';
      const all = sliceEndpoints(input.slicesOf(svc), sp.name ?? '', sp.protocol ?? 'TCP', input.nodeName);
      const eps = categorize(all, facts);
      const svcChain = hash('SKIFF-SVC-', id), svlChain = hash('SKIFF-SVL-', id), extChain = hash('SKIFF-EXT-', id);
      const internalChain = facts.internalLocal ? svlChain : svcChain;
      const hasInternal = eps.hasAny && (!facts.internalLocal || eps.local.length > 0);
      const hasExternal = eps.hasAny && (!facts.externalLocal || eps.local.length > 0);
      const usesExt = eps.hasAny && facts.externallyAccessible;
      // The Cluster chain also serves the Local policy's short-circuits (pods, the host).
      const cluster = eps.cluster.length || !(usesExt && facts.externalLocal) ? eps.cluster : categorize(all, { ...facts, internalLocal: false, externalLocal: false }).cluster;
      // No endpoints at all: REJECT (icmp port unreachable); endpoints, but none on this node: DROP.
      const [filterTarget, filterComment] = eps.hasAny ? ['DROP', `"${label} has no local endpoints"`] : ['REJECT', `"${label} has no endpoints"`];
      const portMatch = `-m ${proto} -p ${proto}`;

      if (hasInternal) n('-A SKIFF-SERVICES -m comment --comment', `"${label} cluster IP"`, portMatch, `-d ${clusterIP}/32 --dport ${sp.port} -j ${internalChain}`);
      else f('-A SKIFF-SERVICES -m comment --comment', filterComment, portMatch, `-d ${clusterIP}/32 --dport ${sp.port} -j ${filterTarget}`);
      for (const [ip, kind] of [...externalIPs.map((x) => [x, 'external IP']), ...lbIPs.map((x) => [x, 'loadbalancer IP'])]) {
        if (usesExt) n('-A SKIFF-SERVICES -m comment --comment', `"${label} ${kind}"`, portMatch, `-d ${ip}/32 --dport ${sp.port} -j ${extChain}`);
        if (!hasExternal) f('-A SKIFF-EXTERNAL-SERVICES -m comment --comment', filterComment, portMatch, `-d ${ip}/32 --dport ${sp.port} -j ${filterTarget}`);
      }
      if (nodePort) {
        if (usesExt) n('-A SKIFF-NODEPORTS -m comment --comment', `"${label}"`, portMatch, `--dport ${nodePort} -j ${extChain}`);
        if (!hasExternal) f('-A SKIFF-EXTERNAL-SERVICES -m comment --comment', filterComment, '-m addrtype --dst-type LOCAL', portMatch, `--dport ${nodePort} -j ${filterTarget}`);
      }
      if (svc.spec?.healthCheckNodePort && sp === svc.spec.ports[0]) {
        f('-A SKIFF-NODEPORTS -m comment --comment', `"${name} health check node port"`, `-m tcp -p tcp --dport ${svc.spec.healthCheckNodePort} -j ACCEPT`);
      }
      // Traffic to the cluster IP that does not come from a pod (the host, another network) is masqueraded.
      if (hasInternal) n(`-A ${internalChain} -m comment --comment`, `"${label} cluster IP"`, portMatch, `-d ${clusterIP}/32 --dport ${sp.port} ! -s ${input.podCidr} -j SKIFF-MARK-MASQ`);
      if (usesExt) {
        natChains.add(extChain);
        if (!facts.externalLocal) n(`-A ${extChain} -m comment --comment`, `"masquerade traffic for ${label} external destinations"`, '-j SKIFF-MARK-MASQ');
        else {
          // Pods reach external addresses as if through an outside load balancer: Cluster policy.
          // The host's own traffic must be masqueraded (its source is the LB IP) and goes to Cluster too.
          n(`-A ${extChain} -m comment --comment`, `"pod traffic for ${label} external destinations"`, `-s ${input.podCidr} -j ${svcChain}`);
          n(`-A ${extChain} -m comment --comment`, `"masquerade LOCAL traffic for ${label} external destinations"`, '-m addrtype --src-type LOCAL -j SKIFF-MARK-MASQ');
          n(`-A ${extChain} -m comment --comment`, `"route LOCAL traffic for ${label} external destinations"`, `-m addrtype --src-type LOCAL -j ${svcChain}`);
        }
        if (hasExternal) n(`-A ${extChain} -j ${facts.externalLocal ? svlChain : svcChain}`);
      }
      const sep = (e: Endpoint) => hash('SKIFF-SEP-', `${id}:${e.ip}:${e.port}`);
      const toEndpoints = (chain: string, list: Endpoint[]) => {
        natChains.add(chain);
        if (affinity) for (const e of list) n(`-A ${chain} -m comment --comment`, `"${label}"`, `-m recent --name ${sep(e)} --mask 255.255.255.255 --rsource --rcheck --seconds ${affinity} --reap -j ${sep(e)}`);
        list.forEach((e, i) => {
          const left = list.length - i;
          n(`-A ${chain} -m comment --comment`, `"${label} -> ${e.ip}:${e.port}"`, left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '', `-j ${sep(e)}`);
        });
      };
      const usesCluster = cluster.length > 0 && (!facts.internalLocal || (facts.externallyAccessible));
      if (usesCluster) toEndpoints(svcChain, cluster);
      if (eps.local.length > 0 && (facts.internalLocal || facts.externalLocal)) toEndpoints(svlChain, eps.local);
      const reachable = [...(usesCluster ? cluster : []), ...eps.local.filter((l) => !usesCluster || !cluster.includes(l))];
      for (const e of reachable) {
        const chain = sep(e);
        natChains.add(chain);
        n(`-A ${chain} -m comment --comment`, `"${label}"`, `-s ${e.ip}/32 -j SKIFF-MARK-MASQ`);
        n(`-A ${chain} -m comment --comment`, `"${label}"`, portMatch, affinity ? `-m recent --name ${chain} --mask 255.255.255.255 --rsource --set` : '', `-j DNAT --to-destination ${e.ip}:${e.port}`);
      }
    }
  }
  n('-A SKIFF-SERVICES -m comment --comment "skiff service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j SKIFF-NODEPORTS');
  f('-A SKIFF-FORWARD -m comment --comment "skiff forwarding rules" -m mark --mark', MASQ_MARK, '-j ACCEPT');
  f('-A SKIFF-FORWARD -m comment --comment "skiff forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  const stale = input.existingNat.filter((c) => SERVICE_CHAIN.test(c) && !natChains.has(c));
  const tidy = (r: string) => r.replace(/ +/g, ' ');
  return [
    '*filter', ...BASE_CHAINS.filter.map((c) => `:${c} - [0:0]`), ...filter.map(tidy), 'COMMIT',
    '*nat', ...[...natChains, ...stale].map((c) => `:${c} - [0:0]`), ...nat.map(tidy), ...stale.map((c) => `-X ${c}`), 'COMMIT', '',
  ].join('\n');
}
