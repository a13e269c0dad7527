/**
 * Which endpoints a service port sends to, as kube-proxy's CategorizeEndpoints decides it:
 * - "Cluster" traffic uses the ready endpoints anywhere; when none is ready, those still
 *   serving while they terminate (so connections drain instead of failing);
 * - "Local" traffic (internalTrafficPolicy or externalTrafficPolicy Local) uses the ready
 *   endpoints on this node, else this node's serving-and-terminating ones;
 * - `hasAny` tells "no endpoints at all" (REJECT) from "none here" (DROP).
 */
import type { KObject } from '../client/client.js';

/** One endpoint address of a service port, with its EndpointSlice conditions. */
export interface Endpoint {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** On this node. */
  local: boolean;
}

/** The traffic-policy facts of one service port that decide the endpoint sets. */
export interface PolicyFacts {
  internalLocal: boolean;
  externalLocal: boolean;
  externallyAccessible: boolean;
}

/** The endpoints of a service port, by policy. */
export interface Categorized {
  cluster: Endpoint[];
  local: Endpoint[];
  hasAny: boolean;
}

/** The IPv4 endpoints of `slices` for the service port named `portName`/`protocol`, sorted. */
export function sliceEndpoints(slices: KObject[], portName: string, protocol: string, nodeName: string): Endpoint[] {
  const out = new Map<string, Endpoint>();
  for (const s of slices) {
    if (s.addressType && s.addressType !== 'IPv4') continue;
    const p = (s.ports ?? []).find((x: any) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol);
    if (!p?.port) continue;
    for (const e of s.endpoints ?? []) {
      // Unset ready means ready, unset serving means as ready, unset terminating means not (the API's rules).
      const ready = e.conditions?.ready !== false;
      const ep = {
        port: p.port, ready,
        serving: e.conditions?.serving ?? ready,
        terminating: e.conditions?.terminating ?? false,
        local: !!nodeName && e.nodeName === nodeName,
      };
      for (const ip of e.addresses ?? []) if (!out.has(`${ip}:${p.port}`)) out.set(`${ip}:${p.port}`, { ip, ...ep });
    }
  }
  return [...out.values()].sort((a, b) => a.ip.localeCompare(b.ip, undefined, { numeric: true }) || a.port - b.port);
}

const usesCluster = (f: PolicyFacts) => !f.internalLocal || (f.externallyAccessible && !f.externalLocal);
const usesLocal = (f: PolicyFacts) => f.internalLocal || f.externalLocal;

/** kube-proxy's endpoint categorization for one service port. */
export function categorize(eps: Endpoint[], f: PolicyFacts): Categorized {
  let cluster: Endpoint[] = [];
  let hasAny = false;
  if (usesCluster(f)) {
    cluster = eps.filter((e) => e.ready);
    if (!cluster.length) cluster = eps.filter((e) => e.serving && e.terminating);
    hasAny = cluster.length > 0;
  }
  if (!usesLocal(f)) return { cluster, local: [], hasAny };
  let local = eps.filter((e) => e.local && e.ready);
  if (!local.length) local = eps.filter((e) => e.local && e.serving && e.terminating);
  if (eps.some((e) => e.ready || (e.serving && e.terminating))) hasAny = true;
  return { cluster, local, hasAny };
}
