/**
 * The resources Skiff's own components read and write, as ResourceRefs for ApiClient and
 * listWatch. One table, so a typo is a compile error rather than a 404 at run time.
 */
import type { ResourceRef } from './client.js';

const core = (resource: string): ResourceRef => ({ group: '', version: 'v1', resource });
const apps = (resource: string): ResourceRef => ({ group: 'apps', version: 'v1', resource });

/** Known resources by plural name. */
export const R = {
  pods: core('pods'), nodes: core('nodes'), namespaces: core('namespaces'), events: core('events'),
  services: core('services'), endpoints: core('endpoints'), configmaps: core('configmaps'), secrets: core('secrets'),
  persistentvolumeclaims: core('persistentvolumeclaims'), persistentvolumes: core('persistentvolumes'),
  resourcequotas: core('resourcequotas'), limitranges: core('limitranges'), serviceaccounts: core('serviceaccounts'),
  replicationcontrollers: core('replicationcontrollers'),
  deployments: apps('deployments'), replicasets: apps('replicasets'), statefulsets: apps('statefulsets'),
  daemonsets: apps('daemonsets'), controllerrevisions: apps('controllerrevisions'),
  jobs: { group: 'batch', version: 'v1', resource: 'jobs' },
  cronjobs: { group: 'batch', version: 'v1', resource: 'cronjobs' },
  leases: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' },
  priorityclasses: { group: 'scheduling.k8s.io', version: 'v1', resource: 'priorityclasses' },
  poddisruptionbudgets: { group: 'policy', version: 'v1', resource: 'poddisruptionbudgets' },
  horizontalpodautoscalers: { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers' },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
  storageclasses: { group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses' },
  podmetrics: { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods' },
  nodemetrics: { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'nodes' },
} satisfies Record<string, ResourceRef>;

/** The apiVersion string of a ref ("v1", "apps/v1"). */
export function apiVersionOf(r: ResourceRef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}
