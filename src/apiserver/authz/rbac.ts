/**
 * The RBAC authorizer (kube-apiserver --authorization-mode=RBAC): Roles, ClusterRoles,
 * RoleBindings and ClusterRoleBindings held in memory, loaded once and kept current from the
 * store's watch (and, for this server's own writes, at once from the write hook, so a binding
 * is in force when its create returns). A request is allowed when a ClusterRoleBinding, or a
 * RoleBinding in the request's namespace, binds one of the user's identities to a role with a
 * rule allowing it; members of system:masters are allowed without looking (the privileged
 * group authorizer kube-apiserver runs first). Nothing is ever denied outright: no rule, no access.
 */
import type { Backend, KeyValue } from '../../store/types.js';
import { MASTERS, appliesTo, describeSubject, ruleAllows, type Attributes, type PolicyRule, type Subject, type UserInfo } from './rules.js';

/** The authorizer's verdict and why (the SubjectAccessReview status reason). */
export interface Decision { allowed: boolean; reason: string }

/** The store prefix of the RBAC group. */
export const RBAC_PREFIX = '/registry/rbac.authorization.k8s.io/';

type Kind = 'roles' | 'clusterroles' | 'rolebindings' | 'clusterrolebindings';
interface RoleRef { kind: string; name: string; apiGroup?: string }
interface Binding { metadata: { name: string; namespace?: string }; subjects?: Subject[]; roleRef: RoleRef }

/** The RBAC objects of one store, in memory, and the decisions made on them. */
export class RbacAuthorizer {
  private clusterRoles = new Map<string, any>();
  private roles = new Map<string, any>();
  private clusterBindings = new Map<string, Binding>();
  private bindings = new Map<string, Map<string, Binding>>();
  private revs = new Map<string, number>();
  private watch?: { close(): void };
  private stopped = false;
  private listeners: ((kind: Kind) => void)[] = [];

  constructor(private readonly backend: Backend, private readonly retryMs = 1000) {}

  /** Loads every RBAC object, then follows the watch in the background (relisting if it breaks). */
  async start(): Promise<void> {
    await new Promise<void>((ready, fail) => {
      let first = true;
      const loop = async () => {
        while (!this.stopped) {
          try {
            const { revision, kvs } = await this.backend.list(RBAC_PREFIX);
            this.reset(kvs);
            if (first) { first = false; ready(); }
            const w = this.backend.watch(RBAC_PREFIX, revision);
            this.watch = w;
            for await (const batch of w) {
              for (const ev of batch) this.apply(ev.kv.key, ev.kv.modRevision, ev.type === 'put' ? parse(ev.kv) : undefined);
            }
          } catch (err) {
            if (first) { first = false; fail(err); return; }
          }
          if (!this.stopped) await new Promise((r) => setTimeout(r, this.retryMs).unref());
        }
      };
      void loop();
    });
  }

  /** Stops following the store. */
  stop(): void {
    this.stopped = true;
    this.watch?.close();
  }

  /** Calls `fn` after any change of the kind's objects (the aggregation controller listens to ClusterRoles). */
  onChange(fn: (kind: Kind) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Takes this server's own write at once (the watch delivers it again later, ignored then).
   * `obj` carries its resourceVersion; a delete is ordered just after the version it removed.
   */
  observe(resource: string, obj: any, deleted: boolean): void {
    const ns = obj?.metadata?.namespace;
    const key = `${RBAC_PREFIX}${resource}/${ns ? `${ns}/` : ''}${obj?.metadata?.name}`;
    const rev = Number(obj?.metadata?.resourceVersion ?? 0);
    this.apply(key, deleted ? rev + 0.5 : rev, deleted ? undefined : obj);
  }

  private reset(kvs: KeyValue[]): void {
    this.clusterRoles.clear(); this.roles.clear(); this.clusterBindings.clear(); this.bindings.clear(); this.revs.clear();
    for (const kv of kvs) this.apply(kv.key, kv.modRevision, parse(kv), false);
    for (const k of ['clusterroles', 'roles', 'clusterrolebindings', 'rolebindings'] as Kind[]) this.emit(k);
  }

  private apply(key: string, rev: number, obj: any | undefined, notify = true): void {
    if ((this.revs.get(key) ?? -1) >= rev) return;
    this.revs.set(key, rev);
    const [kind, a, b] = key.slice(RBAC_PREFIX.length).split('/') as [Kind, string, string | undefined];
    switch (kind) {
      case 'clusterroles': if (obj) this.clusterRoles.set(a, obj); else this.clusterRoles.delete(a); break;
      case 'clusterrolebindings': if (obj) this.clusterBindings.set(a, obj); else this.clusterBindings.delete(a); break;
      case 'roles': if (obj) this.roles.set(`${a}/${b}`, obj); else this.roles.delete(`${a}/${b}`); break;
      case 'rolebindings': {
        let m = this.bindings.get(a);
        if (obj) { if (!m) this.bindings.set(a, m = new Map()); m.set(b!, obj); } else { m?.delete(b!); if (m && !m.size) this.bindings.delete(a); }
        break;
      }
      default: return;
    }
    if (notify) this.emit(kind);
  }

  private emit(kind: Kind): void {
    for (const fn of this.listeners) fn(kind);
  }

  /** Every ClusterRole (for aggregation). */
  allClusterRoles(): any[] {
    return [...this.clusterRoles.values()];
  }

  /** The rules a role reference grants in `namespace` ('' for a ClusterRoleBinding), or the error of a missing role. */
  roleRules(ref: RoleRef, namespace: string): { rules: PolicyRule[]; error?: string } {
    if (ref.kind === 'ClusterRole') {
      const r = this.clusterRoles.get(ref.name);
      return r ? { rules: listOf(r.rules) } : { rules: [], error: `clusterrole.rbac.authorization.k8s.io "${ref.name}" not found` };
    }
    if (ref.kind === 'Role' && namespace) {
      const r = this.roles.get(`${namespace}/${ref.name}`);
      return r ? { rules: listOf(r.rules) } : { rules: [], error: `role.rbac.authorization.k8s.io "${ref.name}" not found` };
    }
    return { rules: [], error: `unsupported role reference kind: "${ref.kind}"` };
  }

  /**
   * Visits the bindings that apply to `user` in `namespace` (cluster bindings first), with each
   * one's rules and how the grant is described; `visit` returns true to stop.
   */
  private visit(user: UserInfo, namespace: string, visit: (rules: PolicyRule[], source: () => string) => boolean, errors: string[]): void {
    for (const b of this.clusterBindings.values()) {
      const s = valid(b) ? b.subjects!.find((x) => appliesTo(user, x, '')) : undefined;
      if (!s) continue;
      const { rules, error } = this.roleRules(b.roleRef, '');
      if (error) { errors.push(error); continue; }
      if (visit(rules, () => `ClusterRoleBinding "${b.metadata.name}" of ClusterRole "${b.roleRef.name}" to ${describeSubject(s, '')}`)) return;
    }
    if (!namespace) return;
    for (const b of this.bindings.get(namespace)?.values() ?? []) {
      const s = valid(b) ? b.subjects!.find((x) => appliesTo(user, x, namespace)) : undefined;
      if (!s) continue;
      const { rules, error } = this.roleRules(b.roleRef, namespace);
      if (error) { errors.push(error); continue; }
      if (visit(rules, () => `RoleBinding "${b.metadata.name}/${namespace}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${describeSubject(s, namespace)}`)) return;
    }
  }

  /** Decides one request. */
  authorize(a: Attributes): Decision {
    if (a.user.groups.includes(MASTERS)) return { allowed: true, reason: '' };
    const errors: string[] = [];
    let reason = '';
    this.visit(a.user, a.resourceRequest ? a.namespace : '', (rules, source) => {
      if (!rules.some((r) => ruleAllows(a, r))) return false;
      reason = `RBAC: allowed by ${source()}`;
      return true;
    }, errors);
    if (reason) return { allowed: true, reason };
    // Go's aggregate error: one message alone, several in brackets.
    return { allowed: false, reason: errors.length === 0 ? '' : `RBAC: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}` };
  }

  /** Every rule `user` holds in `namespace` (cluster-wide ones included), and the lookups that failed. */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const out: PolicyRule[] = [];
    const errors: string[] = [];
    this.visit(user, namespace, (rules) => { out.push(...rules); return false; }, errors);
    return { rules: out, errors };
  }
}

/** Objects written straight to the store skip validation: a malformed binding grants nothing. */
const valid = (b: Binding) => Array.isArray(b.subjects) && !!b.roleRef && typeof b.roleRef === 'object';
const listOf = (rules: unknown): PolicyRule[] => (Array.isArray(rules) ? rules.filter((r) => r && typeof r === 'object') : []);

function parse(kv: KeyValue): any {
  const obj = JSON.parse(kv.value.toString('utf8'));
  (obj.metadata ??= {}).resourceVersion = String(kv.modRevision);
  return obj;
}
