/**
 * What a Service's endpoints should be, as a pure function of the Service and the pods in its
 * namespace: the EndpointSlice controller's and the Endpoints controller's shared arithmetic.
 * Pods without an IP, finished pods and pods not matching the selector are left out; a
 * terminating pod stays in with ready=false, terminating=true and serving = its readiness (so
 * a proxy can drain to it while nothing else is left), as Kubernetes 1.26+.
 */
import type { KObject } from '../../client/client.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { isPodReady } from '../pods.js';

/** One endpoint of a slice (discovery.k8s.io/v1 Endpoint). */
export interface SliceEndpoint {
  addresses: string[];
  /** The pod's hostname when its subdomain is this Service (StatefulSet pods' DNS names). */
  hostname?: string;
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  nodeName?: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
}

/** One resolved service port (EndpointPort). */
export interface SlicePort { name: string; port: number; protocol: string; appProtocol?: string }

/** A group of endpoints sharing one resolved port list (named targetPorts can differ by pod). */
export interface EndpointGroup { ports: SlicePort[]; endpoints: SliceEndpoint[] }

/** Endpoints per slice, as Kubernetes' --max-endpoints-per-slice default. */
export const MAX_PER_SLICE = 100;

/** Resolves a service port's targetPort against a pod (named ports look up container ports). */
export function resolvePort(svcPort: any, pod: KObject): number | undefined {
  const t = svcPort.targetPort ?? svcPort.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(String(t))) return Number(t);
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === t && (p.protocol ?? 'TCP') === (svcPort.protocol ?? 'TCP')) return p.containerPort;
  }
  return undefined;
}

/** True when the pod belongs in the Service's endpoints at all. */
export function podIncluded(svc: KObject, pod: KObject): boolean {
  if (!pod.status?.podIP) return false;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  if (pod.metadata.namespace !== svc.metadata.namespace) return false;
  return selectorObjectMatcher({ matchLabels: svc.spec?.selector ?? {} })(pod.metadata.labels ?? {});
}

/** The Service's endpoints grouped by resolved ports, endpoints sorted by pod name (stable output). */
export function desiredGroups(svc: KObject, pods: KObject[]): EndpointGroup[] {
  const groups = new Map<string, EndpointGroup>();
  const publishNotReady = !!svc.spec?.publishNotReadyAddresses;
  for (const pod of [...pods].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!))) {
    if (!podIncluded(svc, pod)) continue;
    const ports: SlicePort[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      const port = resolvePort(sp, pod);
      if (port === undefined) continue;
      ports.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    const terminating = !!pod.metadata.deletionTimestamp;
    const ready = isPodReady(pod);
    const ep: SliceEndpoint = {
      addresses: [pod.status.podIP],
      ...(pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name ? { hostname: pod.spec.hostname } : {}),
      conditions: { ready: publishNotReady || (ready && !terminating), serving: publishNotReady || ready, terminating },
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid },
    };
    const key = JSON.stringify(ports);
    const g = groups.get(key) ?? groups.set(key, { ports, endpoints: [] }).get(key)!;
    g.endpoints.push(ep);
  }
  return [...groups.values()];
}

/** The legacy Endpoints subsets for the same groups: ready addresses and notReadyAddresses. */
export function endpointsSubsets(groups: EndpointGroup[]): any[] {
  return groups.map((g) => {
    const addr = (e: SliceEndpoint) => ({ ip: e.addresses[0], ...(e.hostname ? { hostname: e.hostname } : {}), ...(e.nodeName ? { nodeName: e.nodeName } : {}), targetRef: { ...e.targetRef } });
    const ready = g.endpoints.filter((e) => e.conditions.ready).map(addr);
    const notReady = g.endpoints.filter((e) => !e.conditions.ready && !e.conditions.terminating).map(addr);
    return {
      ...(ready.length ? { addresses: ready } : {}),
      ...(notReady.length ? { notReadyAddresses: notReady } : {}),
      ports: g.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })),
    };
  }).filter((s) => s.addresses || s.notReadyAddresses);
}
