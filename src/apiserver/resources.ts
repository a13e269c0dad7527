/**
 * The built-in resource table, as data: every group/version/resource the API server serves,
 * with its kind, scope, short names, categories and subresources. One generic registry
 * (storage.ts) serves every row; CustomResourceDefinitions add rows at run time (crd.ts).
 */

/** What the server knows about one resource. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural, lower case: the URL segment. */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Subresources served beside the main resource. */
  subresources?: { status?: boolean; scale?: ScalePaths; binding?: boolean };
  /** True for resources defined by a CustomResourceDefinition. */
  custom?: boolean;
  /** Create-only reviews answered on the spot and never stored (access and token reviews). */
  review?: boolean;
  /** The verbs, when not every stored resource's (an aggregated API's). */
  verbs?: string[];
  /** Extra printer columns (CRDs' additionalPrinterColumns): JSONPath into the object. */
  printerColumns?: { name: string; type: string; jsonPath: string; priority?: number; description?: string }[];
}

/** Where the scale subresource finds replicas in the object (dotted paths). */
export interface ScalePaths {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** The verbs every stored resource accepts. */
export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** The verbs of a resource (reviews are create-only; aggregated APIs say theirs). */
export const verbsOf = (r: { review?: boolean; verbs?: string[] }) => r.verbs ?? (r.review ? ['create'] : VERBS);

const STD_SCALE: ScalePaths = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' };

type Row = [resource: string, kind: string, namespaced: boolean, shortNames?: string[], opts?: Partial<ResourceInfo> & { all?: boolean; status?: boolean; scale?: boolean }];

const TABLE: Record<string, Row[]> = {
  'v1': [
    ['namespaces', 'Namespace', false, ['ns'], { status: true }],
    ['pods', 'Pod', true, ['po'], { all: true, status: true, subresources: { binding: true } }],
    ['services', 'Service', true, ['svc'], { all: true, status: true }],
    ['endpoints', 'Endpoints', true, ['ep']],
    ['configmaps', 'ConfigMap', true, ['cm']],
    ['secrets', 'Secret', true],
    ['serviceaccounts', 'ServiceAccount', true, ['sa']],
    ['events', 'Event', true, ['ev']],
    ['nodes', 'Node', false, ['no'], { status: true }],
    ['persistentvolumes', 'PersistentVolume', false, ['pv'], { status: true }],
    ['persistentvolumeclaims', 'PersistentVolumeClaim', true, ['pvc'], { status: true }],
    ['resourcequotas', 'ResourceQuota', true, ['quota'], { status: true }],
    ['limitranges', 'LimitRange', true, ['limits']],
    ['replicationcontrollers', 'ReplicationController', true, ['rc'], { all: true, status: true, scale: true }],
  ],
  'apps/v1': [
    ['deployments', 'Deployment', true, ['deploy'], { all: true, status: true, scale: true }],
    ['replicasets', 'ReplicaSet', true, ['rs'], { all: true, status: true, scale: true }],
    ['statefulsets', 'StatefulSet', true, ['sts'], { all: true, status: true, scale: true }],
    ['daemonsets', 'DaemonSet', true, ['ds'], { all: true, status: true }],
    ['controllerrevisions', 'ControllerRevision', true],
  ],
  'batch/v1': [
    ['jobs', 'Job', true, [], { all: true, status: true }],
    ['cronjobs', 'CronJob', true, ['cj'], { all: true, status: true }],
  ],
  'autoscaling/v2': [
    ['horizontalpodautoscalers', 'HorizontalPodAutoscaler', true, ['hpa'], { all: true, status: true }],
  ],
  'networking.k8s.io/v1': [
    ['ingresses', 'Ingress', true, ['ing'], { status: true }],
    ['ingressclasses', 'IngressClass', false],
    ['networkpolicies', 'NetworkPolicy', true, ['netpol']],
  ],
  'coordination.k8s.io/v1': [['leases', 'Lease', true]],
  'discovery.k8s.io/v1': [['endpointslices', 'EndpointSlice', true]],
  'storage.k8s.io/v1': [['storageclasses', 'StorageClass', false, ['sc']]],
  'node.k8s.io/v1': [['runtimeclasses', 'RuntimeClass', false]],
  'scheduling.k8s.io/v1': [['priorityclasses', 'PriorityClass', false, ['pc']]],
  'policy/v1': [['poddisruptionbudgets', 'PodDisruptionBudget', true, ['pdb'], { status: true }]],
  'rbac.authorization.k8s.io/v1': [
    ['roles', 'Role', true],
    ['rolebindings', 'RoleBinding', true],
    ['clusterroles', 'ClusterRole', false],
    ['clusterrolebindings', 'ClusterRoleBinding', false],
  ],
  'authorization.k8s.io/v1': [
    ['selfsubjectaccessreviews', 'SelfSubjectAccessReview', false, [], { review: true }],
    ['subjectaccessreviews', 'SubjectAccessReview', false, [], { review: true }],
    ['localsubjectaccessreviews', 'LocalSubjectAccessReview', true, [], { review: true }],
    ['selfsubjectrulesreviews', 'SelfSubjectRulesReview', false, [], { review: true }],
  ],
  'authentication.k8s.io/v1': [
    ['selfsubjectreviews', 'SelfSubjectReview', false, [], { review: true }],
    ['tokenreviews', 'TokenReview', false, [], { review: true }],
  ],
  'apiextensions.k8s.io/v1': [
    ['customresourcedefinitions', 'CustomResourceDefinition', false, ['crd', 'crds'], { categories: ['api-extensions'], status: true }],
  ],
};

/** Every built-in resource, in discovery order. */
export const BUILTIN: ResourceInfo[] = Object.entries(TABLE).flatMap(([gv, rows]) => {
  const [group, version] = gv.includes('/') ? gv.split('/') : ['', gv];
  return rows.map(([resource, kind, namespaced, shortNames, o = {}]) => ({
    group, version, resource, kind, namespaced,
    singular: kind.toLowerCase(),
    ...(shortNames?.length ? { shortNames } : {}),
    ...(o.all ? { categories: ['all'] } : o.categories ? { categories: o.categories } : {}),
    ...(o.review ? { review: true } : {}),
    subresources: { ...(o.status ? { status: true } : {}), ...(o.scale ? { scale: STD_SCALE } : {}), ...o.subresources },
  }));
});

/** "group/version", or "version" for the core group. */
export function groupVersion(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The store key prefix for a resource (and namespace, when given). */
export function keyPrefix(r: ResourceInfo, namespace?: string): string {
  const base = `/registry/${r.group || 'core'}/${r.resource}/`;
  return r.namespaced && namespace ? `${base}${namespace}/` : base;
}

/** The store key of one object. */
export function objectKey(r: ResourceInfo, namespace: string | undefined, name: string): string {
  return r.namespaced ? `${keyPrefix(r, namespace)}${name}` : `${keyPrefix(r)}${name}`;
}
