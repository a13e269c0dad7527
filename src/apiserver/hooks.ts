/**
 * Kind-specific storage hooks the server installs: cluster IP and node port allocation for
 * Services, CRD acceptance (status, served resources), CRD cleanup, custom resource schema
 * validation, and kicking the namespace controller.
 */
import type { Hooks, Storage } from './storage.js';
import type { Catalog } from './catalog.js';
import { crdStatus, schemaErrors, validateCrd } from './catalog.js';
import { keyPrefix } from './resources.js';
import { ApiError } from './status.js';
import type { NamespaceController } from './namespaces.js';
import { ORPHAN, FOREGROUND, type GarbageCollector } from './gc.js';
import { admitLimitRanges, admitPriority, admitPriorityClass, admitTolerations, defaultLimitRange } from './admission/pods.js';
import { QuotaAdmission } from './admission/quota.js';
import { admitServiceAccount } from './admission/serviceaccount.js';
import { admitClaim, admitVolume } from './admission/storage.js';

/** The service CIDR, 10.96.0.0/16 as in kubeadm; .1 is the `kubernetes` service. */
const SVC_BASE = (10 << 24) | (96 << 16);
const SVC_SIZE = 1 << 16;
const ipOf = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const numOf = (ip: string) => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);

/** Builds the hooks; `getStorage` breaks the construction cycle (storage needs hooks). */
export function makeHooks(catalog: Catalog, getStorage: () => Storage, nsController: () => NamespaceController | undefined, caCert = '', gc: () => GarbageCollector | undefined = () => undefined): Hooks {
  const reservedIps = new Set<string>(); // in flight within this process: two creates never share an IP
  const reservedPorts = new Set<number>();
  let lock: Promise<void> = Promise.resolve();
  let quota: QuotaAdmission | undefined;

  async function allocate(svc: any): Promise<void> {
    const spec = svc.spec;
    const storage = getStorage();
    const services = catalog.lookup('', 'v1', 'services')!;
    const { items } = await storage.list(services, undefined, {});
    const usedIps = new Set<string>([...reservedIps, ...items.flatMap((s) => s.spec?.clusterIPs ?? [s.spec?.clusterIP]).filter(Boolean)]);
    const usedPorts = new Set<number>([...reservedPorts, ...items.flatMap((s) => (s.spec?.ports ?? []).map((p: any) => p.nodePort)).filter(Boolean)]);
    if (spec.type !== 'ExternalName') {
      if (spec.clusterIP && spec.clusterIP !== 'None') {
        const n = numOf(spec.clusterIP);
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(spec.clusterIP) || n < SVC_BASE || n >= SVC_BASE + SVC_SIZE) {
          throw invalidField(svc, 'spec.clusterIPs', spec.clusterIP, 'failed to allocate IP: the provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/16');
        }
        if (usedIps.has(spec.clusterIP)) throw invalidField(svc, 'spec.clusterIPs', spec.clusterIP, 'failed to allocate IP: provided IP is already allocated');
      } else if (!spec.clusterIP) {
        const start = Math.floor(Math.random() * (SVC_SIZE - 20)) + 10;
        for (let i = 0; i < SVC_SIZE; i++) {
          const ip = ipOf(SVC_BASE + ((start + i) % (SVC_SIZE - 2)) + 1);
          if (!usedIps.has(ip)) { spec.clusterIP = ip; break; }
        }
      }
      spec.clusterIPs = [spec.clusterIP];
      reservedIps.add(spec.clusterIP);
      setTimeout(() => reservedIps.delete(spec.clusterIP), 10_000).unref();
    }
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
      for (const p of spec.ports ?? []) {
        if (p.nodePort) {
          if (p.nodePort < 30000 || p.nodePort > 32767) throw invalidField(svc, 'spec.ports[0].nodePort', p.nodePort, 'provided port is not in the valid range. The range of valid ports is 30000-32767');
          if (usedPorts.has(p.nodePort)) throw invalidField(svc, 'spec.ports[0].nodePort', p.nodePort, 'provided port is already allocated');
        } else {
          for (let n = 30000; n <= 32767; n++) if (!usedPorts.has(n)) { p.nodePort = n; break; }
        }
        usedPorts.add(p.nodePort);
        reservedPorts.add(p.nodePort);
        setTimeout(() => reservedPorts.delete(p.nodePort), 10_000).unref();
      }
    }
  }

  return {
    async beforeCreate(r, obj, opts) {
      // Admission, in kube-apiserver's order: mutating plugins, then the quota check.
      if (r.kind === 'Pod' && !r.group) {
        await admitServiceAccount(getStorage(), obj);
        await admitPriority(getStorage(), obj);
        admitTolerations(obj);
        await admitLimitRanges(getStorage(), obj);
      }
      if (r.kind === 'PriorityClass' && r.group === 'scheduling.k8s.io') await admitPriorityClass(getStorage(), obj);
      if (r.kind === 'LimitRange' && !r.group) defaultLimitRange(obj);
      if (r.kind === 'PersistentVolumeClaim' && !r.group) await admitClaim(getStorage(), obj);
      if (r.kind === 'PersistentVolume' && !r.group) admitVolume(obj);
      await (quota ??= new QuotaAdmission(getStorage(), catalog)).admit(r, obj, !!opts?.dryRun);
      if (r.kind === 'Service' && !r.group) {
        const run = lock.then(() => allocate(obj));
        lock = run.catch(() => {});
        await run;
      }
      if (r.kind === 'CustomResourceDefinition') obj.status = crdStatus(obj);
    },
    async afterWrite(r, obj, type) {
      if (type === 'create') quota?.release(obj.metadata?.uid);
      if (r.kind === 'CustomResourceDefinition' && r.group === 'apiextensions.k8s.io') {
        const gone = type === 'delete';
        if (gone) {
          // Custom resources go with their definition (the real server's cleanup finalizer).
          const storage = getStorage();
          const rows = catalog.all().filter((x) => x.custom && x.group === obj.spec?.group && x.resource === obj.spec?.names?.plural);
          if (rows[0]) {
            const { kvs } = await storage.backend.list(keyPrefix(rows[0]));
            for (const kv of kvs) await storage.backend.delete(kv.key).catch(() => {});
          }
        }
        catalog.applyCrd(obj, gone);
      }
      if (r.kind === 'Namespace' && !r.group && obj.metadata?.deletionTimestamp && type !== 'delete') nsController()?.kick(obj.metadata.name);
      if (r.kind === 'Namespace' && !r.group && type === 'create') await seedNamespace(catalog, getStorage(), obj.metadata.name, caCert);
      if (type === 'delete') gc()?.ownerDeleted(r, obj);
      else if (obj.metadata?.deletionTimestamp && (obj.metadata.finalizers ?? []).some((f: string) => f === ORPHAN || f === FOREGROUND)) gc()?.finalizing(r, obj);
    },
    validate(r, obj) {
      if (r.kind === 'CustomResourceDefinition' && r.group === 'apiextensions.k8s.io') return validateCrd(obj);
      if (!r.custom) return [];
      const s = catalog.schemaOf(r);
      return schemaErrors(obj, s, '');
    },
  };
}

function invalidField(svc: any, field: string, value: unknown, message: string): ApiError {
  return new ApiError(422, 'Invalid', `Service "${svc.metadata?.name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${message}`,
    { name: svc.metadata?.name, kind: 'Service', causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${message}`, field }] });
}

/**
 * What every namespace holds in a real cluster, made by its controllers there: the `default`
 * ServiceAccount and the `kube-root-ca.crt` ConfigMap (the CA pods use to trust the server).
 */
export async function seedNamespace(catalog: Catalog, storage: Storage, ns: string, caCert: string): Promise<void> {
  const sa = catalog.lookup('', 'v1', 'serviceaccounts')!;
  const cm = catalog.lookup('', 'v1', 'configmaps')!;
  const ignoreExists = (err: unknown) => { if (!(err instanceof ApiError && err.code === 409)) throw err; };
  await storage.create(sa, ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }).catch(ignoreExists);
  if (caCert) {
    await storage.create(cm, ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } }, data: { 'ca.crt': caCert } }).catch(ignoreExists);
  }
}
