/**
 * Structural OpenAPI v3 schemas, written as data, for the built-in types' fields that
 * manifests use most: ObjectMeta, Pod/PodSpec/Container, the workload specs, Service,
 * ConfigMap, Secret, Namespace, ServiceAccount. Deep or rarely-written structures (probes,
 * affinity, volume sources, every status) are `x-kubernetes-preserve-unknown-fields`, and so
 * is the body of every other kind: unknown fields are caught exactly where a schema is
 * structural, never falsely where it is not. `kubectl explain` reads the same schemas.
 */
import { BUILTIN, type ResourceInfo } from './resources.js';

/** An OpenAPI v3 schema object (the subset we write). */
export type Schema = Record<string, any>;

const P = 'io.k8s.api.';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const ref = (n: string): Schema => ({ allOf: [{ $ref: `#/components/schemas/${n}` }] });
const str = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
const int = (description?: string): Schema => ({ type: 'integer', format: 'int32', ...(description ? { description } : {}) });
const bool = (description?: string): Schema => ({ type: 'boolean', ...(description ? { description } : {}) });
const arr = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description ? { description } : {}) });
const map = (v: Schema = str(), description?: string): Schema => ({ type: 'object', additionalProperties: v, ...(description ? { description } : {}) });
/** Any JSON object: its inside is not checked. */
const any = (description?: string): Schema => ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, ...(description ? { description } : {}) });
const intOrString: Schema = { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
const obj = (properties: Record<string, Schema>, description?: string, required?: string[]): Schema => ({
  type: 'object', properties, ...(description ? { description } : {}), ...(required ? { required } : {}),
});

/** Shared definitions, by their Kubernetes OpenAPI names. */
export const DEFINITIONS: Record<string, Schema> = {
  [META + 'ObjectMeta']: obj({
    name: str('Name must be unique within a namespace.'), generateName: str('Optional prefix used by the server to generate a unique name.'),
    namespace: str('The namespace the object lives in.'), uid: str(), resourceVersion: str('Opaque value for optimistic concurrency.'),
    generation: { type: 'integer', format: 'int64' }, creationTimestamp: str(), deletionTimestamp: str(),
    deletionGracePeriodSeconds: { type: 'integer', format: 'int64' }, selfLink: str(),
    labels: map(str(), 'Map of string keys and values used to organize and select objects.'),
    annotations: map(str(), 'Unstructured key value map stored with a resource.'),
    ownerReferences: arr(ref(META + 'OwnerReference')), finalizers: arr(str()), managedFields: arr(any()),
  }, 'ObjectMeta is metadata that all persisted resources must have.'),
  [META + 'OwnerReference']: obj({
    apiVersion: str(), kind: str(), name: str(), uid: str(), controller: bool(), blockOwnerDeletion: bool(),
  }, 'OwnerReference identifies an owning object.', ['apiVersion', 'kind', 'name', 'uid']),
  [META + 'LabelSelector']: obj({
    matchLabels: map(), matchExpressions: arr(obj({ key: str(), operator: str(), values: arr(str()) }, undefined, ['key', 'operator'])),
  }, 'A label query over a set of resources.'),
  [P + 'core.v1.ContainerPort']: obj({
    name: str(), containerPort: int('Number of port to expose on the pod\'s IP address.'), hostPort: int(), protocol: str(), hostIP: str(),
  }, 'ContainerPort represents a network port in a single container.', ['containerPort']),
  [P + 'core.v1.EnvVar']: obj({ name: str(), value: str(), valueFrom: any() }, 'EnvVar represents an environment variable present in a Container.', ['name']),
  [P + 'core.v1.VolumeMount']: obj({
    name: str(), mountPath: str(), readOnly: bool(), subPath: str(), subPathExpr: str(), mountPropagation: str(), recursiveReadOnly: str(),
  }, 'VolumeMount describes a mounting of a Volume within a container.', ['name', 'mountPath']),
  [P + 'core.v1.Container']: obj({
    name: str('Name of the container specified as a DNS_LABEL.'), image: str('Container image name.'),
    command: arr(str()), args: arr(str()), workingDir: str(),
    ports: { ...arr(ref(P + 'core.v1.ContainerPort'), 'List of ports to expose from the container.'), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['containerPort', 'protocol'], 'x-kubernetes-patch-merge-key': 'containerPort', 'x-kubernetes-patch-strategy': 'merge' },
    env: { ...arr(ref(P + 'core.v1.EnvVar')), 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' },
    envFrom: arr(any()), resources: any('Compute Resources required by this container.'),
    volumeMounts: { ...arr(ref(P + 'core.v1.VolumeMount')), 'x-kubernetes-patch-merge-key': 'mountPath', 'x-kubernetes-patch-strategy': 'merge' },
    volumeDevices: arr(any()), livenessProbe: any(), readinessProbe: any(), startupProbe: any(), lifecycle: any(),
    terminationMessagePath: str(), terminationMessagePolicy: str(), imagePullPolicy: str(), securityContext: any(),
    stdin: bool(), stdinOnce: bool(), tty: bool(), resizePolicy: arr(any()), restartPolicy: str(),
  }, 'A single application container that you want to run within a pod.', ['name']),
  [P + 'core.v1.PodSpec']: obj({
    volumes: { ...arr(any()), 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge,retainKeys' },
    initContainers: { ...arr(ref(P + 'core.v1.Container')), 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' },
    containers: { ...arr(ref(P + 'core.v1.Container'), 'List of containers belonging to the pod.'), 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' },
    ephemeralContainers: arr(any()), restartPolicy: str('Restart policy for all containers within the pod: Always, OnFailure, Never.'),
    terminationGracePeriodSeconds: { type: 'integer', format: 'int64' }, activeDeadlineSeconds: { type: 'integer', format: 'int64' },
    dnsPolicy: str(), nodeSelector: map(), serviceAccountName: str(), serviceAccount: str(), automountServiceAccountToken: bool(),
    nodeName: str(), hostNetwork: bool(), hostPID: bool(), hostIPC: bool(), shareProcessNamespace: bool(), securityContext: any(),
    imagePullSecrets: arr(any()), hostname: str(), subdomain: str(), affinity: any(), schedulerName: str(), tolerations: arr(any()),
    hostAliases: arr(any()), priorityClassName: str(), priority: int(), dnsConfig: any(), readinessGates: arr(any()),
    runtimeClassName: str(), enableServiceLinks: bool(), preemptionPolicy: str(), overhead: any(), topologySpreadConstraints: arr(any()),
    setHostnameAsFQDN: bool(), os: any(), hostUsers: bool(), schedulingGates: arr(any()), resourceClaims: arr(any()), resources: any(),
  }, 'PodSpec is a description of a pod.', ['containers']),
  [P + 'core.v1.PodTemplateSpec']: obj({ metadata: ref(META + 'ObjectMeta'), spec: ref(P + 'core.v1.PodSpec') },
    'PodTemplateSpec describes the data a pod should have when created from a template'),
  [P + 'apps.v1.DeploymentSpec']: obj({
    replicas: int('Number of desired pods. Defaults to 1.'), selector: ref(META + 'LabelSelector'), template: ref(P + 'core.v1.PodTemplateSpec'),
    strategy: any(), minReadySeconds: int(), revisionHistoryLimit: int(), paused: bool(), progressDeadlineSeconds: int(),
  }, 'DeploymentSpec is the specification of the desired behavior of the Deployment.', ['selector', 'template']),
  [P + 'apps.v1.ReplicaSetSpec']: obj({
    replicas: int(), minReadySeconds: int(), selector: ref(META + 'LabelSelector'), template: ref(P + 'core.v1.PodTemplateSpec'),
  }, 'ReplicaSetSpec is the specification of a ReplicaSet.', ['selector']),
  [P + 'apps.v1.StatefulSetSpec']: obj({
    replicas: int(), selector: ref(META + 'LabelSelector'), template: ref(P + 'core.v1.PodTemplateSpec'), volumeClaimTemplates: arr(any()),
    serviceName: str(), podManagementPolicy: str(), updateStrategy: any(), revisionHistoryLimit: int(), minReadySeconds: int(),
    persistentVolumeClaimRetentionPolicy: any(), ordinals: any(),
  }, 'A StatefulSetSpec is the specification of a StatefulSet.', ['selector', 'template']),
  [P + 'apps.v1.DaemonSetSpec']: obj({
    selector: ref(META + 'LabelSelector'), template: ref(P + 'core.v1.PodTemplateSpec'), updateStrategy: any(), minReadySeconds: int(), revisionHistoryLimit: int(),
  }, 'DaemonSetSpec is the specification of a daemon set.', ['selector', 'template']),
  [P + 'batch.v1.JobSpec']: obj({
    parallelism: int(), completions: int(), activeDeadlineSeconds: { type: 'integer', format: 'int64' }, podFailurePolicy: any(), backoffLimit: int(),
    backoffLimitPerIndex: int(), maxFailedIndexes: int(), selector: ref(META + 'LabelSelector'), manualSelector: bool(),
    template: ref(P + 'core.v1.PodTemplateSpec'), ttlSecondsAfterFinished: int(), completionMode: str(), suspend: bool(),
    podReplacementPolicy: str(), successPolicy: any(), managedBy: str(),
  }, 'JobSpec describes how the job execution will look like.', ['template']),
  [P + 'batch.v1.JobTemplateSpec']: obj({ metadata: ref(META + 'ObjectMeta'), spec: ref(P + 'batch.v1.JobSpec') }),
  [P + 'batch.v1.CronJobSpec']: obj({
    schedule: str('The schedule in Cron format.'), timeZone: str(), startingDeadlineSeconds: { type: 'integer', format: 'int64' }, concurrencyPolicy: str(),
    suspend: bool(), jobTemplate: ref(P + 'batch.v1.JobTemplateSpec'), successfulJobsHistoryLimit: int(), failedJobsHistoryLimit: int(),
  }, 'CronJobSpec describes how the job execution will look like and when it will actually run.', ['schedule', 'jobTemplate']),
  [P + 'core.v1.ServicePort']: obj({
    name: str(), protocol: str(), appProtocol: str(), port: int('The port that will be exposed by this service.'), targetPort: intOrString, nodePort: int(),
  }, 'ServicePort contains information on service\'s port.', ['port']),
  [P + 'rbac.v1.PolicyRule']: obj({ verbs: arr(str()), apiGroups: arr(str()), resources: arr(str()), resourceNames: arr(str()), nonResourceURLs: arr(str()) },
    'PolicyRule holds information that describes a policy rule.', ['verbs']),
  [P + 'rbac.v1.Subject']: obj({ kind: str(), apiGroup: str(), name: str(), namespace: str() }, 'Subject contains a reference to the object or user identities a role binding applies to.', ['kind', 'name']),
  [P + 'rbac.v1.RoleRef']: obj({ apiGroup: str(), kind: str(), name: str() }, 'RoleRef contains information that points to the role being used.', ['apiGroup', 'kind', 'name']),
  [P + 'core.v1.ObjectReference']: obj({ kind: str(), namespace: str(), name: str(), uid: str(), apiVersion: str(), resourceVersion: str(), fieldPath: str() },
    'ObjectReference contains enough information to let you inspect or modify the referred object.'),
  [P + 'core.v1.ServiceSpec']: obj({
    ports: { ...arr(ref(P + 'core.v1.ServicePort')), 'x-kubernetes-patch-merge-key': 'port', 'x-kubernetes-patch-strategy': 'merge' },
    selector: map(), clusterIP: str(), clusterIPs: arr(str()), type: str('ClusterIP, NodePort, LoadBalancer or ExternalName.'),
    externalIPs: arr(str()), sessionAffinity: str(), loadBalancerIP: str(), loadBalancerSourceRanges: arr(str()), externalName: str(),
    externalTrafficPolicy: str(), healthCheckNodePort: int(), publishNotReadyAddresses: bool(), sessionAffinityConfig: any(),
    ipFamilies: arr(str()), ipFamilyPolicy: str(), allocateLoadBalancerNodePorts: bool(), loadBalancerClass: str(),
    internalTrafficPolicy: str(), trafficDistribution: str(),
  }, 'ServiceSpec describes the attributes that a user creates on a service.'),
};

/** Kind → [definition name prefix, extra top-level properties, description]. */
const KINDS: Record<string, [string, Record<string, Schema>, string]> = {
  Pod: ['core.v1', { spec: ref(P + 'core.v1.PodSpec'), status: any() }, 'Pod is a collection of containers that can run on a host.'],
  Deployment: ['apps.v1', { spec: ref(P + 'apps.v1.DeploymentSpec'), status: any() }, 'Deployment enables declarative updates for Pods and ReplicaSets.'],
  ReplicaSet: ['apps.v1', { spec: ref(P + 'apps.v1.ReplicaSetSpec'), status: any() }, 'ReplicaSet ensures that a specified number of pod replicas are running at any given time.'],
  StatefulSet: ['apps.v1', { spec: ref(P + 'apps.v1.StatefulSetSpec'), status: any() }, 'StatefulSet represents a set of pods with consistent identities.'],
  DaemonSet: ['apps.v1', { spec: ref(P + 'apps.v1.DaemonSetSpec'), status: any() }, 'DaemonSet represents the configuration of a daemon set.'],
  Job: ['batch.v1', { spec: ref(P + 'batch.v1.JobSpec'), status: any() }, 'Job represents the configuration of a single job.'],
  CronJob: ['batch.v1', { spec: ref(P + 'batch.v1.CronJobSpec'), status: any() }, 'CronJob represents the configuration of a single cron job.'],
  Service: ['core.v1', { spec: ref(P + 'core.v1.ServiceSpec'), status: any() }, 'Service is a named abstraction of software service (for example, mysql) consisting of local port that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.'],
  ConfigMap: ['core.v1', { data: map(), binaryData: map({ type: 'string', format: 'byte' }), immutable: bool() }, 'ConfigMap holds configuration data for pods to consume.'],
  Secret: ['core.v1', { data: map({ type: 'string', format: 'byte' }), stringData: map(), type: str(), immutable: bool() }, 'Secret holds secret data of a certain type.'],
  Namespace: ['core.v1', { spec: obj({ finalizers: arr(str()) }), status: any() }, 'Namespace provides a scope for Names. Use of multiple namespaces is optional.'],
  Role: ['rbac.v1', { rules: arr(ref(P + 'rbac.v1.PolicyRule')) }, 'Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.'],
  ClusterRole: ['rbac.v1', { rules: arr(ref(P + 'rbac.v1.PolicyRule')), aggregationRule: obj({ clusterRoleSelectors: arr(ref(META + 'LabelSelector')) }) },
    'ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.'],
  RoleBinding: ['rbac.v1', { subjects: arr(ref(P + 'rbac.v1.Subject')), roleRef: ref(P + 'rbac.v1.RoleRef') }, 'RoleBinding references a role, but does not contain it.'],
  ClusterRoleBinding: ['rbac.v1', { subjects: arr(ref(P + 'rbac.v1.Subject')), roleRef: ref(P + 'rbac.v1.RoleRef') }, 'ClusterRoleBinding references a ClusterRole, but not contain it.'],
  Lease: ['coordination.v1', { spec: obj({ holderIdentity: str(), leaseDurationSeconds: int(), acquireTime: str(), renewTime: str(), leaseTransitions: int(), strategy: str(), preferredHolder: str() }) },
    'Lease defines a lease concept.'],
  Event: ['core.v1', {
    involvedObject: ref(P + 'core.v1.ObjectReference'), reason: str(), message: str(), source: obj({ component: str(), host: str() }),
    firstTimestamp: str(), lastTimestamp: str(), count: int(), type: str(), eventTime: str(), series: obj({ count: int(), lastObservedTime: str() }),
    action: str(), related: ref(P + 'core.v1.ObjectReference'), reportingComponent: str(), reportingInstance: str(),
  }, 'Event is a report of an event somewhere in the cluster.'],
  ServiceAccount: ['core.v1', { secrets: arr(any()), imagePullSecrets: arr(any()), automountServiceAccountToken: bool() }, 'ServiceAccount binds together a name, a principal, and a set of secrets.'],
};

/** The OpenAPI definition name of a resource's kind (`io.k8s.api.apps.v1.Deployment`). */
export function definitionName(r: ResourceInfo): string {
  if (r.custom) return `${r.group.split('.').reverse().join('.')}.${r.version}.${r.kind}`;
  if (r.group === 'apiextensions.k8s.io') return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${r.version}.${r.kind}`;
  const g = r.group ? r.group.replace(/\.k8s\.io$/, '').replace(/\.authorization$/, '') : 'core';
  return `${P}${g}.${r.version}.${r.kind}`;
}

/** The top-level schema of a built-in kind (structural where KINDS has it, permissive otherwise). */
export function kindSchema(r: ResourceInfo): Schema {
  const gvk = [{ group: r.group, version: r.version, kind: r.kind }];
  const known = hasStructuralSchema(r) ? KINDS[r.kind] : undefined;
  const base = {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    metadata: ref(META + 'ObjectMeta'),
  };
  if (known) return { ...obj({ ...base, ...known[1] }, known[2]), 'x-kubernetes-group-version-kind': gvk };
  return { ...obj(base, `${r.kind} (${r.group || 'core'}/${r.version}); fields beyond metadata are not described by this server.`), 'x-kubernetes-preserve-unknown-fields': true, 'x-kubernetes-group-version-kind': gvk };
}

/** True when Skiff has a structural schema for this built-in kind. */
export function hasStructuralSchema(r: ResourceInfo): boolean {
  const k = KINDS[r.kind];
  if (r.custom || !k) return false;
  const g = k[0].split('.')[0]; // 'core' | 'apps' | 'batch' | 'rbac' | 'coordination'
  return r.group === (g === 'core' ? '' : g === 'rbac' ? 'rbac.authorization.k8s.io' : g === 'coordination' ? 'coordination.k8s.io' : g);
}

/** Every built-in kind with a structural schema (for the docs and tests). */
export const STRUCTURAL_KINDS = BUILTIN.filter(hasStructuralSchema).map((r) => r.kind);

/** Resolves `allOf: [{$ref}]` and `$ref` against the shared definitions plus `extra`. */
export function deref(s: Schema | undefined, extra: Record<string, Schema> = {}): Schema | undefined {
  let cur = s;
  for (let i = 0; cur && i < 8; i++) {
    const r = cur.$ref ?? (cur.allOf?.length === 1 ? cur.allOf[0].$ref : undefined);
    if (!r) return cur;
    const name = String(r).replace('#/components/schemas/', '');
    cur = DEFINITIONS[name] ?? extra[name];
  }
  return cur;
}

/**
 * Paths of fields not declared in `schema`, as the real server names them
 * (`spec.template.spec.containers[0].foo`). Stops at preserve-unknown-fields and int-or-string.
 */
export function unknownFields(value: unknown, schema: Schema | undefined, path = '', extra: Record<string, Schema> = {}): string[] {
  const s = deref(schema, extra);
  if (!s || s['x-kubernetes-int-or-string'] || value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) {
    if (!s.items) return [];
    return value.flatMap((v, i) => unknownFields(v, s.items, `${path}[${i}]`, extra));
  }
  const out: string[] = [];
  const props: Record<string, Schema> | undefined = s.properties;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const p = path ? `${path}.${k}` : k;
    if (props && props[k]) out.push(...unknownFields(v, props[k], p, extra));
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') out.push(...unknownFields(v, s.additionalProperties, p, extra));
    else if (!s['x-kubernetes-preserve-unknown-fields'] && !s.additionalProperties && (props || s.type === 'object')) out.push(p);
  }
  return out;
}

/** Removes, in place, the fields `unknownFields` reports (what decoding into typed structs does). */
export function pruneUnknown(value: any, schema: Schema | undefined, extra: Record<string, Schema> = {}): void {
  const s = deref(schema, extra);
  if (!s || s['x-kubernetes-int-or-string'] || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) { if (s.items) for (const v of value) pruneUnknown(v, s.items, extra); return; }
  const props: Record<string, Schema> | undefined = s.properties;
  for (const k of Object.keys(value)) {
    if (props && props[k]) pruneUnknown(value[k], props[k], extra);
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') pruneUnknown(value[k], s.additionalProperties, extra);
    else if (!s['x-kubernetes-preserve-unknown-fields'] && !s.additionalProperties && (props || s.type === 'object')) delete value[k];
  }
}
