/**
 * The scale (autoscaling/v1 Scale) and binding subresources. Scale reads and writes the
 * replica count at the paths the resource declares (built-ins: .spec.replicas,
 * .status.replicas, a selector from .spec.selector; CRDs: their scale subresource paths).
 */
import type { Storage } from './storage.js';
import type { ResourceInfo } from './resources.js';
import { ApiError, badRequest } from './status.js';
import { selectorString } from './selectors.js';

function read(obj: any, path: string): any {
  let cur = obj;
  for (const k of path.replace(/^\./, '').split('.')) cur = cur?.[k];
  return cur;
}

function write(obj: any, path: string, v: unknown): void {
  const ks = path.replace(/^\./, '').split('.');
  let cur = obj;
  for (const k of ks.slice(0, -1)) cur = cur[k] ??= {};
  cur[ks[ks.length - 1]] = v;
}

/** The Scale view of an object. */
export function getScale(r: ResourceInfo, obj: any): any {
  const s = r.subresources!.scale!;
  let selector: string | undefined;
  if (!r.custom) selector = selectorString(obj.spec?.selector ?? { matchLabels: obj.spec?.template?.metadata?.labels });
  else if (s.labelSelectorPath) selector = read(obj, s.labelSelectorPath);
  const m = obj.metadata;
  return {
    kind: 'Scale', apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: read(obj, s.specReplicasPath) ?? 0 },
    status: { replicas: read(obj, s.statusReplicasPath) ?? 0, ...(selector ? { selector } : {}) },
  };
}

/** A copy of `obj` with its desired replicas set to `n`. */
export function setScaleReplicas(r: ResourceInfo, obj: any, n: number): any {
  const out = structuredClone(obj);
  write(out, r.subresources!.scale!.specReplicasPath, n);
  delete out.metadata.resourceVersion;
  return out;
}

/** pods/binding: assigns an unbound pod to a node (the scheduler's write). */
export async function bindPod(storage: Storage, r: ResourceInfo, ns: string, name: string, binding: any, dryRun: boolean): Promise<void> {
  const node = binding?.target?.name;
  if (!node) throw badRequest('binding.target.name: Required value');
  await storage.update(r, ns, name, (pod) => {
    if (pod.spec?.nodeName) throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${pod.spec.nodeName}"`, { name, kind: 'pods/binding' });
    if (pod.metadata.deletionTimestamp) throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is being deleted, cannot be assigned to a host`);
    pod.spec.nodeName = node;
    const conds = (pod.status ??= {}).conditions ?? [];
    pod.status.conditions = [...conds.filter((c: any) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }];
    delete pod.metadata.resourceVersion;
    return pod;
  }, { dryRun, system: true });
}
