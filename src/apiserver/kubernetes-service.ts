/**
 * The `kubernetes` Service in `default`, as kube-apiserver reconciles it at start: cluster IP
 * 10.96.0.1, port 443 (https) to the API server's own address and port, with the matching
 * Endpoints and EndpointSlice, so in-cluster clients find the API the standard way
 * (KUBERNETES_SERVICE_HOST, kubernetes.default.svc).
 */
import type { Storage } from './storage.js';
import { BUILTIN, objectKey } from './resources.js';
import { decode } from './storage.js';
import { ApiError } from './status.js';

const find = (resource: string, group = '') => BUILTIN.find((r) => r.resource === resource && r.group === group)!;

/** The cluster IP of the `kubernetes` Service (the first of the service range). */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

async function put(storage: Storage, resource: string, group: string, name: string, obj: any): Promise<void> {
  const r = find(resource, group);
  const { kv } = await storage.backend.get(objectKey(r, 'default', name));
  if (!kv) {
    await storage.create(r, 'default', obj).catch((err) => { if (!(err instanceof ApiError && (err.code === 409 || err.code === 422))) throw err; });
    return;
  }
  const cur = decode(kv);
  await storage.update(r, 'default', name, () => ({ ...obj, metadata: { ...cur.metadata, labels: obj.metadata.labels } }), { system: true });
}

/** Creates or refreshes the Service and its endpoints for an API server at `ip`:`port`. */
export async function reconcileKubernetesService(storage: Storage, ip: string, port: number): Promise<void> {
  const labels = { component: 'apiserver', provider: 'kubernetes' };
  const svcR = find('services');
  const { kv } = await storage.backend.get(objectKey(svcR, 'default', 'kubernetes'));
  if (!kv) {
    await storage.create(svcR, 'default', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', labels },
      spec: { type: 'ClusterIP', clusterIP: KUBERNETES_SERVICE_IP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }], sessionAffinity: 'None' },
    }).catch((err) => { if (!(err instanceof ApiError && (err.code === 409 || err.code === 422))) throw err; });
  } else if (decode(kv).spec?.ports?.[0]?.targetPort !== port) {
    await storage.update(svcR, 'default', 'kubernetes', (cur) => ({ ...cur, spec: { ...cur.spec, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }] } }), { system: true });
  }
  await put(storage, 'endpoints', '', 'kubernetes', {
    apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
  });
  await put(storage, 'endpointslices', 'discovery.k8s.io', 'kubernetes', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'kubernetes', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: 'IPv4', endpoints: [{ addresses: [ip], conditions: { ready: true } }], ports: [{ name: 'https', port, protocol: 'TCP' }],
  });
}
