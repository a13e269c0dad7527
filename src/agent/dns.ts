/**
 * A pod's resolv.conf as the kubelet forms it (pkg/kubelet/network/dns), pure:
 * - ClusterFirst: the cluster DNS servers only, search `<ns>.svc.<domain> svc.<domain> <domain>`
 *   followed by the host's search domains, `options ndots:5`; a hostNetwork pod, or a node
 *   without cluster DNS, falls back to Default;
 * - ClusterFirstWithHostNet: ClusterFirst, also for hostNetwork pods;
 * - Default: the node's resolv.conf (nameservers, search, options);
 * - None: nothing but `dnsConfig`.
 * `dnsConfig` is then appended to any policy: nameservers and searches without duplicates,
 * options merged by name (the pod's value wins). At most 3 nameservers and 32 search domains
 * (2048 characters) are kept, as the kubelet trims them.
 */
import type { KObject } from '../client/client.js';
import type { DnsOptions } from '../engine/network/files.js';

/** The node's resolver settings (its resolv.conf). */
export interface HostDns { servers: string[]; search: string[]; options: string[] }

/** What the kubelet is configured with. */
export interface ClusterDnsConfig { clusterDNS?: string[]; clusterDomain?: string }

const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;
const MAX_SEARCH_CHARS = 2048;

const unique = (xs: string[]) => [...new Set(xs)];

/** Options merged by name, later ones replacing earlier ones ("ndots:2" over "ndots:5"). */
function mergeOptions(base: string[], extra: { name?: string; value?: string }[]): string[] {
  const out = new Map<string, string>();
  for (const o of base) out.set(o.split(':')[0], o);
  for (const o of extra) if (o?.name) out.set(o.name, o.value !== undefined && o.value !== null ? `${o.name}:${o.value}` : o.name);
  return [...out.values()];
}

/** The DNS settings of `pod`'s sandbox (exact: nothing else is taken from the host). */
export function podDns(pod: KObject, host: HostDns, cfg: ClusterDnsConfig): DnsOptions {
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  const domain = cfg.clusterDomain ?? 'cluster.local';
  const hostNet = !!pod.spec?.hostNetwork;
  let out: HostDns;
  const cluster = (policy === 'ClusterFirst' && !hostNet) || policy === 'ClusterFirstWithHostNet';
  if (policy === 'None') out = { servers: [], search: [], options: [] };
  else if (cluster && cfg.clusterDNS?.length) {
    const ns = pod.metadata.namespace;
    out = { servers: [...cfg.clusterDNS], search: unique([`${ns}.svc.${domain}`, `svc.${domain}`, domain, ...host.search]), options: ['ndots:5'] };
  } else out = { servers: [...host.servers], search: [...host.search], options: [...host.options] };
  const extra = pod.spec?.dnsConfig;
  if (extra) {
    out.servers = unique([...out.servers, ...(extra.nameservers ?? [])]);
    out.search = unique([...out.search, ...(extra.searches ?? [])]);
    out.options = mergeOptions(out.options, extra.options ?? []);
  }
  let search = out.search.slice(0, MAX_SEARCHES);
  while (search.join(' ').length > MAX_SEARCH_CHARS) search = search.slice(0, -1);
  return { servers: out.servers.slice(0, MAX_NAMESERVERS), search, options: out.options, exact: true };
}
