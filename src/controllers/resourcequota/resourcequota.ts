/**
 * The resource quota controller: keeps each ResourceQuota's status.hard (its spec) and
 * status.used (summed over the namespace's objects with the evaluators admission uses,
 * src/apiserver/admission/quota-usage.ts, scopes included) true. Admission charges creates to
 * status.used as it admits them; this controller recounts when objects change or go, which
 * is what gives quota back when pods finish or are deleted.
 */
import type { KObject, ResourceRef } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { addAll, amounts, toList, type Amounts } from '../../apiserver/admission/amounts.js';
import { charges, kindsCharging, sumUsage } from '../../apiserver/admission/quota-usage.js';
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
    const names = Object.keys(q.spec?.hard ?? {});
    const prev = amounts(q.status?.used);
    let used: Amounts = {};
    const counted = new Set<string>();
    const seen = new Set<string>();
    for (const n of names) {
      for (const k of kindsCharging(n)) {
        const id = `${k.group}/${k.resource}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const ref = (Object.values(R) as ResourceRef[]).find((x) => x.group === k.group && x.resource === k.resource);
        if (!ref) continue;
        // A live list, not the informer cache: admission trusts status.used, so it must not go
        // backwards because a cache lags behind a create admission has just charged.
        const objs = (await this.ctx.client.list(ref, namespace)).items;
        used = addAll(used, sumUsage(q, k, objs, new Set(names), this.ctx.clock.now()));
        for (const x of names) if (charges(k, x)) counted.add(x);
      }
    }
    // Kinds we cannot list (custom resources) keep the figure admission keeps.
    for (const n of names) used[n] ??= counted.has(n) ? { v: 0, bin: false } : prev[n] ?? { v: 0, bin: false };
    const status = { hard: { ...(q.spec?.hard ?? {}) }, used: toList(used) };
    if (canonicalJson(q.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.resourcequotas, namespace, { ...q, status }, 'status');
    return undefined;
  }
}
