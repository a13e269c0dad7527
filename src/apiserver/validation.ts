/**
 * Validation like Kubernetes' for metadata and the main built-in types. Each check adds a
 * cause naming the field (`spec.containers[0].image: Required value`); a non-empty list
 * becomes a 422 Invalid Status. Messages follow apimachinery's wording so kubectl output
 * looks as it would against a real cluster.
 */
import type { Cause } from './status.js';
import { validateRbac, validateRbacUpdate } from './authz/validation.js';
import type { ResourceInfo } from './resources.js';
import { selectorObjectMatcher } from './selectors.js';
import { validatePodUpdate } from './validation-podupdate.js';
import { validateClaim, validatePodVolumes, validateStorageClass, validateVolumeObject } from './validation-volumes.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const MSG_SUBDOMAIN = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const MSG_LABEL = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const MSG_1035 = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** Collects causes while walking an object. */
export class Errs {
  readonly causes: Cause[] = [];
  required(field: string, detail = '') {
    this.causes.push({ reason: 'FieldValueRequired', message: `Required value${detail ? ': ' + detail : ''}`, field });
  }
  invalid(field: string, value: unknown, detail: string) {
    const v = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? JSON.stringify(value) : String(value);
    this.causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${v}: ${detail}`, field });
  }
  unsupported(field: string, value: unknown, allowed: string[]) {
    this.causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`, field });
  }
  duplicate(field: string, value: unknown) {
    this.causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(value)}`, field });
  }
  notFound(field: string, value: unknown) {
    this.causes.push({ reason: 'FieldValueNotFound', message: `Not found: ${JSON.stringify(value)}`, field });
  }
  forbidden(field: string, detail: string) {
    this.causes.push({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field });
  }
}

/** RBAC objects are named by path segment rules only (system:masters, system:discovery …). */
const RBAC_KINDS = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);
const PATH_SEGMENT = /^(?!\.\.?$)[^/%]+$/;

/** Name rule per kind: namespaces and most workloads' pods use labels, services DNS-1035. */
function nameRule(kind: string): [RegExp, string, number] {
  if (kind === 'Namespace') return [DNS1123_LABEL, MSG_LABEL, 63];
  if (RBAC_KINDS.has(kind)) return [PATH_SEGMENT, "may not be '.' or '..' and may not contain '/' or '%'", 253];
  if (kind === 'Service') return [DNS1035_LABEL, MSG_1035, 63];
  return [DNS1123_SUBDOMAIN, MSG_SUBDOMAIN, 253];
}

function labelKeyOk(k: string): boolean {
  const [prefix, name] = k.includes('/') ? k.split('/', 2) : ['', k];
  if (prefix && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return false;
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME.test(name);
}

function validateMeta(e: Errs, meta: any, r: ResourceInfo): void {
  if (!meta || typeof meta !== 'object') return e.required('metadata');
  const [re, msg, max] = nameRule(r.kind);
  if (!meta.name && !meta.generateName) e.required('metadata.name', 'name or generateName is required');
  else if (meta.name) {
    if (typeof meta.name !== 'string' || !re.test(meta.name)) e.invalid('metadata.name', meta.name, msg);
    else if (meta.name.length > max) e.invalid('metadata.name', meta.name, `must be no more than ${max} characters`);
  }
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    if (!labelKeyOk(k)) e.invalid('metadata.labels', k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) e.invalid(`metadata.labels`, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
  }
  for (const k of Object.keys(meta.annotations ?? {})) {
    if (!labelKeyOk(k)) e.invalid('metadata.annotations', k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
  }
  const size = JSON.stringify(meta.annotations ?? {}).length;
  if (size > 256 * 1024) e.causes.push({ reason: 'FieldValueTooLong', message: 'Too long: must have at most 262144 bytes', field: 'metadata.annotations' });
}

function validateContainers(e: Errs, list: any, path: string, requireOne: boolean, seen: Set<string>): void {
  if (!Array.isArray(list) || list.length === 0) {
    if (requireOne) e.required(path);
    return;
  }
  list.forEach((c: any, i: number) => {
    const p = `${path}[${i}]`;
    if (!c?.name) e.required(`${p}.name`);
    else if (!DNS1123_LABEL.test(c.name) || c.name.length > 63) e.invalid(`${p}.name`, c.name, MSG_LABEL);
    else if (seen.has(c.name)) e.duplicate(`${p}.name`, c.name);
    else seen.add(c.name);
    if (!c?.image || (typeof c.image === 'string' && !c.image.trim())) e.required(`${p}.image`);
    if (c?.imagePullPolicy && !['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy)) e.unsupported(`${p}.imagePullPolicy`, c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']);
    const ports = new Set<string>();
    (c?.ports ?? []).forEach((port: any, j: number) => {
      const pp = `${p}.ports[${j}]`;
      const n = port?.containerPort;
      if (!Number.isInteger(n) || n < 1 || n > 65535) e.invalid(`${pp}.containerPort`, n ?? 0, 'must be between 1 and 65535, inclusive');
      if (port?.hostPort !== undefined && port.hostPort !== 0 && (!Number.isInteger(port.hostPort) || port.hostPort < 1 || port.hostPort > 65535)) e.invalid(`${pp}.hostPort`, port.hostPort, 'must be between 1 and 65535, inclusive');
      if (port?.protocol && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) e.unsupported(`${pp}.protocol`, port.protocol, ['SCTP', 'TCP', 'UDP']);
      if (port?.name && (port.name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port.name) || !/[a-z]/.test(port.name))) e.invalid(`${pp}.name`, port.name, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
      const key = `${n}/${port?.protocol ?? 'TCP'}`;
      if (ports.has(key)) e.duplicate(`${pp}`, key);
      ports.add(key);
    });
    (c?.env ?? []).forEach((v: any, j: number) => { if (!v?.name) e.required(`${p}.env[${j}].name`); });
  });
}

/**
 * validateHostNetwork: a host-network pod's containers listen on the host, so a hostPort must be
 * the containerPort (unset only in templates, which are not defaulted).
 */
function validateHostNetwork(e: Errs, spec: any, path: string): void {
  for (const kind of ['containers', 'initContainers']) {
    (Array.isArray(spec[kind]) ? spec[kind] : []).forEach((c: any, i: number) => {
      (Array.isArray(c?.ports) ? c.ports : []).forEach((p: any, j: number) => {
        if (p?.hostPort && p.hostPort !== p.containerPort) {
          e.invalid(`${path}.${kind}[${i}].ports[${j}].containerPort`, p.containerPort, 'must match `hostPort` when `hostNetwork` is true');
        }
      });
    });
  }
}

/** Validates a PodSpec found at `path`. */
export function validatePodSpec(e: Errs, spec: any, path: string, restartPolicies = ['Always', 'OnFailure', 'Never']): void {
  if (!spec || typeof spec !== 'object') return e.required(path);
  const seen = new Set<string>();
  validateContainers(e, spec.containers, `${path}.containers`, true, seen);
  validateContainers(e, spec.initContainers, `${path}.initContainers`, false, seen);
  if (spec.hostNetwork === true) validateHostNetwork(e, spec, path);
  if (spec.restartPolicy && !restartPolicies.includes(spec.restartPolicy)) e.unsupported(`${path}.restartPolicy`, spec.restartPolicy, restartPolicies);
  validatePodVolumes(e, spec, path);
}

function validateSelector(e: Errs, spec: any, path: string, requireSelector = true): void {
  const sel = spec?.selector;
  if (!sel) { if (requireSelector) e.required(`${path}.selector`); return; }
  if (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length) {
    e.invalid(`${path}.selector`, sel, 'empty selector is invalid for deployment');
    return;
  }
  const labels = spec?.template?.metadata?.labels ?? {};
  if (!selectorObjectMatcher(sel)(labels)) e.invalid(`${path}.template.metadata.labels`, labels, '`selector` does not match template `labels`');
}

function nonNegative(e: Errs, v: unknown, field: string): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) e.invalid(field, v, 'must be greater than or equal to 0');
}

/** Validates an object of resource `r`; returns the causes (empty when valid). */
export function validate(r: ResourceInfo, obj: any): Cause[] {
  const e = new Errs();
  validateMeta(e, obj.metadata, r);
  if (r.kind === 'StorageClass' && r.group === 'storage.k8s.io') validateStorageClass(e, obj);
  if (r.group === 'rbac.authorization.k8s.io') e.causes.push(...validateRbac(r.kind, obj));
  if (r.custom || (r.group !== '' && r.group !== 'apps' && r.group !== 'batch')) return e.causes;
  const spec = obj.spec;
  switch (r.kind) {
    case 'Pod': validatePodSpec(e, spec, 'spec'); break;
    case 'PersistentVolumeClaim': validateClaim(e, spec); break;
    case 'PersistentVolume': validateVolumeObject(e, spec); break;
    case 'Deployment': case 'ReplicaSet': case 'StatefulSet': case 'DaemonSet': case 'ReplicationController':
      if (!spec) { e.required('spec'); break; }
      nonNegative(e, spec.replicas, 'spec.replicas');
      if (r.kind !== 'ReplicationController') validateSelector(e, spec, 'spec');
      if (r.kind === 'Deployment' || r.kind === 'DaemonSet' || r.kind === 'StatefulSet' || spec.template) {
        validatePodSpec(e, spec.template?.spec, 'spec.template.spec', ['Always']);
      }
      break;
    case 'Job':
      if (!spec) { e.required('spec'); break; }
      nonNegative(e, spec.parallelism, 'spec.parallelism');
      nonNegative(e, spec.completions, 'spec.completions');
      nonNegative(e, spec.backoffLimit, 'spec.backoffLimit');
      if (spec.manualSelector) validateSelector(e, spec, 'spec');
      validatePodSpec(e, spec.template?.spec, 'spec.template.spec', ['OnFailure', 'Never']);
      if (spec.template?.spec && !spec.template.spec.restartPolicy) e.required('spec.template.spec.restartPolicy');
      break;
    case 'CronJob':
      if (!spec?.schedule) e.required('spec.schedule');
      else if (!/^(@(yearly|annually|monthly|weekly|daily|midnight|hourly|every .+)|(\S+\s+){4}\S+)$/.test(String(spec.schedule).replace(/^(TZ|CRON_TZ)=\S+\s+/, ''))) e.invalid('spec.schedule', spec.schedule, 'unparseable cron schedule');
      if (!spec?.jobTemplate?.spec?.template?.spec) e.required('spec.jobTemplate.spec.template.spec');
      else validatePodSpec(e, spec.jobTemplate.spec.template.spec, 'spec.jobTemplate.spec.template.spec', ['OnFailure', 'Never']);
      break;
    case 'Service': {
      const types = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
      if (spec?.type && !types.includes(spec.type)) e.unsupported('spec.type', spec.type, types);
      if (spec?.type === 'ExternalName' && !spec.externalName) e.required('spec.externalName');
      if (spec?.type !== 'ExternalName' && spec?.clusterIP !== 'None' && !(spec?.ports ?? []).length) e.required('spec.ports');
      const names = new Set<string>();
      (spec?.ports ?? []).forEach((p: any, i: number) => {
        if (!Number.isInteger(p?.port) || p.port < 1 || p.port > 65535) e.invalid(`spec.ports[${i}].port`, p?.port ?? 0, 'must be between 1 and 65535, inclusive');
        if ((spec.ports.length > 1) && !p?.name) e.required(`spec.ports[${i}].name`);
        if (p?.name && names.has(p.name)) e.duplicate(`spec.ports[${i}].name`, p.name);
        names.add(p?.name);
        if (p?.protocol && !['TCP', 'UDP', 'SCTP'].includes(p.protocol)) e.unsupported(`spec.ports[${i}].protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']);
        if (typeof p?.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) e.invalid(`spec.ports[${i}].targetPort`, p.targetPort, 'must be between 1 and 65535, inclusive');
      });
      // Traffic policies, as validateServiceExternalTrafficPolicy and validateServiceInternalTrafficPolicy.
      const external = spec?.type === 'NodePort' || spec?.type === 'LoadBalancer';
      if (!external && spec?.externalTrafficPolicy) e.invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set for externally-accessible services');
      if (external && spec?.externalTrafficPolicy && !['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) e.unsupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']);
      if (spec?.internalTrafficPolicy && !['Cluster', 'Local'].includes(spec.internalTrafficPolicy)) e.unsupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']);
      if (spec?.healthCheckNodePort && !(spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local')) {
        e.invalid('spec.healthCheckNodePort', spec.healthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'");
      }
      break;
    }
    case 'ConfigMap': case 'Secret':
      for (const field of ['data', 'binaryData', 'stringData']) {
        for (const k of Object.keys(obj[field] ?? {})) {
          if (!CONFIG_KEY.test(k) || k.length > 253) e.invalid(`${field}[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
        }
      }
      if (Buffer.byteLength(JSON.stringify(obj.data ?? {})) > 1024 * 1024 + 1024) e.causes.push({ reason: 'FieldValueTooLong', message: 'Too long: must have at most 1048576 bytes', field: 'data' });
      break;
  }
  return e.causes;
}

/** Fields that may not change on update (immutability rules shared by every kind). */
export function validateUpdate(r: ResourceInfo, oldObj: any, obj: any): Cause[] {
  const e = new Errs();
  if ((r.kind === 'ConfigMap' || r.kind === 'Secret') && oldObj.immutable) {
    if (JSON.stringify(oldObj.data ?? {}) !== JSON.stringify(obj.data ?? {}) || JSON.stringify(oldObj.binaryData ?? {}) !== JSON.stringify(obj.binaryData ?? {}))
      e.causes.push({ reason: 'FieldValueForbidden', message: 'Forbidden: field is immutable when `immutable` is set', field: 'data' });
  }
  if (['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(r.kind) && r.group === 'apps'
    && JSON.stringify(oldObj.spec?.selector) !== JSON.stringify(obj.spec?.selector)) {
    e.invalid('spec.selector', obj.spec?.selector, 'field is immutable');
  }
  if (r.group === 'rbac.authorization.k8s.io') e.causes.push(...validateRbacUpdate(r.kind, oldObj, obj));
  if (r.kind === 'Pod' && r.group === '') e.causes.push(...validatePodUpdate(oldObj, obj));
  return e.causes;
}
