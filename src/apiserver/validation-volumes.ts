/**
 * Validation of volumes and storage objects, as Kubernetes' (pkg/apis/core/validation): a
 * pod's volumes (one source each, the source's required fields, item paths and modes,
 * downward API field paths, token lifetimes), its containers' volumeMounts (a known volume,
 * a unique mountPath, subPath rules), PersistentVolumeClaims, PersistentVolumes and
 * StorageClasses. Messages are apimachinery's field errors, as kubectl prints them.
 */
import type { Errs } from './validation.js';

/** The volume sources Kubernetes knows (any one of them may be named). */
const SOURCES = ['hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs',
  'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap', 'vsphereVolume',
  'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image'];
const PV_SOURCES = [...SOURCES.filter((s) => !['emptyDir', 'secret', 'gitRepo', 'persistentVolumeClaim', 'downwardAPI', 'configMap', 'projected', 'ephemeral', 'image'].includes(s)), 'local'];
const HOST_PATH_TYPES = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];
const DOWNWARD_FIELDS = ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid'];
const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];

/** A relative path without `..` (item paths, subPaths). */
function relativePath(e: Errs, field: string, p: unknown): void {
  if (typeof p !== 'string' || !p) return e.required(field);
  if (p.startsWith('/')) e.invalid(field, p, 'must be a relative path');
  if (p.split('/').includes('..')) e.invalid(field, p, "must not contain '..'");
}

function mode(e: Errs, field: string, m: unknown): void {
  if (m !== undefined && (!Number.isInteger(m) || (m as number) < 0 || (m as number) > 0o777)) e.invalid(field, m, 'must be a number between 0 and 0777 (octal), both inclusive');
}

function keyItems(e: Errs, field: string, items: any[] | undefined): void {
  (items ?? []).forEach((it: any, i: number) => {
    const f = `${field}.items[${i}]`;
    if (!it?.key) e.required(`${f}.key`);
    relativePath(e, `${f}.path`, it?.path);
    mode(e, `${f}.mode`, it?.mode);
  });
}

function downwardItems(e: Errs, field: string, items: any[] | undefined): void {
  (items ?? []).forEach((it: any, i: number) => {
    const f = `${field}.items[${i}]`;
    relativePath(e, `${f}.path`, it?.path);
    mode(e, `${f}.mode`, it?.mode);
    if (it?.fieldRef) {
      const p = String(it.fieldRef.fieldPath ?? '');
      if (!p) e.required(`${f}.fieldRef.fieldPath`);
      else if (!DOWNWARD_FIELDS.includes(p) && !/^metadata\.(labels|annotations)\['[^']+'\]$/.test(p)) e.unsupported(`${f}.fieldRef.fieldPath`, p, DOWNWARD_FIELDS);
    } else if (it?.resourceFieldRef) {
      if (!it.resourceFieldRef.containerName) e.required(`${f}.resourceFieldRef.containerName`);
      if (!it.resourceFieldRef.resource) e.required(`${f}.resourceFieldRef.resource`);
    } else e.required(f, 'one of fieldRef and resourceFieldRef is required');
  });
}

/** Exactly one of `names` set on `obj`; the others reported as Kubernetes does. */
function oneSource(e: Errs, field: string, obj: any, names: string[]): string | undefined {
  const set = names.filter((n) => obj?.[n] !== undefined && obj[n] !== null);
  if (!set.length) { e.required(field, 'must specify a volume type'); return undefined; }
  for (const extra of set.slice(1)) e.forbidden(`${field}.${extra}`, 'may not specify more than 1 volume type');
  return set[0];
}

function validateVolume(e: Errs, v: any, f: string): void {
  const kind = oneSource(e, f, v, SOURCES);
  const src = kind ? v[kind] : undefined;
  switch (kind) {
    case 'hostPath':
      if (!src?.path) e.required(`${f}.hostPath.path`);
      else if (String(src.path).split('/').includes('..')) e.invalid(`${f}.hostPath.path`, src.path, "must not contain '..'");
      if (src?.type !== undefined && !HOST_PATH_TYPES.includes(src.type)) e.unsupported(`${f}.hostPath.type`, src.type, HOST_PATH_TYPES);
      break;
    case 'configMap':
      if (!src?.name) e.required(`${f}.configMap.name`);
      mode(e, `${f}.configMap.defaultMode`, src?.defaultMode);
      keyItems(e, `${f}.configMap`, src?.items);
      break;
    case 'secret':
      if (!src?.secretName) e.required(`${f}.secret.secretName`);
      mode(e, `${f}.secret.defaultMode`, src?.defaultMode);
      keyItems(e, `${f}.secret`, src?.items);
      break;
    case 'downwardAPI':
      mode(e, `${f}.downwardAPI.defaultMode`, src?.defaultMode);
      downwardItems(e, `${f}.downwardAPI`, src?.items);
      break;
    case 'persistentVolumeClaim':
      if (!src?.claimName) e.required(`${f}.persistentVolumeClaim.claimName`);
      break;
    case 'projected':
      mode(e, `${f}.projected.defaultMode`, src?.defaultMode);
      (src?.sources ?? []).forEach((s: any, i: number) => {
        const sf = `${f}.projected.sources[${i}]`;
        if (s?.configMap) { if (!s.configMap.name) e.required(`${sf}.configMap.name`); keyItems(e, `${sf}.configMap`, s.configMap.items); }
        if (s?.secret) { if (!s.secret.name) e.required(`${sf}.secret.name`); keyItems(e, `${sf}.secret`, s.secret.items); }
        if (s?.downwardAPI) downwardItems(e, `${sf}.downwardAPI`, s.downwardAPI.items);
        if (s?.serviceAccountToken) {
          relativePath(e, `${sf}.serviceAccountToken.path`, s.serviceAccountToken.path);
          const exp = s.serviceAccountToken.expirationSeconds;
          if (exp !== undefined && exp < 600) e.invalid(`${sf}.serviceAccountToken.expirationSeconds`, exp, 'may not specify a duration less than 10 minutes');
        }
      });
      break;
  }
}

/** A pod's volumes and its containers' volumeMounts. */
export function validatePodVolumes(e: Errs, spec: any, path: string): void {
  const names = new Set<string>();
  (Array.isArray(spec.volumes) ? spec.volumes : []).forEach((v: any, i: number) => {
    const f = `${path}.volumes[${i}]`;
    if (!v?.name) e.required(`${f}.name`);
    else if (names.has(v.name)) e.duplicate(`${f}.name`, v.name);
    names.add(v?.name);
    validateVolume(e, v, f);
  });
  for (const kind of ['initContainers', 'containers']) {
    (Array.isArray(spec[kind]) ? spec[kind] : []).forEach((c: any, i: number) => {
      const paths = new Set<string>();
      (c?.volumeMounts ?? []).forEach((m: any, j: number) => {
        const f = `${path}.${kind}[${i}].volumeMounts[${j}]`;
        if (!m?.name) e.required(`${f}.name`);
        else if (!names.has(m.name)) e.notFound(`${f}.name`, m.name);
        if (!m?.mountPath) e.required(`${f}.mountPath`);
        else if (paths.has(m.mountPath)) e.invalid(`${f}.mountPath`, m.mountPath, 'must be unique');
        paths.add(m?.mountPath);
        if (m?.subPath) relativePath(e, `${f}.subPath`, m.subPath);
        if (m?.subPath && m?.subPathExpr) e.invalid(`${f}.subPathExpr`, m.subPathExpr, 'subPathExpr and subPath are mutually exclusive');
        if (m?.subPathExpr) relativePath(e, `${f}.subPathExpr`, m.subPathExpr);
      });
    });
  }
}

function accessModes(e: Errs, field: string, modes: unknown): void {
  if (!Array.isArray(modes) || !modes.length) return e.required(field, 'at least 1 access mode is required');
  for (const m of modes) if (!ACCESS_MODES.includes(m)) e.unsupported(field, m, ACCESS_MODES);
}

/** A PersistentVolumeClaim's spec. */
export function validateClaim(e: Errs, spec: any): void {
  if (!spec || typeof spec !== 'object') return e.required('spec');
  if (!spec.dataSource && !spec.dataSourceRef) accessModes(e, 'spec.accessModes', spec.accessModes);
  if (!spec.resources?.requests?.storage) e.required('spec.resources[storage]');
}

/** A PersistentVolume's spec. */
export function validateVolumeObject(e: Errs, spec: any): void {
  if (!spec || typeof spec !== 'object') return e.required('spec');
  if (!spec.capacity?.storage) e.required('spec.capacity');
  accessModes(e, 'spec.accessModes', spec.accessModes);
  const kind = oneSource(e, 'spec', spec, PV_SOURCES);
  if ((kind === 'hostPath' || kind === 'local') && !spec[kind]?.path) e.required(`spec.${kind}.path`);
  if (kind === 'hostPath' && spec.hostPath.type !== undefined && !HOST_PATH_TYPES.includes(spec.hostPath.type)) e.unsupported('spec.hostPath.type', spec.hostPath.type, HOST_PATH_TYPES);
  const policy = spec.persistentVolumeReclaimPolicy;
  if (policy !== undefined && !['Delete', 'Recycle', 'Retain'].includes(policy)) e.unsupported('spec.persistentVolumeReclaimPolicy', policy, ['Delete', 'Recycle', 'Retain']);
}

/** A StorageClass. */
export function validateStorageClass(e: Errs, sc: any): void {
  if (!sc.provisioner) e.required('provisioner');
  if (sc.reclaimPolicy !== undefined && !['Delete', 'Retain'].includes(sc.reclaimPolicy)) e.unsupported('reclaimPolicy', sc.reclaimPolicy, ['Delete', 'Retain']);
  const modes = ['Immediate', 'WaitForFirstConsumer'];
  if (sc.volumeBindingMode !== undefined && !modes.includes(sc.volumeBindingMode)) e.unsupported('volumeBindingMode', sc.volumeBindingMode, modes);
}
