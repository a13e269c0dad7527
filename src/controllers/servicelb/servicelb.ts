/**
 * ServiceLB, k3s' load balancer for machines without a cloud: a LoadBalancer Service is
 * served on its own port by every Ready node (the service proxy captures the node addresses
 * listed in status.loadBalancer.ingress, as kube-proxy does for any load balancer IP), and
 * this controller writes that list (plan.ts). Like k3s it records `UpdatedLoadBalancer` when
 * the addresses change and `UnAvailableLoadBalancer` when none is left; a Service pending
 * because an older LoadBalancer holds its port gets an `UnAvailableLoadBalancer` warning
 * naming the port and the holder (in k3s the svclb pod's FailedScheduling says it). A Service
 * that stops being a LoadBalancer has its ingress cleared, as the service controller does.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { LoopController, type ControllerContext } from '../runtime/controller.js';
import { keyOf, splitKey, type Informer } from '../runtime/informer.js';
import { canonicalJson } from '../pods.js';
import { ours, planLoadBalancers } from './plan.js';

const ingressText = (ips: string[]) => `[${ips.join(' ')}]`;

/** Keeps LoadBalancer Services' ingress equal to the nodes serving them. */
export class ServiceLBController extends LoopController {
  private readonly services: Informer;
  private readonly nodes: Informer;
  private readonly slices: Informer;
  /** The conflict last reported per Service, so a warning is recorded once per cause. */
  private readonly reported = new Map<string, string>();

  constructor(ctx: ControllerContext) {
    super('servicelb', ctx, 1);
    this.services = ctx.informers.for(R.services);
    this.nodes = ctx.informers.for(R.nodes);
    this.slices = ctx.informers.for(R.endpointslices);
    this.slices.addIndex('service', (s) => (s.metadata.labels?.['kubernetes.io/service-name'] ? [`${s.metadata.namespace}/${s.metadata.labels['kubernetes.io/service-name']}`] : []));
    // Ports are shared by every LoadBalancer and nodes serve them all: any change replans all.
    const all = () => { for (const s of this.services.list()) if (ours(s) || s.status?.loadBalancer?.ingress?.length) this.loop.enqueue(s); };
    this.services.on({ add: all, update: all, delete: (s) => { this.reported.delete(keyOf(s)); all(); } });
    this.nodes.on({ add: all, update: (o, n) => { if (canonicalJson([o.status?.addresses, o.status?.conditions?.find((c: any) => c.type === 'Ready')?.status]) !== canonicalJson([n.status?.addresses, n.status?.conditions?.find((c: any) => c.type === 'Ready')?.status])) all(); }, delete: all });
    const onSlice = (s: KObject) => { const name = s.metadata.labels?.['kubernetes.io/service-name']; if (name) this.loop.enqueue(`${s.metadata.namespace}/${name}`); };
    this.slices.on({ add: onSlice, update: (_o, s) => onSlice(s), delete: onSlice });
  }

  protected async sync(key: string): Promise<void> {
    const svc = this.services.get(key);
    if (!svc) return;
    const { namespace } = splitKey(key);
    const obj = { ...svc, kind: 'Service', apiVersion: 'v1' };
    const prev: string[] = (svc.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).filter(Boolean);
    if (!ours(svc)) {
      // No longer a LoadBalancer (another class's are theirs to write).
      if (svc.spec?.type !== 'LoadBalancer' && prev.length) await this.ctx.client.update(R.services, namespace, { ...svc, status: { ...svc.status, loadBalancer: {} } }, 'status');
      return;
    }
    const plan = planLoadBalancers(this.services.list(), this.nodes.list(), (s) => this.slices.byIndex('service', keyOf(s))).get(key)!;
    const why = plan.conflict ? `port ${plan.conflict.port} is used by LoadBalancer ${plan.conflict.holder}` : '';
    if (why && this.reported.get(key) !== why) {
      this.ctx.recorder.event(obj, 'Warning', 'UnAvailableLoadBalancer', `There are no available nodes for LoadBalancer: ${why}`);
    }
    if (why) this.reported.set(key, why); else this.reported.delete(key);
    const ingress = plan.ingress.map((ip) => ({ ip, ipMode: 'VIP' }));
    if (canonicalJson(svc.status?.loadBalancer?.ingress ?? []) === canonicalJson(ingress)) return;
    await this.ctx.client.update(R.services, namespace, { ...svc, status: { ...svc.status, loadBalancer: ingress.length ? { ingress } : {} } }, 'status');
    if (!ingress.length) {
      if (!why) this.ctx.recorder.event(obj, 'Warning', 'UnAvailableLoadBalancer', 'There are no available nodes for LoadBalancer');
    } else {
      this.ctx.recorder.event(obj, 'Normal', 'UpdatedLoadBalancer', `Updated LoadBalancer with new IPs: ${ingressText(prev)} -> ${ingressText(plan.ingress)}`);
    }
  }
}
