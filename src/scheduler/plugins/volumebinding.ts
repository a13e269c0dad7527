/**
 * VolumeBinding, as kube-scheduler's: a pod's PersistentVolumeClaims decide where it can run.
 *
 *   preFilter  every claim exists and is not being deleted (`persistentvolumeclaim "x" not
 *              found`); an unbound claim of an Immediate class waits for the binder ("pod has
 *              unbound immediate PersistentVolumeClaims")
 *   filter     a bound claim's volume must admit the node ("node(s) had volume node affinity
 *              conflict"); an unbound WaitForFirstConsumer claim needs an available volume
 *              fitting the node, or a class with a provisioner ("node(s) didn't find available
 *              persistent volumes to bind")
 *   reserve    the chosen volumes are assumed taken (no other pod's cycle picks them)
 *   preBind    static matches get their claimRef (the binder finishes the binding); claims to
 *              provision get volume.kubernetes.io/selected-node; then it waits (up to 10 min,
 *              kube-scheduler's bind timeout) until every claim is Bound, and only then is the
 *              pod bound to the node.
 */
import type { ApiClient, KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import type { Clock } from '../../controllers/runtime/clock.js';
import type { InformerFactory } from '../../controllers/runtime/informer.js';
import { ANN, claimClass, findBestMatch, volumeFitsNode } from '../../controllers/persistentvolume/match.js';
import { OK, unresolvable, unschedulable, type CycleState, type Plugin, type Status } from '../framework.js';

/** kube-scheduler's default bind timeout for volumes. */
const BIND_TIMEOUT_MS = 600_000;

interface Claims { bound: { pvc: KObject; pv?: KObject }[]; delayed: KObject[] }
interface Decision { static: { pvc: KObject; pv: KObject }[]; provision: KObject[] }

const CLAIMS = 'VolumeBinding/claims';
const DECISIONS = 'VolumeBinding/decisions';

/** The VolumeBinding plugin with its caches; `synced` resolves when they are filled. */
export function volumeBinding(informers: InformerFactory, clock: Clock, onChange: () => void): Plugin & { synced: Promise<void> } {
  const claims = informers.for(R.persistentvolumeclaims);
  const volumes = informers.for(R.persistentvolumes);
  const classes = informers.for(R.storageclasses);
  const assumed = new Set<string>();
  const waiters = new Set<() => void>();
  const wake = () => { for (const w of [...waiters]) w(); };
  // A new claim, volume or class can make a parked pod schedulable; a claim's binding ends a wait.
  for (const inf of [claims, volumes, classes]) inf.on({ add: () => { onChange(); wake(); }, update: () => { onChange(); wake(); } });

  const podClaims = (pod: KObject) => (pod.spec?.volumes ?? []).filter((v: any) => v.persistentVolumeClaim?.claimName).map((v: any) => v.persistentVolumeClaim.claimName as string);
  const decisions = (state: CycleState) => (state.get(DECISIONS) as Map<string, Decision> | undefined) ?? new Map<string, Decision>();

  return {
    name: 'VolumeBinding',
    synced: Promise.all([claims.synced, volumes.synced, classes.synced]).then(() => {}),

    preFilter(state, pod) {
      const names = podClaims(pod);
      if (!names.length) return OK;
      const out: Claims = { bound: [], delayed: [] };
      for (const name of names) {
        const pvc = claims.get(`${pod.metadata.namespace}/${name}`);
        if (!pvc) return unresolvable(`persistentvolumeclaim "${name}" not found`);
        if (pvc.metadata.deletionTimestamp) return unresolvable(`persistentvolumeclaim "${name}" is being deleted`);
        if (pvc.spec?.volumeName) { out.bound.push({ pvc, pv: volumes.get(pvc.spec.volumeName) }); continue; }
        const sc = classes.get(claimClass(pvc));
        if (sc?.volumeBindingMode !== 'WaitForFirstConsumer') return unresolvable('pod has unbound immediate PersistentVolumeClaims');
        out.delayed.push(pvc);
      }
      state.set(CLAIMS, out);
      state.set(DECISIONS, new Map());
      return OK;
    },

    filter(state, _pod, node) {
      const c = state.get(CLAIMS) as Claims | undefined;
      if (!c) return OK;
      for (const b of c.bound) {
        if (!b.pv) return unresolvable('node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)');
        if (!volumeFitsNode(b.pv, node.node)) return unresolvable('node(s) had volume node affinity conflict');
      }
      const d: Decision = { static: [], provision: [] };
      const taken = new Set(assumed);
      for (const pvc of c.delayed) {
        const pv = findBestMatch(pvc, volumes.list().filter((v) => !taken.has(v.metadata.name!)), { node: node.node });
        if (pv) { d.static.push({ pvc, pv }); taken.add(pv.metadata.name!); continue; }
        const sc = classes.get(claimClass(pvc));
        if (sc?.provisioner && sc.provisioner !== 'kubernetes.io/no-provisioner') { d.provision.push(pvc); continue; }
        return unschedulable("node(s) didn't find available persistent volumes to bind");
      }
      decisions(state).set(node.name, d);
      return OK;
    },

    reserve(state, _pod, node) {
      for (const s of decisions(state).get(node)?.static ?? []) assumed.add(s.pv.metadata.name!);
      return OK;
    },

    unreserve(state, _pod, node) {
      for (const s of decisions(state).get(node)?.static ?? []) assumed.delete(s.pv.metadata.name!);
    },

    async preBind(state, pod, node, client: ApiClient): Promise<Status> {
      const c = state.get(CLAIMS) as Claims | undefined;
      const d = decisions(state).get(node);
      if (!c || !d) return OK;
      const written = new Map<string, number>(); // claim -> resourceVersion of our selected-node write
      try {
        for (const { pvc, pv } of d.static) {
          const out = structuredClone(pv);
          out.spec.claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: pvc.metadata.namespace, name: pvc.metadata.name, uid: pvc.metadata.uid, resourceVersion: pvc.metadata.resourceVersion };
          out.metadata.annotations = { ...out.metadata.annotations, [ANN.boundByController]: 'yes' };
          await client.update(R.persistentvolumes, undefined, out);
        }
        for (const pvc of d.provision) {
          const key = `${pvc.metadata.namespace}/${pvc.metadata.name}`;
          if (pvc.metadata.annotations?.[ANN.selectedNode] === node) { written.set(key, Number(pvc.metadata.resourceVersion)); continue; }
          const out = await client.patch<KObject>(R.persistentvolumeclaims, pvc.metadata.namespace, pvc.metadata.name!, { metadata: { annotations: { [ANN.selectedNode]: node } } }, 'merge');
          written.set(key, Number(out.metadata.resourceVersion));
        }
      } finally {
        for (const s of d.static) assumed.delete(s.pv.metadata.name!);
      }
      const names = [...d.static.map((s) => s.pvc), ...d.provision].map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
      const allBound = () => names.every((k) => claims.get(k)?.status?.phase === 'Bound');
      // A provisioner that cannot serve the node removes the annotation: the pod must be scheduled again.
      // Only versions after our own write count (the cache may still hold older ones).
      const rescheduled = () => [...written].some(([k, rv]) => {
        const cur = claims.get(k);
        return !cur || (Number(cur.metadata.resourceVersion) > rv && cur.metadata.annotations?.[ANN.selectedNode] === undefined);
      });
      const outcome = await new Promise<string>((resolve) => {
        const check = () => {
          if (allBound()) finish('bound');
          else if (rescheduled()) finish('rescheduled');
        };
        const timer = clock.after(BIND_TIMEOUT_MS, () => finish('timeout'));
        const finish = (why: string) => { waiters.delete(check); timer.cancel(); resolve(why); };
        waiters.add(check);
        // The selected-node write may not be in the cache yet: the next event re-checks.
        if (allBound()) finish('bound');
      });
      if (outcome === 'bound') return OK;
      return { code: 'Error', reasons: [outcome === 'timeout' ? 'binding volumes: context deadline exceeded' : 'binding volumes: selectedNode annotation reset for PVC'] };
    },
  };
}
