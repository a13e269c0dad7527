/**
 * Defaulting like Kubernetes' for the main built-in types, applied on create and update
 * before validation (so `kubectl get -o yaml` shows the same defaulted fields a real
 * cluster shows).
 */
import type { ResourceInfo } from './resources.js';
import { defaultRbac } from './authz/validation.js';

const setIf = (o: any, k: string, v: unknown) => { if (o[k] === undefined) o[k] = v; };

/** A probe's or lifecycle hook's handler: httpGet path "/" and scheme HTTP (SetDefaults_HTTPGetAction). */
function defaultHandler(h: any): void {
  if (h?.httpGet && typeof h.httpGet === 'object') {
    setIf(h.httpGet, 'path', '/');
    setIf(h.httpGet, 'scheme', 'HTTP');
  }
}

/** SetDefaults_Probe: timeout 1 s, period 10 s, success threshold 1, failure threshold 3. */
function defaultProbe(p: any): void {
  if (!p || typeof p !== 'object') return;
  setIf(p, 'timeoutSeconds', 1);
  setIf(p, 'periodSeconds', 10);
  setIf(p, 'successThreshold', 1);
  setIf(p, 'failureThreshold', 3);
  defaultHandler(p);
}

function defaultContainer(c: any): void {
  if (!c || typeof c !== 'object') return;
  if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
    const last = c.image.split('/').pop() ?? '';
    const tagged = !c.image.includes('@') && last.includes(':');
    c.imagePullPolicy = !tagged && !c.image.includes('@') || c.image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
  }
  setIf(c, 'terminationMessagePath', '/dev/termination-log');
  setIf(c, 'terminationMessagePolicy', 'File');
  setIf(c, 'resources', {});
  for (const p of c.ports ?? []) if (p && typeof p === 'object') setIf(p, 'protocol', 'TCP');
  for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(c[k]);
  defaultHandler(c.lifecycle?.postStart);
  defaultHandler(c.lifecycle?.preStop);
}

/** Volume source defaults (SetDefaults_*VolumeSource): file modes 0644, fieldRef apiVersion v1, hostPath type "". */
function defaultVolume(v: any): void {
  if (!v || typeof v !== 'object') return;
  for (const k of ['configMap', 'secret', 'downwardAPI', 'projected']) if (v[k] && typeof v[k] === 'object') setIf(v[k], 'defaultMode', 420);
  if (v.hostPath && typeof v.hostPath === 'object') setIf(v.hostPath, 'type', '');
  const items = [...(v.downwardAPI?.items ?? []), ...(v.projected?.sources ?? []).flatMap((s: any) => s?.downwardAPI?.items ?? [])];
  for (const it of items) if (it?.fieldRef && typeof it.fieldRef === 'object') setIf(it.fieldRef, 'apiVersion', 'v1');
  for (const s of v.projected?.sources ?? []) if (s?.serviceAccountToken && typeof s.serviceAccountToken === 'object') setIf(s.serviceAccountToken, 'expirationSeconds', 3600);
}

/** Defaults a PodSpec in place. */
export function defaultPodSpec(spec: any): void {
  if (!spec || typeof spec !== 'object') return;
  setIf(spec, 'restartPolicy', 'Always');
  setIf(spec, 'terminationGracePeriodSeconds', 30);
  setIf(spec, 'dnsPolicy', 'ClusterFirst');
  setIf(spec, 'securityContext', {});
  setIf(spec, 'schedulerName', 'default-scheduler');
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) defaultVolume(v);
}

/** The pod's QoS class from its containers' requests and limits. */
export function qosClass(spec: any): string {
  const cs = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
  let any = false, guaranteed = cs.length > 0;
  for (const c of cs) {
    const req = c?.resources?.requests ?? {}, lim = c?.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory']) if (lim[r] === undefined || (req[r] !== undefined && String(req[r]) !== String(lim[r]))) guaranteed = false;
  }
  return !any ? 'BestEffort' : guaranteed ? 'Guaranteed' : 'Burstable';
}

function defaultTemplate(spec: any): void {
  if (spec?.template?.spec) defaultPodSpec(spec.template.spec);
}

/** Applies the kind's defaults to `obj` in place. `isCreate` adds create-only defaults. */
export function applyDefaults(r: ResourceInfo, obj: any, isCreate: boolean): void {
  if (r.custom) return;
  if (r.group === 'rbac.authorization.k8s.io') return defaultRbac(r.kind, obj);
  const spec = obj.spec;
  switch (`${r.group}/${r.kind}`) {
    case '/Pod':
      defaultPodSpec(spec);
      // As SetDefaults_PodSpec since 1.28: host-network Pods (not templates) publish each
      // container port as the same host port.
      if (spec?.hostNetwork === true) {
        for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
          for (const p of c?.ports ?? []) if (p && typeof p === 'object' && !p.hostPort) p.hostPort = p.containerPort;
        }
      }
      if (spec) { setIf(spec, 'enableServiceLinks', true); setIf(spec, 'serviceAccountName', 'default'); setIf(spec, 'serviceAccount', spec.serviceAccountName); }
      if (isCreate) obj.status = { phase: 'Pending', qosClass: qosClass(spec) };
      break;
    case 'apps/Deployment':
      if (!spec) break;
      setIf(spec, 'replicas', 1);
      setIf(spec, 'revisionHistoryLimit', 10);
      setIf(spec, 'progressDeadlineSeconds', 600);
      if (!spec.strategy) spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
      else if (spec.strategy.type === undefined) spec.strategy.type = 'RollingUpdate';
      if (spec.strategy.type === 'RollingUpdate') spec.strategy.rollingUpdate = { maxUnavailable: '25%', maxSurge: '25%', ...spec.strategy.rollingUpdate };
      defaultTemplate(spec);
      break;
    case 'apps/ReplicaSet': case '/ReplicationController':
      if (spec) { setIf(spec, 'replicas', 1); defaultTemplate(spec); }
      break;
    case 'apps/StatefulSet':
      if (!spec) break;
      setIf(spec, 'replicas', 1);
      setIf(spec, 'podManagementPolicy', 'OrderedReady');
      setIf(spec, 'revisionHistoryLimit', 10);
      setIf(spec, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
      setIf(spec, 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
      defaultTemplate(spec);
      break;
    case 'apps/DaemonSet':
      if (!spec) break;
      setIf(spec, 'revisionHistoryLimit', 10);
      setIf(spec, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
      defaultTemplate(spec);
      break;
    case 'batch/Job':
      if (!spec) break;
      // As SetDefaults_Job: completions only when parallelism is unset too; parallelism alone
      // without completions is a work queue and must stay one.
      if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
      setIf(spec, 'parallelism', 1);
      setIf(spec, 'backoffLimit', 6);
      setIf(spec, 'completionMode', 'NonIndexed');
      setIf(spec, 'suspend', false);
      setIf(spec, 'podReplacementPolicy', 'TerminatingOrFailed');
      if (isCreate && !spec.manualSelector && obj.metadata?.uid) {
        // The job controller's contract: pods are selected by the job's uid, never by user labels.
        const uid = obj.metadata.uid;
        spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
        spec.template ??= {};
        spec.template.metadata ??= {};
        spec.template.metadata.labels = { ...spec.template.metadata.labels, 'batch.kubernetes.io/controller-uid': uid,
          'batch.kubernetes.io/job-name': obj.metadata.name, 'controller-uid': uid, 'job-name': obj.metadata.name };
      }
      defaultTemplate(spec);
      break;
    case 'batch/CronJob':
      if (!spec) break;
      setIf(spec, 'concurrencyPolicy', 'Allow');
      setIf(spec, 'suspend', false);
      setIf(spec, 'successfulJobsHistoryLimit', 3);
      setIf(spec, 'failedJobsHistoryLimit', 1);
      if (spec.jobTemplate?.spec) defaultTemplate(spec.jobTemplate.spec);
      break;
    case '/Service':
      obj.spec ??= {};
      setIf(obj.spec, 'type', 'ClusterIP');
      setIf(obj.spec, 'sessionAffinity', 'None');
      if (obj.spec.type !== 'ExternalName') {
        setIf(obj.spec, 'internalTrafficPolicy', 'Cluster');
        setIf(obj.spec, 'ipFamilies', ['IPv4']);
        setIf(obj.spec, 'ipFamilyPolicy', 'SingleStack');
      }
      for (const p of obj.spec.ports ?? []) { setIf(p, 'protocol', 'TCP'); setIf(p, 'targetPort', p.port); }
      // As SetDefaults_Service: externally reachable types get a traffic policy, load balancers node ports.
      if (obj.spec.type === 'NodePort' || obj.spec.type === 'LoadBalancer') setIf(obj.spec, 'externalTrafficPolicy', 'Cluster');
      if (obj.spec.type === 'LoadBalancer') setIf(obj.spec, 'allocateLoadBalancerNodePorts', true);
      if (isCreate) obj.status = { loadBalancer: {} };
      for (const ing of obj.status?.loadBalancer?.ingress ?? []) if (ing?.ip && obj.spec.type === 'LoadBalancer') setIf(ing, 'ipMode', 'VIP');
      break;
    case '/Secret':
      setIf(obj, 'type', 'Opaque');
      if (obj.stringData && typeof obj.stringData === 'object') {
        obj.data = { ...obj.data };
        for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v)).toString('base64');
        delete obj.stringData;
      }
      break;
    case '/PersistentVolumeClaim':
      if (spec && typeof spec === 'object') setIf(spec, 'volumeMode', 'Filesystem');
      if (isCreate) obj.status = { phase: 'Pending' };
      break;
    case '/PersistentVolume':
      if (spec && typeof spec === 'object') { setIf(spec, 'persistentVolumeReclaimPolicy', 'Retain'); setIf(spec, 'volumeMode', 'Filesystem'); }
      if (isCreate) obj.status = { phase: 'Pending' };
      break;
    case 'storage.k8s.io/StorageClass':
      setIf(obj, 'reclaimPolicy', 'Delete');
      setIf(obj, 'volumeBindingMode', 'Immediate');
      break;
    case '/Namespace':
      obj.spec = { finalizers: ['kubernetes'], ...obj.spec };
      obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name };
      if (isCreate || !obj.status?.phase) obj.status = { phase: 'Active', ...obj.status };
      break;
  }
}
