/**
 * NodePorts: a pod whose containers ask for host ports fits only on a node where no other pod
 * holds the same port and protocol on an overlapping host IP (0.0.0.0, or unset, overlaps
 * every IP), as kube-scheduler's NodePorts filter.
 */
import { OK, unschedulable, type Plugin } from '../framework.js';
import type { KObject } from '../../client/client.js';

/** One host port a pod asks for. */
export interface HostPort { ip: string; protocol: string; port: number }

const KEY = 'NodePorts/ports';

/** The host ports of a pod's containers (and sidecars, which run alongside them). */
export function hostPorts(pod: KObject): HostPort[] {
  const spec = pod.spec ?? {};
  const out: HostPort[] = [];
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((x: any) => x?.restartPolicy === 'Always')]) {
    for (const p of c?.ports ?? []) {
      if (p?.hostPort > 0) out.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
    }
  }
  return out;
}

/** Whether two host ports collide. */
export function conflicts(a: HostPort, b: HostPort): boolean {
  return a.port === b.port && a.protocol === b.protocol && (a.ip === '0.0.0.0' || b.ip === '0.0.0.0' || a.ip === b.ip);
}

/** The NodePorts plugin. */
export const nodePorts: Plugin = {
  name: 'NodePorts',
  preFilter: (state, pod) => {
    state.set(KEY, hostPorts(pod));
    return OK;
  },
  filter: (state, pod, node) => {
    const want = (state.get(KEY) as HostPort[] | undefined) ?? hostPorts(pod);
    if (!want.length) return OK;
    for (const e of node.pods.values()) {
      if (e.pod.metadata?.uid === pod.metadata?.uid) continue;
      const used = hostPorts(e.pod);
      if (want.some((w) => used.some((u) => conflicts(w, u)))) return unschedulable("node(s) didn't have free ports for the requested pod ports");
    }
    return OK;
  },
};
