/**
 * ResourceQuota admission, as Kubernetes' ResourceQuota plugin: a create is charged against
 * every quota of its namespace whose scopes select it and whose hard limits name something
 * the object uses (quota-usage.ts). A pod that leaves cpu/memory unstated under a quota that
 * limits them is refused ("failed quota: q: must specify limits.cpu for: app"); an over-quota
 * create gets 403 ("exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2");
 * an admitted one is recorded at once in the quota's status.used, written with a
 * resourceVersion check and re-evaluated on a lost race, so two creates can never both take
 * the last unit, whatever else writes the status (the quota controller, another server).
 * Within this process creates of one namespace are also serialized, so they rarely race.
 * Dry runs are checked and never charged.
 */
import type { Storage } from '../storage.js';
import type { Catalog } from '../catalog.js';
import type { ResourceInfo } from '../resources.js';
import { addAll, amounts, greater, mask, prettyPrint, toList, type Amounts } from './amounts.js';
import { charges, kindsCharging, podConstraintError, scopesMatch, sumUsage, usageOf } from './quota-usage.js';
import { builtin, forbidden, listAll, type AdmissionEnv } from './env.js';

/**
 * Usage of `names` in namespace `ns` counted from the stored objects: used when a quota's
 * status does not track a name yet (its controller has not caught up), so that admission
 * never takes a missing figure for zero.
 */
export async function countUsage(env: AdmissionEnv, ns: string, quota: any, names: string[]): Promise<Amounts> {
  const want = new Set(names);
  let out: Amounts = {};
  const seen = new Set<string>();
  for (const n of names) {
    for (const k of kindsCharging(n)) {
      const key = `${k.group}/${k.resource}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const r = env.catalog.all().find((x) => x.group === k.group && x.resource === k.resource && !x.review);
      if (!r) continue;
      out = addAll(out, sumUsage(quota, k, await listAll(env, r, ns), want, env.now()));
    }
  }
  for (const n of names) out[n] ??= { v: 0, bin: false };
  return out;
}

/** Charges a new object against the quotas of its namespace (403 when one would be exceeded). */
export async function admitQuota(env: AdmissionEnv, r: ResourceInfo, obj: any, dryRun: boolean): Promise<void> {
  const ns = obj.metadata?.namespace;
  if (!r.namespaced || !ns) return;
  const rq = builtin(env, '', 'v1', 'resourcequotas');
  const quotas = (await listAll(env, rq, ns)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  if (!quotas.length) return;
  const kind = { group: r.group, resource: r.resource };
  const delta = usageOf(kind, obj, env.now());
  const name = obj.metadata?.name ?? obj.metadata?.generateName ?? '';
  for (const q of quotas) {
    if (!scopesMatch(q, kind, obj)) continue;
    const restricted = Object.keys(q.spec?.hard ?? {}).filter((n) => charges(kind, n));
    if (!restricted.length) continue;
    if (kind.group === '' && kind.resource === 'pods') {
      const why = podConstraintError(obj, restricted);
      if (why) throw forbidden(r, name, `failed quota: ${q.metadata.name}: ${why}`);
    }
    const requested = mask(delta, restricted);
    const charge = async (cur: any) => {
      const hard = amounts(cur.spec?.hard);
      let used = amounts(cur.status?.used);
      const untracked = restricted.filter((n) => !used[n]);
      if (untracked.length) used = { ...used, ...(await countUsage(env, ns, cur, untracked)) };
      const next = addAll(used, requested);
      const exceeded = restricted.filter((n) => hard[n] && greater(next[n]?.v ?? 0, hard[n].v));
      if (exceeded.length) {
        throw forbidden(r, name, `exceeded quota: ${cur.metadata.name}, requested: ${prettyPrint(mask(requested, exceeded))}, used: ${prettyPrint(mask(used, exceeded))}, limited: ${prettyPrint(mask(hard, exceeded))}`);
      }
      return next;
    };
    if (dryRun) { await charge(q); continue; }
    // The read-check-write runs again on a conflicting write, against the newer status.
    await env.storage.update(rq, ns, q.metadata.name, async (cur) => {
      const next = await charge(cur);
      cur.status = { ...cur.status, hard: cur.spec?.hard ?? {}, used: toList({ ...amounts(cur.status?.used), ...mask(next, restricted) }) };
      delete cur.metadata.resourceVersion;
      return cur;
    }, { subresource: 'status' });
  }
}

/** The plugin as the server's hooks use it. */
export class QuotaAdmission {
  private locks = new Map<string, Promise<void>>();
  private readonly env: AdmissionEnv;

  constructor(storage: Storage, catalog: Catalog) {
    this.env = { storage, catalog, now: () => Date.now() };
  }

  /** Throws 403 when `obj` does not fit; otherwise charges it to the quotas' status.used. */
  async admit(r: ResourceInfo, obj: any, dryRun = false): Promise<void> {
    if (!r.namespaced) return;
    const ns = obj.metadata?.namespace;
    const prev = this.locks.get(ns) ?? Promise.resolve();
    const run = prev.then(() => admitQuota(this.env, r, obj, dryRun));
    const tail = run.catch(() => {});
    this.locks.set(ns, tail);
    void tail.then(() => { if (this.locks.get(ns) === tail) this.locks.delete(ns); });
    await run;
  }

  /** Kept for the hooks' call after a create; charges live in status.used, nothing to release. */
  release(_uid: string): void {}
}
