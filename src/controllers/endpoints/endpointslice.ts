/**
 * The EndpointSlice controller: for every Service with a selector, EndpointSlices
 * (discovery.k8s.io/v1) listing the ready, serving and terminating pods it selects, at most 100
 * endpoints a slice, one set of slices per resolved port list; a placeholder slice while it
 * selects nothing. Slices carry kubernetes.io/service-name, the managed-by label and a
 * controller reference to their Service (the garbage collector removes them with it).
 * Slices are rewritten only when their contents change.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { LoopController, type ControllerContext } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { ownerRefTo } from '../runtime/owners.js';
import { canonicalJson } from '../pods.js';
import { desiredGroups, MAX_PER_SLICE } from './desired.js';
import { servicesOfPod } from './services.js';

/** The managed-by label value Kubernetes' controller uses. */
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
const SERVICE_NAME = 'kubernetes.io/service-name';
const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';

/** Keeps each selecting Service's EndpointSlices current. */
export class EndpointSliceController extends LoopController {
  private readonly services: Informer;
  private readonly pods: Informer;
  private readonly slices: Informer;

  constructor(ctx: ControllerContext) {
    super('endpointslice', ctx, 2);
    this.services = ctx.informers.for(R.services);
    this.pods = ctx.informers.for(R.pods);
    this.slices = ctx.informers.for(R.endpointslices);
    this.slices.addIndex('service', (s) => (s.metadata.labels?.[SERVICE_NAME] ? [`${s.metadata.namespace}/${s.metadata.labels[SERVICE_NAME]}`] : []));
    this.services.on({ add: (s) => this.loop.enqueue(s), update: (_o, s) => this.loop.enqueue(s), delete: (s) => this.loop.enqueue(s) });
    const onPod = (...pods: KObject[]) => { for (const k of servicesOfPod(this.services, pods)) this.loop.enqueue(k); };
    this.pods.on({ add: (p) => onPod(p), update: (o, p) => onPod(o, p), delete: (p) => onPod(p) });
    // A slice changed or removed by someone else is put back.
    const onSlice = (s: KObject) => { if (s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && s.metadata.labels?.[SERVICE_NAME]) this.loop.enqueue(`${s.metadata.namespace}/${s.metadata.labels[SERVICE_NAME]}`); };
    this.slices.on({ update: (_o, s) => onSlice(s), delete: onSlice });
  }

  protected async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(key);
    const existing = this.slices.byIndex('service', key).filter((s) => s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY);
    if (!svc || !svc.spec?.selector || svc.spec?.type === 'ExternalName' || svc.metadata.deletionTimestamp) {
      for (const s of existing) await this.ctx.client.delete(R.endpointslices, namespace, s.metadata.name!).catch(ignore404);
      return;
    }
    const pods = this.pods.listNamespace(namespace!);
    const want: { ports: unknown[] | null; endpoints: unknown[] }[] = [];
    for (const g of desiredGroups(svc, pods)) {
      for (let i = 0; i < g.endpoints.length; i += MAX_PER_SLICE) want.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_PER_SLICE) });
    }
    // A Service that selects nothing still has one (placeholder) slice, as Kubernetes'.
    if (!want.length) want.push({ ports: null, endpoints: [] });
    const labels = { ...(svc.metadata.labels ?? {}), [SERVICE_NAME]: name!, [MANAGED_BY_LABEL]: MANAGED_BY };
    delete labels['service.kubernetes.io/headless'];
    if (svc.spec.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
    const body = (w: { ports: unknown[] | null; endpoints: unknown[] }) => ({ addressType: 'IPv4', endpoints: w.endpoints, ports: w.ports });
    // Pair desired slices with existing ones, preferring those with the same ports, to rewrite as few as possible.
    const left = [...existing].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
    for (const w of want) {
      let i = left.findIndex((s) => canonicalJson(s.ports ?? null) === canonicalJson(w.ports));
      if (i < 0) i = left.length ? 0 : -1;
      const cur = i >= 0 ? left.splice(i, 1)[0] : undefined;
      if (cur) {
        const same = canonicalJson(body(w)) === canonicalJson({ addressType: cur.addressType, endpoints: cur.endpoints ?? [], ports: cur.ports ?? null })
          && canonicalJson(cur.metadata.labels ?? {}) === canonicalJson(labels);
        if (same) continue;
        await this.ctx.client.update(R.endpointslices, namespace, { ...cur, metadata: { ...cur.metadata, labels }, ...body(w) });
      } else {
        await this.ctx.client.create(R.endpointslices, namespace, {
          apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
          metadata: { generateName: `${name}-`, namespace, labels, ownerReferences: [ownerRefTo(svc, 'v1', 'Service')] },
          ...body(w),
        });
      }
    }
    for (const s of left) await this.ctx.client.delete(R.endpointslices, namespace, s.metadata.name!).catch(ignore404);
  }
}

/** Ignores "already gone". */
export function ignore404(err: any): void {
  if (err?.code !== 404) throw err;
}

