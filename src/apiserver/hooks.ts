/**
 * Kind-specific storage hooks the server installs: cluster IP and node port allocation for
 * Services (service-alloc.ts), CRD acceptance (status, served resources), CRD cleanup,
 * custom resource schema validation, kicking the namespace controller, RBAC escalation checks
 * and keeping the RBAC authorizer's cache current with this server's own writes.
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
import { ServiceAllocator } from './service-alloc.js';
import type { RbacAuthorizer } from './authz/rbac.js';
import { checkEscalation } from './authz/escalation.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** Builds the hooks; `getStorage` breaks the construction cycle (storage needs hooks). */
export function makeHooks(catalog: Catalog, getStorage: () => Storage, nsController: () => NamespaceController | undefined, caCert = '', gc: () => GarbageCollector | undefined = () => undefined,
  rbac: () => RbacAuthorizer | undefined = () => undefined): Hooks {
  let quota: QuotaAdmission | undefined;
  const services = new ServiceAllocator(async () => (await getStorage().list(catalog.lookup('', 'v1', 'services')!, undefined, {})).items);

  return {
    async beforeCreate(r, obj, opts) {
      // Admission, in kube-apiserver's order: mutating plugins, then the quota check.
      if (r.kind === 'Pod' && !r.group) {
        await admitServiceAccount(getStorage(), obj);
        await admitPriority(getStorage(), obj);
        admitTolerations(obj);
        await admitLimitRanges(getStorage(), obj);
      }
      if (r.group === RBAC_GROUP && rbac()) checkEscalation(rbac()!, r, obj, undefined, opts?.user);
      if (r.kind === 'PriorityClass' && r.group === 'scheduling.k8s.io') await admitPriorityClass(getStorage(), obj);
      if (r.kind === 'LimitRange' && !r.group) defaultLimitRange(obj);
      if (r.kind === 'PersistentVolumeClaim' && !r.group) await admitClaim(getStorage(), obj);
      if (r.kind === 'PersistentVolume' && !r.group) admitVolume(obj);
      await (quota ??= new QuotaAdmission(getStorage(), catalog)).admit(r, obj, !!opts?.dryRun);
      if (r.kind === 'Service' && !r.group) await services.create(obj);
      if (r.kind === 'CustomResourceDefinition') obj.status = crdStatus(obj);
    },
    async beforeUpdate(r, cur, next, opts) {
      if (r.group === RBAC_GROUP && rbac()) checkEscalation(rbac()!, r, next, cur, opts?.user);
      if (r.kind === 'Service' && !r.group) await services.update(cur, next);
    },
    async afterWrite(r, obj, type) {
      if (r.group === RBAC_GROUP) rbac()?.observe(r.resource, obj, type === 'delete');
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
