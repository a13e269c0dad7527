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
  if (eviction?.metadata?.name && eviction.metadata.name !== name) throw new ApiError(400, 'BadRequest', 'name in URL does not match name in Eviction object');
  const opts = eviction?.deleteOptions ?? {};
  // `pinned`: delete only the pod as it was judged (it must not have turned ready meanwhile).
  const del = (pinned = false) => storage.delete(PODS, ns, name, { gracePeriodSeconds: opts.gracePeriodSeconds, preconditions: pinned ? { ...opts.preconditions, resourceVersion: pod.metadata.resourceVersion } : opts.preconditions, propagationPolicy: opts.propagationPolicy, dryRun: (opts.dryRun ?? []).includes('All') });
  const ok = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  // canIgnorePDB: a finished, pending or already terminating pod disrupts nothing.
  if (pod.metadata.deletionTimestamp || ['Succeeded', 'Failed', 'Pending'].includes(pod.status?.phase)) { await del(); return ok; }
  const { kvs } = await storage.backend.list(keyPrefix(PDBS, ns));
  const pdbs = kvs.map(decode).filter((p) => p.spec?.selector !== undefined && selectorObjectMatcher(p.spec.selector)(pod.metadata.labels ?? {}));
  if (pdbs.length > 1) throw new ApiError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  const ready = (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  // An unready pod is not healthy: evicting it costs nothing when the budget says AlwaysAllow,
  // or (IfHealthyBudget, the default) while the budget has all the healthy pods it needs.
  const st = pdbs[0]?.status ?? {};
  if (pdbs.length && !ready && (pdbs[0].spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow' || ((st.currentHealthy ?? 0) >= (st.desiredHealthy ?? 0) && (st.desiredHealthy ?? 0) > 0))) {
    await del(true);
    return ok;
  }
  if (pdbs.length) {
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
