/**
 * The files a sandbox gives its containers to bind-mount: /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, written as podman writes them (localhost lines, the pod's own IP under
 * its hostname, and the host's resolvers minus loopback ones that a pod cannot reach).
 */
import fs from 'node:fs/promises';

/** DNS settings for a sandbox (`--dns`, `--dns-search`, `--dns-option`). */
export interface DnsOptions {
  servers?: string[];
  search?: string[];
  options?: string[];
  /** Use exactly these settings; by default each one left empty is taken from the host. */
  exact?: boolean;
}

/**
 * The settings of a resolv.conf: nameservers (loopback ones dropped unless `keepLoopback`: a
 * pod in its own network cannot reach them), the last search list, options.
 */
export function parseResolvConf(text: string, opts: { keepLoopback?: boolean } = {}): { servers: string[]; search: string[]; options: string[] } {
  const servers: string[] = [];
  const search: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const [key, ...vals] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && vals[0] && (opts.keepLoopback || !isLoopback(vals[0]))) servers.push(vals[0]);
    else if ((key === 'search' || key === 'domain') && vals.length) search.splice(0, search.length, ...vals);
    else if (key === 'options') options.push(...vals);
  }
  return { servers, search, options };
}

/** Content of /etc/hosts for a pod at `ip` (when it has one). */
export function hostsFile(hostname: string, ip?: string, gateway?: string, extra: string[] = []): string {
  const lines = [
    '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4',
    '::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6',
  ];
  if (ip) lines.push(`${ip}\t${hostname}`);
  else lines.push(`127.0.1.1\t${hostname}`);
  // The gateway is the host as seen from the pod (podman's host.containers.internal).
  if (gateway) lines.push(`${gateway}\thost.skiff.internal host.containers.internal`);
  return [...lines, ...extra].join('\n') + '\n';
}

/** Content of /etc/hosts for a sandbox in the host's network: the host's own file, then the extra lines. */
export function hostHostsFile(hostHosts: string, extra: string[] = []): string {
  const base = hostHosts && !hostHosts.endsWith('\n') ? hostHosts + '\n' : hostHosts;
  return base + extra.map((l) => l + '\n').join('');
}

/** Content of /etc/resolv.conf: the explicit options, else the host's usable settings. */
export function resolvConf(hostResolv: string, dns: DnsOptions = {}): string {
  const host = dns.exact ? { servers: [], search: [], options: [] } : parseResolvConf(hostResolv);
  const s = dns.servers?.length ? dns.servers : host.servers;
  const d = dns.search?.length ? dns.search : host.search;
  const o = dns.options?.length ? dns.options : host.options;
  const lines: string[] = [];
  if (d.length) lines.push(`search ${d.join(' ')}`);
  for (const ns of s) lines.push(`nameserver ${ns}`);
  if (o.length) lines.push(`options ${o.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** Reads the host's /etc/resolv.conf ('' when absent). */
export async function hostResolvConf(file = '/etc/resolv.conf'): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '');
}

/** Checks a hostname as RFC 1123 (what Kubernetes and runc accept). */
export function validHostname(h: string): boolean {
  return h.length <= 63 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(h);
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
