/**
 * Cluster DNS answers as Kubernetes' DNS specification defines them, as a pure function of
 * Services and EndpointSlices:
 * - `svc.ns.svc.<domain>` A: the ClusterIP; for a headless Service, the ready endpoints' IPs;
 *   for an ExternalName Service, a CNAME to its external name;
 * - `_port._proto.svc.ns.svc.<domain>` SRV for each named port (headless: one per endpoint,
 *   targeting `hostname.svc.ns.svc.<domain>` or the IP-derived name);
 * - `hostname.svc.ns.svc.<domain>` A for endpoints with a hostname (StatefulSet pods);
 * - `a-b-c-d.ns.pod.<domain>` A for pod IPs written with dashes.
 * Names under the domain that match nothing are NXDOMAIN; names outside it are not ours.
 */
import type { KObject } from '../client/client.js';

/** One answer record (dns-packet's shape). */
export type Answer =
  | { type: 'A'; name: string; ttl: number; data: string }
  | { type: 'CNAME'; name: string; ttl: number; data: string }
  | { type: 'SRV'; name: string; ttl: number; data: { priority: number; weight: number; port: number; target: string } };

/** The outcome of a lookup. */
export type Lookup = { kind: 'answer'; answers: Answer[] } | { kind: 'nxdomain' } | { kind: 'forward' };

/** Read access to the objects DNS needs. */
export interface DnsView {
  service(ns: string, name: string): KObject | undefined;
  slices(ns: string, service: string): KObject[];
  namespaceExists(ns: string): boolean;
}

/** Answers TTL, as CoreDNS' kubernetes plugin default. */
export const TTL = 5;

function readyEndpoints(view: DnsView, ns: string, svc: KObject): { ip: string; hostname?: string }[] {
  const out: { ip: string; hostname?: string }[] = [];
  const publish = !!svc.spec?.publishNotReadyAddresses;
  for (const s of view.slices(ns, svc.metadata.name!)) {
    for (const e of s.endpoints ?? []) {
      if (!publish && e.conditions?.ready === false) continue;
      for (const ip of e.addresses ?? []) out.push({ ip, ...(e.hostname ? { hostname: e.hostname } : {}) });
    }
  }
  return out;
}

const dashed = (ip: string) => ip.replace(/\./g, '-');

/** Resolves `qname` (lower case, no trailing dot) for record type `qtype` in `domain`. */
export function lookup(view: DnsView, domain: string, qname: string, qtype: string): Lookup {
  const name = qname.toLowerCase().replace(/\.$/, '');
  if (name !== domain && !name.endsWith(`.${domain}`)) return { kind: 'forward' };
  const labels = name.slice(0, Math.max(0, name.length - domain.length - 1)).split('.').filter(Boolean);
  const answer = (answers: Answer[]): Lookup => ({ kind: 'answer', answers });
  // a-b-c-d.ns.pod.<domain>
  if (labels.length === 3 && labels[2] === 'pod') {
    const ip = labels[0].replace(/-/g, '.');
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || !view.namespaceExists(labels[1])) return { kind: 'nxdomain' };
    return answer(qtype === 'A' || qtype === 'ANY' ? [{ type: 'A', name, ttl: TTL, data: ip }] : []);
  }
  if (labels[labels.length - 1] !== 'svc') return { kind: 'nxdomain' };
  const [ns, svcName] = [labels[labels.length - 2], labels[labels.length - 3]];
  if (!ns || !svcName) return view.namespaceExists(ns ?? '') || labels.length === 1 ? answer([]) : { kind: 'nxdomain' };
  const svc = view.service(ns, svcName);
  if (!svc) return { kind: 'nxdomain' };
  const base = `${svcName}.${ns}.svc.${domain}`;
  const rest = labels.slice(0, -3);
  const headless = svc.spec?.clusterIP === 'None';
  if (svc.spec?.type === 'ExternalName') {
    return rest.length ? { kind: 'nxdomain' } : answer([{ type: 'CNAME', name, ttl: TTL, data: String(svc.spec.externalName).replace(/\.$/, '') }]);
  }
  if (rest.length === 0) {
    if (qtype === 'SRV') {
      const eps = headless ? readyEndpoints(view, ns, svc) : [];
      return answer((svc.spec?.ports ?? []).filter((p: any) => p.name).flatMap((p: any) => srvFor(name, base, headless, eps, p)));
    }
    if (qtype !== 'A' && qtype !== 'ANY') return answer([]);
    if (!headless) return answer(svc.spec?.clusterIP ? [{ type: 'A', name, ttl: TTL, data: svc.spec.clusterIP }] : []);
    return answer(readyEndpoints(view, ns, svc).map((e) => ({ type: 'A' as const, name, ttl: TTL, data: e.ip })));
  }
  // _port._proto.svc.ns.svc.<domain>
  if (rest.length === 2 && rest[0].startsWith('_') && rest[1].startsWith('_')) {
    const port = (svc.spec?.ports ?? []).find((p: any) => p.name === rest[0].slice(1) && (p.protocol ?? 'TCP').toLowerCase() === rest[1].slice(1));
    if (!port) return { kind: 'nxdomain' };
    if (qtype !== 'SRV' && qtype !== 'ANY') return answer([]);
    return answer(srvFor(name, base, headless, headless ? readyEndpoints(view, ns, svc) : [], port));
  }
  // hostname.svc.ns.svc.<domain> (headless endpoints by hostname or dashed IP)
  if (rest.length === 1 && headless) {
    const hit = readyEndpoints(view, ns, svc).filter((e) => e.hostname === rest[0] || dashed(e.ip) === rest[0]);
    if (!hit.length) return { kind: 'nxdomain' };
    return answer(qtype === 'A' || qtype === 'ANY' ? hit.map((e) => ({ type: 'A' as const, name, ttl: TTL, data: e.ip })) : []);
  }
  return { kind: 'nxdomain' };
}

function srvFor(name: string, base: string, headless: boolean, eps: { ip: string; hostname?: string }[], port: any): Answer[] {
  if (!headless) return [{ type: 'SRV', name, ttl: TTL, data: { priority: 0, weight: 100, port: port.port, target: base } }];
  const weight = Math.floor(100 / Math.max(1, eps.length));
  return eps.map((e) => ({ type: 'SRV' as const, name, ttl: TTL, data: { priority: 0, weight, port: port.port, target: `${e.hostname ?? dashed(e.ip)}.${base}` } }));
}
