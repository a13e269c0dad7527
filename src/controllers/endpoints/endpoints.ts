/**
 * The Endpoints controller: the legacy core/v1 Endpoints of every Service with a selector
 * (ready pods under `addresses`, unready ones under `notReadyAddresses`), which older clients
 * and `kubectl describe service` still read. Same arithmetic as the EndpointSlices.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { LoopController, type ControllerContext } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { canonicalJson } from '../pods.js';
import { desiredGroups, endpointsSubsets } from './desired.js';
import { servicesOfPod } from './services.js';
import { ignore404 } from './endpointslice.js';

/** Keeps each selecting Service's Endpoints object current. */
export class EndpointsController extends LoopController {
  private readonly services: Informer;
  private readonly pods: Informer;
  private readonly endpoints: Informer;

  constructor(ctx: ControllerContext) {
    super('endpoints', ctx, 2);
    this.services = ctx.informers.for(R.services);
    this.pods = ctx.informers.for(R.pods);
    this.endpoints = ctx.informers.for(R.endpoints);
    this.services.on({ add: (s) => this.loop.enqueue(s), update: (_o, s) => this.loop.enqueue(s), delete: (s) => this.loop.enqueue(s) });
    const onPod = (...pods: KObject[]) => { for (const k of servicesOfPod(this.services, pods)) this.loop.enqueue(k); };
    this.pods.on({ add: (p) => onPod(p), update: (o, p) => onPod(o, p), delete: (p) => onPod(p) });
    this.endpoints.on({ delete: (e) => { if (this.services.get(`${e.metadata.namespace}/${e.metadata.name}`)) this.loop.enqueue(e); } });
  }

  protected async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(key);
    const cur = this.endpoints.get(key);
    if (!svc) {
      if (cur) await this.ctx.client.delete(R.endpoints, namespace, name).catch(ignore404);
      return;
    }
    if (!svc.spec?.selector || svc.spec?.type === 'ExternalName') return;
    const subsets = endpointsSubsets(desiredGroups(svc, this.pods.listNamespace(namespace!)));
    const labels = { ...(svc.metadata.labels ?? {}) };
    if (svc.spec.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
    if (cur && canonicalJson(cur.subsets ?? []) === canonicalJson(subsets) && canonicalJson(cur.metadata.labels ?? {}) === canonicalJson(labels)) return;
    const obj = { apiVersion: 'v1', kind: 'Endpoints', metadata: { ...(cur?.metadata ?? { name, namespace }), labels }, subsets };
    if (cur) await this.ctx.client.update(R.endpoints, namespace, obj);
    else await this.ctx.client.create(R.endpoints, namespace, obj);
  }
}
