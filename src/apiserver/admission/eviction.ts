/**
 * The pods/eviction subresource (policy/v1 Eviction), as kube-apiserver serves it for `kubectl
 * drain`: a pod covered by a PodDisruptionBudget is deleted only when the budget allows a
 * disruption, which the eviction then takes (status.disruptionsAllowed decremented with a
 * resourceVersion check, the pod noted in status.disruptedPods); otherwise 429 "Cannot evict
 * pod as it would violate the pod's disruption budget.". Pods that are not running (pending,
 * finished) are deleted without asking any budget.
 */
import type { Storage } from '../storage.js';
import { BUILTIN, keyPrefix, objectKey } from '../resources.js';
import { decode } from '../storage.js';
import { ApiError, notFound } from '../status.js';
import { selectorObjectMatcher } from '../../core/labels.js';

const PODS = BUILTIN.find((r) => r.resource === 'pods' && r.group === '')!;
const PDBS = BUILTIN.find((r) => r.resource === 'poddisruptionbudgets')!;

/** Evicts a pod (deleting it) if its disruption budget allows. */
export async function evictPod(storage: Storage, ns: string, name: string, eviction: any): Promise<any> {
  const { kv } = await storage.backend.get(objectKey(PODS, ns, name));
  if (!kv) throw notFound(PODS, name);
  const pod = decode(kv);
  const opts = eviction?.deleteOptions ?? {};
  const del = () => storage.delete(PODS, ns, name, { gracePeriodSeconds: opts.gracePeriodSeconds, preconditions: opts.preconditions, propagationPolicy: opts.propagationPolicy, dryRun: (opts.dryRun ?? []).includes('All') });
  const ok = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  if (pod.metadata.deletionTimestamp || pod.status?.phase !== 'Running') { await del(); return ok; }
  const { kvs } = await storage.backend.list(keyPrefix(PDBS, ns));
  const pdbs = kvs.map(decode).filter((p) => p.spec?.selector !== undefined && selectorObjectMatcher(p.spec.selector)(pod.metadata.labels ?? {}));
  if (pdbs.length > 1) throw new ApiError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  // A pod that is not ready is not healthy: evicting it costs the budget nothing (IfHealthyBudget).
  const ready = (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  if (pdbs.length && ready) {
    // Read-modify-write of the budget's status with optimistic concurrency: two evictions
    // racing for the last allowed disruption cannot both win.
    await storage.update(PDBS, ns, pdbs[0].metadata.name, (pdb) => {
      const allowed = pdb.status?.disruptionsAllowed ?? 0;
      if ((pdb.status?.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0) || allowed <= 0) {
        throw new ApiError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
          causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} needs ${pdb.status?.desiredHealthy ?? 0} healthy pods and has ${pdb.status?.currentHealthy ?? 0} currently` }],
        });
      }
      pdb.status = { ...pdb.status, disruptionsAllowed: allowed - 1, disruptedPods: { ...(pdb.status?.disruptedPods ?? {}), [name]: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } };
      // Unpinned: a write that lost a race (the disruption controller, another eviction) is
      // re-run against the newer status instead of failing with 409, which kubectl drain
      // does not retry (Kubernetes retries evictions on conflict too).
      delete pdb.metadata.resourceVersion;
      return pdb;
    }, { subresource: 'status', dryRun: (opts.dryRun ?? []).includes('All') });
  }
  await del();
  return ok;
}
