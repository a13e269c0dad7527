/**
 * The resource quota controller: publishes each ResourceQuota's status.hard (its spec) and
 * status.used (summed over the namespace's objects with the arithmetic admission uses, in
 * src/core/quota.ts), so `kubectl describe quota` shows what is taken. Admission enforces the
 * limits itself; this controller only reports.
 */
import type { KObject, ResourceRef } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { usage, formatUsage } from '../../core/quota.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { canonicalJson } from '../pods.js';

/** The resources whose objects quotas count, with their informers. */
const COUNTED: [ResourceRef, string][] = [
  [R.pods, 'pods'], [R.services, 'services'], [R.configmaps, 'configmaps'], [R.secrets, 'secrets'],
  [R.persistentvolumeclaims, 'persistentvolumeclaims'], [R.replicationcontrollers, 'replicationcontrollers'], [R.resourcequotas, 'resourcequotas'],
  [R.deployments, 'deployments'], [R.replicasets, 'replicasets'], [R.statefulsets, 'statefulsets'], [R.daemonsets, 'daemonsets'], [R.jobs, 'jobs'], [R.cronjobs, 'cronjobs'],
];

/** Keeps ResourceQuota status current. */
export class ResourceQuotaController extends LoopController {
  private readonly quotas: Informer;
  private readonly sources: { r: ResourceRef; inf: Informer }[];

  constructor(ctx: ControllerContext) {
    super('resourcequota', ctx, 2);
    this.quotas = ctx.informers.for(R.resourcequotas);
    this.quotas.on({ add: (q) => this.loop.enqueue(q), update: (_o, q) => this.loop.enqueue(q) });
    this.sources = COUNTED.map(([r]) => ({ r, inf: ctx.informers.for(r) }));
    const touch = (o: KObject) => { for (const q of this.quotas.listNamespace(o.metadata.namespace ?? '')) this.loop.enqueue(q); };
    for (const { inf } of this.sources) inf.on({ add: touch, update: (_o, n) => touch(n), delete: touch });
  }

  protected async sync(key: string): Promise<SyncResult> {
    const q = this.quotas.get(key);
    if (!q) return;
    const { namespace } = splitKey(key);
    const used: Record<string, string> = {};
    for (const name of Object.keys(q.spec?.hard ?? {})) {
      let total = 0;
      for (const { r, inf } of this.sources) {
        for (const o of inf.listNamespace(namespace!)) total += usage(name, { resource: r.resource, group: r.group }, o) ?? 0;
      }
      used[name] = formatUsage(name, total);
    }
    const status = { hard: { ...(q.spec?.hard ?? {}) }, used };
    if (canonicalJson(q.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.resourcequotas, namespace, { ...q, status }, 'status');
    return undefined;
  }
}
