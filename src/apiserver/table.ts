/**
 * Table responses (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the columns
 * `kubectl get` prints for each built-in kind, computed on the server as Kubernetes does,
 * plus NAME/AGE (and a CRD's additionalPrinterColumns) for everything else.
 */
import type { ResourceInfo } from './resources.js';
import { selectorString } from './selectors.js';
import { isDefaultClass } from './admission/storage.js';

/** One column definition (meta.k8s.io/v1 TableColumnDefinition). */
export interface Column { name: string; type: string; format: string; description: string; priority: number }
type Cell = string | number | boolean | null;
type Spec = [name: string, fn: (o: any, now: number) => Cell, priority?: number, type?: string];

/** apimachinery's HumanDuration: "5s", "3m20s", "4h", "12d", "3y". */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  if (d < 365 * 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

const since = (t: string | undefined, now: number) => (t ? humanDuration(now - Date.parse(t)) : '<unknown>');
const age: Spec = ['Age', (o, now) => since(o.metadata?.creationTimestamp, now)];
const n = (v: unknown) => (typeof v === 'number' ? v : 0);
const containers = (t: any) => (t?.spec?.containers ?? []).map((c: any) => c.name).join(',');
const images = (t: any) => (t?.spec?.containers ?? []).map((c: any) => c.image).join(',');

function podStatus(p: any): string {
  let reason = p.status?.reason || p.status?.phase || 'Unknown';
  for (const cs of p.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting?.reason, t = cs.state?.terminated;
    if (w) reason = w;
    else if (t && (t.reason || t.exitCode)) reason = t.reason || `ExitCode:${t.exitCode}`;
  }
  if (p.metadata?.deletionTimestamp) reason = p.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

const COLUMNS: Record<string, Spec[]> = {
  'Pod': [
    ['Ready', (p) => `${(p.status?.containerStatuses ?? []).filter((c: any) => c.ready).length}/${(p.spec?.containers ?? []).length}`],
    ['Status', podStatus],
    ['Restarts', (p) => (p.status?.containerStatuses ?? []).reduce((a: number, c: any) => a + n(c.restartCount), 0), 0, 'string'],
    age,
    ['IP', (p) => p.status?.podIP ?? '<none>', 1],
    ['Node', (p) => p.spec?.nodeName ?? '<none>', 1],
    ['Nominated Node', (p) => p.status?.nominatedNodeName ?? '<none>', 1],
    ['Readiness Gates', (p) => (p.spec?.readinessGates?.length ? String(p.spec.readinessGates.length) : '<none>'), 1],
  ],
  'apps/Deployment': [
    ['Ready', (d) => `${n(d.status?.readyReplicas)}/${n(d.spec?.replicas)}`],
    ['Up-to-date', (d) => n(d.status?.updatedReplicas), 0, 'integer'],
    ['Available', (d) => n(d.status?.availableReplicas), 0, 'integer'],
    age,
    ['Containers', (d) => containers(d.spec?.template), 1],
    ['Images', (d) => images(d.spec?.template), 1],
    ['Selector', (d) => selectorString(d.spec?.selector), 1],
  ],
  'apps/ReplicaSet': [
    ['Desired', (d) => n(d.spec?.replicas), 0, 'integer'],
    ['Current', (d) => n(d.status?.replicas), 0, 'integer'],
    ['Ready', (d) => n(d.status?.readyReplicas), 0, 'integer'],
    age,
    ['Containers', (d) => containers(d.spec?.template), 1],
    ['Images', (d) => images(d.spec?.template), 1],
    ['Selector', (d) => selectorString(d.spec?.selector), 1],
  ],
  'apps/StatefulSet': [
    ['Ready', (d) => `${n(d.status?.readyReplicas)}/${n(d.spec?.replicas)}`],
    age,
    ['Containers', (d) => containers(d.spec?.template), 1],
    ['Images', (d) => images(d.spec?.template), 1],
  ],
  'apps/DaemonSet': [
    ['Desired', (d) => n(d.status?.desiredNumberScheduled), 0, 'integer'],
    ['Current', (d) => n(d.status?.currentNumberScheduled), 0, 'integer'],
    ['Ready', (d) => n(d.status?.numberReady), 0, 'integer'],
    ['Up-to-date', (d) => n(d.status?.updatedNumberScheduled), 0, 'integer'],
    ['Available', (d) => n(d.status?.numberAvailable), 0, 'integer'],
    ['Node Selector', (d) => Object.entries(d.spec?.template?.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'],
    age,
  ],
  'batch/Job': [
    ['Status', (j) => (j.status?.conditions ?? []).find((c: any) => c.status === 'True' && ['Complete', 'Failed', 'Suspended'].includes(c.type))?.type ?? 'Running'],
    ['Completions', (j) => `${n(j.status?.succeeded)}/${j.spec?.completions ?? 1}`],
    ['Duration', (j, now) => (j.status?.startTime ? humanDuration((j.status.completionTime ? Date.parse(j.status.completionTime) : now) - Date.parse(j.status.startTime)) : '')],
    age,
  ],
  'batch/CronJob': [
    ['Schedule', (c) => c.spec?.schedule ?? ''],
    ['Timezone', (c) => c.spec?.timeZone ?? '<none>'],
    ['Suspend', (c) => String(!!c.spec?.suspend), 0, 'boolean'],
    ['Active', (c) => (c.status?.active ?? []).length, 0, 'integer'],
    ['Last Schedule', (c, now) => (c.status?.lastScheduleTime ? since(c.status.lastScheduleTime, now) : '<none>')],
    age,
  ],
  'Service': [
    ['Type', (s) => s.spec?.type ?? 'ClusterIP'],
    ['Cluster-IP', (s) => s.spec?.clusterIP || '<none>'],
    ['External-IP', (s) => (s.spec?.type === 'ExternalName' ? s.spec.externalName : (s.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip || i.hostname).concat(s.spec?.externalIPs ?? []).join(',') || (s.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>'))],
    ['Port(s)', (s) => (s.spec?.ports ?? []).map((p: any) => `${p.port}${p.nodePort ? ':' + p.nodePort : ''}/${p.protocol ?? 'TCP'}`).join(',') || '<none>'],
    age,
    ['Selector', (s) => Object.entries(s.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>', 1],
  ],
  'Namespace': [['Status', (ns) => ns.status?.phase ?? 'Active'], age],
  'Node': [
    ['Status', (no) => { const r = (no.status?.conditions ?? []).find((c: any) => c.type === 'Ready'); return (r?.status === 'True' ? 'Ready' : 'NotReady') + (no.spec?.unschedulable ? ',SchedulingDisabled' : ''); }],
    ['Roles', (no) => Object.keys(no.metadata?.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice(24)).join(',') || '<none>'],
    age,
    ['Version', (no) => no.status?.nodeInfo?.kubeletVersion ?? ''],
    ['Internal-IP', (no) => (no.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address ?? '<none>', 1],
    ['OS-Image', (no) => no.status?.nodeInfo?.osImage ?? '<unknown>', 1],
    ['Kernel-Version', (no) => no.status?.nodeInfo?.kernelVersion ?? '<unknown>', 1],
    ['Container-Runtime', (no) => no.status?.nodeInfo?.containerRuntimeVersion ?? '<unknown>', 1],
  ],
  'ConfigMap': [['Data', (c) => Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length, 0, 'integer'], age],
  'Secret': [['Type', (s) => s.type ?? 'Opaque'], ['Data', (s) => Object.keys(s.data ?? {}).length, 0, 'integer'], age],
  'ServiceAccount': [['Secrets', (s) => (s.secrets ?? []).length, 0, 'integer'], age],
  'Endpoints': [['Endpoints', (e) => (e.subsets ?? []).flatMap((s: any) => (s.addresses ?? []).flatMap((a: any) => (s.ports ?? [{}]).map((p: any) => (p.port ? `${a.ip}:${p.port}` : a.ip)))).join(',') || '<none>'], age],
  'discovery.k8s.io/EndpointSlice': [
    ['AddressType', (s) => s.addressType ?? ''],
    ['Ports', (s) => (s.ports == null ? '<unset>' : (s.ports as any[]).map((p) => p.port ?? '<unset>').join(',') || '<unset>')],
    ['Endpoints', (s) => {
      // As kubectl's printer: the first three addresses, then a count.
      const addrs: string[] = (s.endpoints ?? []).flatMap((e: any) => e.addresses ?? []);
      return addrs.length ? addrs.slice(0, 3).join(',') + (addrs.length > 3 ? ` + ${addrs.length - 3} more...` : '') : '<unset>';
    }],
    age,
  ],
  'PersistentVolumeClaim': [
    ['Status', (c) => (c.metadata?.deletionTimestamp ? 'Terminating' : c.status?.phase ?? 'Pending')], ['Volume', (c) => c.spec?.volumeName ?? ''],
    ['Capacity', (c) => c.status?.capacity?.storage ?? ''], ['Access Modes', (c) => accessModes(c.status?.accessModes)],
    ['StorageClass', (c) => c.spec?.storageClassName ?? '<unset>'], ['VolumeAttributesClass', (c) => c.spec?.volumeAttributesClassName ?? '<unset>'], age,
  ],
  'coordination.k8s.io/Lease': [['Holder', (l) => l.spec?.holderIdentity ?? ''], age],
  'scheduling.k8s.io/PriorityClass': [['Value', (p) => n(p.value), 0, 'integer'], ['Global-Default', (p) => String(!!p.globalDefault), 0, 'boolean'], age,
    ['PreemptionPolicy', (p) => p.preemptionPolicy ?? 'PreemptLowerPriority']],
  'networking.k8s.io/Ingress': [
    ['Class', (i) => i.spec?.ingressClassName ?? '<none>'],
    ['Hosts', (i) => (i.spec?.rules ?? []).map((r: any) => r.host).filter(Boolean).join(',') || '*'],
    ['Address', (i) => (i.status?.loadBalancer?.ingress ?? []).map((x: any) => x.ip || x.hostname).join(',')],
    ['Ports', (i) => ((i.spec?.tls ?? []).length ? '80, 443' : '80')], age,
  ],
  'policy/PodDisruptionBudget': [
    ['Min Available', (p) => (p.spec?.minAvailable ?? 'N/A')], ['Max Unavailable', (p) => (p.spec?.maxUnavailable ?? 'N/A')],
    ['Allowed Disruptions', (p) => n(p.status?.disruptionsAllowed), 0, 'integer'], age,
  ],
  'ResourceQuota': [age,
    ['Request', (q) => Object.keys(q.spec?.hard ?? {}).filter((k) => !k.startsWith('limits.')).map((k) => `${k}: ${q.status?.used?.[k] ?? 0}/${q.spec.hard[k]}`).join(', ')],
    ['Limit', (q) => Object.keys(q.spec?.hard ?? {}).filter((k) => k.startsWith('limits.')).map((k) => `${k}: ${q.status?.used?.[k] ?? 0}/${q.spec.hard[k]}`).join(', ')]],
  'rbac.authorization.k8s.io/Role': [['Created At', (r) => r.metadata?.creationTimestamp ?? '', 0, 'date']],
  'rbac.authorization.k8s.io/ClusterRole': [['Created At', (r) => r.metadata?.creationTimestamp ?? '', 0, 'date']],
  'rbac.authorization.k8s.io/RoleBinding': [['Role', (b) => `${b.roleRef?.kind}/${b.roleRef?.name}`], age,
    ['Users', (b) => (b.subjects ?? []).filter((x: any) => x.kind === 'User').map((x: any) => x.name).join(', '), 1],
    ['Groups', (b) => (b.subjects ?? []).filter((x: any) => x.kind === 'Group').map((x: any) => x.name).join(', '), 1],
    ['ServiceAccounts', (b) => (b.subjects ?? []).filter((x: any) => x.kind === 'ServiceAccount').map((x: any) => `${x.namespace ?? ''}/${x.name}`).join(', '), 1]],
  'rbac.authorization.k8s.io/ClusterRoleBinding': [['Role', (b) => `${b.roleRef?.kind}/${b.roleRef?.name}`], age],
  'autoscaling/HorizontalPodAutoscaler': [
    ['Reference', (h) => `${h.spec?.scaleTargetRef?.kind}/${h.spec?.scaleTargetRef?.name}`],
    ['Targets', (h) => hpaTargets(h)],
    ['MinPods', (h) => h.spec?.minReplicas ?? 1, 0, 'integer'], ['MaxPods', (h) => n(h.spec?.maxReplicas), 0, 'integer'],
    ['Replicas', (h) => n(h.status?.currentReplicas), 0, 'integer'], age,
  ],
  'storage.k8s.io/StorageClass': [['Provisioner', (c) => c.provisioner ?? ''], ['ReclaimPolicy', (c) => c.reclaimPolicy ?? 'Delete'],
    ['VolumeBindingMode', (c) => c.volumeBindingMode ?? 'Immediate'], ['AllowVolumeExpansion', (c) => String(!!c.allowVolumeExpansion)], age],
  'PersistentVolume': [['Capacity', (v) => v.spec?.capacity?.storage ?? ''], ['Access Modes', (v) => accessModes(v.spec?.accessModes)],
    ['Reclaim Policy', (v) => v.spec?.persistentVolumeReclaimPolicy ?? 'Retain'], ['Status', (v) => (v.metadata?.deletionTimestamp ? 'Terminating' : v.status?.phase ?? 'Pending')],
    ['Claim', (v) => (v.spec?.claimRef ? `${v.spec.claimRef.namespace}/${v.spec.claimRef.name}` : '')], ['StorageClass', (v) => v.spec?.storageClassName ?? ''],
    ['VolumeAttributesClass', (v) => v.spec?.volumeAttributesClassName ?? '<unset>'], ['Reason', (v) => v.status?.reason ?? ''], age],
  'apiextensions.k8s.io/CustomResourceDefinition': [['Created At', (c) => c.metadata?.creationTimestamp ?? '', 0, 'date']],
};

/** The TARGETS column as kubectl's printer writes it ("cpu: 30%/50%", "cpu: <unknown>/50%"). */
function hpaTargets(h: any): string {
  const metrics: any[] = h.spec?.metrics ?? [];
  if (!metrics.length) return '<none>';
  const parts = metrics.map((m, i) => {
    const cur = h.status?.currentMetrics?.[i];
    if (m.type === 'Resource' || m.type === 'ContainerResource') {
      const src = m.resource ?? m.containerResource;
      const c = (cur?.resource ?? cur?.containerResource)?.current;
      if (src?.target?.type === 'Utilization') return `${src.name}: ${c?.averageUtilization ?? '<unknown>'}%/${src.target.averageUtilization}%`.replace('<unknown>%', '<unknown>');
      return `${src?.name}: ${c?.averageValue ?? '<unknown>'}/${src?.target?.averageValue ?? src?.target?.value}`;
    }
    return `<unknown>/${JSON.stringify(m[String(m.type).charAt(0).toLowerCase() + String(m.type).slice(1)]?.target ?? {})}`;
  });
  return parts.length > 2 ? `${parts.slice(0, 2).join(', ')} + ${parts.length - 2} more...` : parts.join(', ');
}

const EVENT_COLUMNS: Spec[] = [
  ['Last Seen', (e, now) => since(e.lastTimestamp || e.eventTime || e.metadata?.creationTimestamp, now)],
  ['Type', (e) => e.type ?? ''],
  ['Reason', (e) => e.reason ?? ''],
  ['Object', (e) => `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`],
  ['Message', (e) => e.message ?? ''],
];

function jsonPath(o: any, p: string): Cell {
  let cur = o;
  for (const part of p.replace(/^\./, '').split('.')) {
    const m = /^(\w[\w-]*)(?:\[(\d+)\])?$/.exec(part);
    if (!m || cur == null) return null;
    cur = cur[m[1]];
    if (m[2] !== undefined) cur = cur?.[Number(m[2])];
  }
  return cur == null ? null : typeof cur === 'object' ? JSON.stringify(cur) : cur;
}

/** Access modes as kubectl abbreviates them (RWO, ROX, RWX, RWOP). */
function accessModes(modes: string[] | undefined): string {
  const short: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
  return (modes ?? []).map((m) => short[m] ?? m).join(',');
}

function specsFor(r: ResourceInfo): Spec[] {
  if (r.kind === 'Event' && (r.group === '' || r.group === 'events.k8s.io')) return EVENT_COLUMNS;
  const builtin = r.custom ? undefined : COLUMNS[r.group ? `${r.group}/${r.kind}` : r.kind];
  // The default StorageClass is printed "name (default)", as kubectl's server-side printer does.
  const isDefault = r.kind === 'StorageClass' && r.group === 'storage.k8s.io' ? isDefaultClass : () => false;
  if (builtin) return [['Name', (o) => `${o.metadata?.name ?? ''}${isDefault(o) ? ' (default)' : ''}`], ...builtin];
  const extra: Spec[] = (r.printerColumns ?? []).map((c) => [c.name,
    (o: any, now: number) => { const v = jsonPath(o, c.jsonPath); return c.type === 'date' && typeof v === 'string' ? since(v, now) : v; },
    c.priority ?? 0, c.type === 'date' ? 'string' : c.type]);
  const hasAge = extra.some(([name]) => name.toLowerCase() === 'age');
  return [['Name', (o) => o.metadata?.name ?? ''], ...extra, ...(hasAge ? [] : [age])];
}

/** The column definitions for a resource. */
export function columnsFor(r: ResourceInfo): Column[] {
  return specsFor(r).map(([name, , priority = 0, type = 'string']) => ({
    name, type, format: name === 'Name' ? 'name' : '', priority,
    description: name === 'Name' ? 'Name must be unique within a namespace.' : name === 'Age' ? 'CreationTimestamp is a timestamp representing the server time when this object was created.' : `${name} of the ${r.kind}.`,
  }));
}

/** How much of each object a row carries (`includeObject`). */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Builds a meta.k8s.io Table of `objs`. */
export function toTable(r: ResourceInfo, objs: any[], listMeta: Record<string, unknown>, include: IncludeObject = 'Metadata', version = 'v1'): Record<string, unknown> {
  const specs = specsFor(r);
  const now = Date.now();
  return {
    kind: 'Table', apiVersion: `meta.k8s.io/${version}`, metadata: listMeta,
    columnDefinitions: columnsFor(r),
    rows: objs.map((o) => ({
      cells: specs.map(([, fn]) => { try { return fn(o, now); } catch { return null; } }),
      object: include === 'None' ? undefined : include === 'Object' ? o
        : { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: o.metadata },
    })),
  };
}
