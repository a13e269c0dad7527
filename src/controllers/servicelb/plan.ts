/**
 * Which node addresses each LoadBalancer Service gets, as k3s' servicelb decides it (pure):
 * every Ready node listens on the Service's ports (its svclb pods take them as host ports),
 * so status.loadBalancer.ingress lists the nodes' ExternalIPs, or their InternalIPs when no
 * node has an ExternalIP; with externalTrafficPolicy Local only nodes running a ready
 * endpoint count. Two LoadBalancers cannot hold the same port and protocol on a node: the
 * older Service (creation time, then namespace/name) keeps it, the other stays pending with
 * no ingress, as its svclb pods would stay unschedulable. Services with a loadBalancerClass
 * belong to another implementation and are left alone.
 */
import type { KObject } from '../../client/client.js';

/** The plan for one LoadBalancer Service. */
export interface LoadBalancerPlan {
  /** Node addresses for status.loadBalancer.ingress, sorted. */
  ingress: string[];
  /** Set when a port is held by an older LoadBalancer: "80/TCP" and that Service's "ns/name". */
  conflict?: { port: string; holder: string };
}

/** True for the LoadBalancers this implementation serves. */
export function ours(svc: KObject): boolean {
  return svc.spec?.type === 'LoadBalancer' && !svc.spec?.loadBalancerClass;
}

const isReady = (n: KObject) => (n.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const key = (s: KObject) => `${s.metadata.namespace}/${s.metadata.name}`;
const age = (a: KObject, b: KObject) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) || key(a).localeCompare(key(b));

function nodeIPs(nodes: KObject[]): string[] {
  const ext = new Set<string>(), int = new Set<string>();
  for (const n of nodes) {
    for (const a of n.status?.addresses ?? []) {
      if (a.address?.includes(':')) continue; // IPv4 Services only here
      if (a.type === 'ExternalIP') ext.add(a.address);
      else if (a.type === 'InternalIP') int.add(a.address);
    }
  }
  return [...(ext.size ? ext : int)].sort();
}

/** Nodes with a ready endpoint of the Service (from its EndpointSlices). */
function nodesWithReadyEndpoints(slices: KObject[]): Set<string> {
  const out = new Set<string>();
  for (const s of slices) for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false && e.nodeName && e.targetRef?.kind === 'Pod') out.add(e.nodeName);
  return out;
}

/** Plans every LoadBalancer Service of `services` ("ns/name" → plan). */
export function planLoadBalancers(services: KObject[], nodes: KObject[], slicesOf: (svc: KObject) => KObject[]): Map<string, LoadBalancerPlan> {
  const held = new Map<string, string>(); // "80/TCP" -> holder
  const ready = nodes.filter(isReady);
  const out = new Map<string, LoadBalancerPlan>();
  for (const svc of services.filter(ours).sort(age)) {
    const ports: string[] = [...new Set<string>((svc.spec?.ports ?? []).map((p: any) => `${p.port}/${p.protocol ?? 'TCP'}`))];
    const taken = ports.find((p) => held.has(p));
    if (taken) {
      out.set(key(svc), { ingress: [], conflict: { port: taken, holder: held.get(taken)! } });
      continue;
    }
    for (const p of ports) held.set(p, key(svc));
    const local = svc.spec?.externalTrafficPolicy === 'Local' ? nodesWithReadyEndpoints(slicesOf(svc)) : undefined;
    out.set(key(svc), { ingress: nodeIPs(local ? ready.filter((n) => local.has(n.metadata.name!)) : ready) });
  }
  return out;
}
