import type { Storage } from '../storage.js';
import type { ResourceInfo } from '../resources.js';
import { BUILTIN, keyPrefix } from '../resources.js';
import { decode } from '../storage.js';
import { usage, formatUsage } from '../../core/quota.js';
import { parseQuantity } from '../../core/quantity.js';
import { forbidden } from './pods.js';

const QUOTAS = BUILTIN.find((r) => r.resource === 'resourcequotas')!;

/** Admits creates against the namespace's ResourceQuotas. */
export class QuotaAdmission {
  private locks = new Map<string, Promise<void>>();
  private reserved = new Map<string, { ns: string; kind: string; obj: any; timer: NodeJS.Timeout }>();

  constructor(private readonly storage: Storage) {}

  /** Throws 403 when `obj` does not fit; otherwise reserves its usage until it is stored. */
  async admit(r: ResourceInfo, obj: any): Promise<void> {
    if (!r.namespaced || r.custom) return;
    const ns = obj.metadata.namespace;
    const prev = this.locks.get(ns) ?? Promise.resolve();
    const run = prev.then(() => this.check(r, ns, obj));
    this.locks.set(ns, run.catch(() => { }));
    await run;
  }

  /** The object is stored (or its create failed): its usage is counted from storage now. */
  release(uid: string): void {
    const e = this.reserved.get(uid);
    if (e) {
      clearTimeout(e.timer);
      this.reserved.delete(uid);
    }
  }

  private async check(r: ResourceInfo, ns: string, obj: any): Promise<void> {
    const { kvs } = await this.storage.backend.list(keyPrefix(QUOTAS, ns));
    if (!kvs.length) return;
    const kind = { resource: r.resource, group: r.group };
    let existing: any[] | undefined;
    for (const q of kvs.map(decode)) {
      const over: string[] = [];
      const req: string[] = [], used: string[] = [], lim: string[] = [];
      for (const [name, hardQ] of Object.entries<any>(q.spec?.hard ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
        const delta = usage(name, kind, obj);
        if (!delta) continue;
        existing ??= [...(await this.storage.backend.list(keyPrefix(r, ns))).kvs.map(decode), ...[...this.reserved.values()].filter((x) => x.ns === ns && x.kind === r.resource).map((x) => x.obj)];
        const now = existing.reduce((s, o) => s + (usage(name, kind, o) ?? 0), 0);
        const hard = parseQuantity(hardQ);
        if (now + delta > hard + 1e-9) {
          over.push(name);
          req.push(`${name}=${formatUsage(name, delta)}`);
          used.push(`${name}=${formatUsage(name, now)}`);
          lim.push(`${name}=${hardQ}`);
        }
      }
      if (over.length) {
        throw forbidden(r.resource, obj.metadata.name ?? obj.metadata.generateName ?? '', `exceeded quota: ${q.metadata.name}, requested: ${req.join(',')}, used: ${used.join(',')}, limited: ${lim.join(',')}`);
      }
    }
    const uid = obj.metadata.uid;
    const timer = setTimeout(() => this.reserved.delete(uid), 10_000);
    timer.unref();
    this.reserved.set(uid, { ns, kind: r.resource, obj, timer });
  }
}
