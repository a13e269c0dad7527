/**
 * ClusterRole aggregation, as kube-controller-manager's clusterrole-aggregation controller: a
 * ClusterRole with an aggregationRule gets, as its rules, the union of the rules of every other
 * ClusterRole whose labels one of its selectors matches (in name order, duplicates dropped).
 * Runs on every ClusterRole change the RBAC cache sees; an aggregated role changing triggers
 * the next pass, so chains (view into edit into admin) settle.
 */
import type { Storage } from '../storage.js';
import type { Catalog } from '../catalog.js';
import { selectorObjectMatcher } from '../selectors.js';
import type { PolicyRule } from './rules.js';
import type { RbacAuthorizer } from './rbac.js';

/** The rules `role`'s aggregationRule selects from `all`. */
export function aggregateRules(role: any, all: any[]): PolicyRule[] {
  const matchers = (role.aggregationRule?.clusterRoleSelectors ?? []).map(selectorObjectMatcher);
  const picked = all
    .filter((r) => r.metadata?.name !== role.metadata?.name && matchers.some((m: (l: any) => boolean) => m(r.metadata?.labels ?? {})))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const out: PolicyRule[] = [];
  const seen = new Set<string>();
  for (const r of picked) {
    for (const rule of Array.isArray(r.rules) ? r.rules : []) {
      const k = JSON.stringify(rule);
      if (!seen.has(k)) { seen.add(k); out.push(rule); }
    }
  }
  return out;
}

/** Keeps aggregated ClusterRoles' rules current. */
export class AggregationController {
  private queued = false;

  constructor(private readonly cache: RbacAuthorizer, private readonly storage: Storage, private readonly catalog: Catalog) {}

  /** Starts listening to ClusterRole changes (and runs one pass). */
  start(): void {
    this.cache.onChange((kind) => { if (kind === 'clusterroles') this.schedule(); });
    this.schedule();
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      // A failed pass is retried a second later, not in a tight loop.
      void this.pass().catch(() => setTimeout(() => this.schedule(), 1000).unref());
    });
  }

  private async pass(): Promise<void> {
    const r = this.catalog.lookup('rbac.authorization.k8s.io', 'v1', 'clusterroles')!;
    const all = this.cache.allClusterRoles();
    for (const role of all) {
      if (!role.aggregationRule) continue;
      const rules = aggregateRules(role, all);
      if (JSON.stringify(rules) === JSON.stringify(role.rules ?? [])) continue;
      await this.storage.update(r, undefined, role.metadata.name, (cur) => {
        if (!cur?.aggregationRule) return cur;
        return { ...cur, rules, metadata: { ...cur.metadata, resourceVersion: undefined } };
      }, { system: true }).catch(() => {});
    }
  }
}
