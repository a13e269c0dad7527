/**
 * A container's environment as the kubelet makes it: `envFrom` sources first (configMaps and
 * secrets, with their prefix; keys that are not valid variable names skipped), then `env`
 * entries in order — literal values with `$(VAR)` expanded against what is defined so far,
 * fieldRef (pod name, namespace, uid, labels, annotations, node name, service account, host
 * and pod IPs), resourceFieldRef (limits and requests, with divisor; a missing limit is the
 * node's allocatable), configMapKeyRef and secretKeyRef read through the API; then the Service
 * variables (service-env.ts), which `$(VAR)` may also name. A missing required source is a
 * CreateContainerConfigError, with the kubelet's messages.
 */
import type { ApiClient, KObject } from '../client/client.js';
import { R } from '../client/resources.js';
import type { Informer } from '../controllers/runtime/informer.js';
import { parseQuantity } from '../core/quantity.js';
import { serviceEnv } from './service-env.js';

/** A configuration error that keeps a container from being created (waiting: CreateContainerConfigError). */
export class ConfigError extends Error {}

/**
 * Expands `$(VAR)` in `s` with `vars`, as Kubernetes' expansion package: `$$` is a literal
 * `$`, an unknown `$(VAR)` stays as written, and a `$` before anything else is kept.
 */
export function expand(s: string, vars: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '$' || i + 1 >= s.length) { out += c; continue; }
    const n = s[i + 1];
    if (n === '$') { out += '$'; i++; continue; }
    if (n === '(') {
      const end = s.indexOf(')', i + 2);
      if (end < 0) { out += s.slice(i); break; }
      const name = s.slice(i + 2, end);
      const v = vars(name);
      out += v === undefined ? `$(${name})` : v;
      i = end;
      continue;
    }
    out += c;
  }
  return out;
}

/** What env sources read: the pod's API objects, cached per sync. */
export interface EnvSources {
  configMap(namespace: string, name: string): Promise<KObject | undefined>;
  secret(namespace: string, name: string): Promise<KObject | undefined>;
  /** The Services of `namespace` and default/kubernetes (for the Service variables; none without it). */
  services?(namespace: string): Promise<KObject[]>;
}

/**
 * Reads configMaps and secrets through the API (a 404 is "absent"). Services come from
 * `services`, a started informer of every namespace's Services (the kubelet's service lister:
 * no request per pod start), or else from a list per call.
 */
export function apiSources(client: ApiClient, services?: Informer): EnvSources {
  const get = (r: typeof R.configmaps, ns: string, name: string) => client.find(r, ns, name);
  return {
    configMap: (ns, n) => get(R.configmaps, ns, n),
    secret: (ns, n) => get(R.secrets, ns, n),
    async services(ns) {
      let own: KObject[];
      let master: KObject | undefined;
      if (services) {
        // As the kubelet, containers start only once the cache is filled: else a pod would miss
        // the variables of Services that already exist.
        await services.synced;
        own = services.listNamespace(ns);
        master = ns === 'default' ? undefined : services.get('default/kubernetes');
      } else {
        own = (await client.list(R.services, ns)).items;
        master = ns === 'default' ? undefined : await get(R.services, 'default', 'kubernetes');
      }
      return master ? [...own, master] : own;
    },
  };
}

/** Pod facts a fieldRef can read beyond the pod object. */
export interface EnvContext {
  podIP?: string;
  hostIP?: string;
  /** The node's allocatable, for resourceFieldRef of an unset limit. */
  allocatable?: Record<string, string>;
}

const VALID_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** A fieldRef's value (metadata, spec.nodeName/serviceAccountName, IPs); shared with downwardAPI volumes. */
export function fieldValue(pod: KObject, path: string, ctx: EnvContext): string {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (m) return pod.metadata[m[1]]?.[m[2]] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata.name ?? '';
    case 'metadata.namespace': return pod.metadata.namespace ?? '';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP': case 'status.hostIPs': return ctx.hostIP ?? '';
    case 'status.podIP': case 'status.podIPs': return ctx.podIP ?? '';
    default: throw new ConfigError(`unsupported fieldRef path "${path}"`);
  }
}

/** A resourceFieldRef's value for container `c` (rounded up, as the kubelet); shared with downwardAPI volumes. */
export function resourceValue(c: any, ref: { resource: string; divisor?: string }, ctx: EnvContext): string {
  const [kind, res] = ref.resource.split(/\.(.*)/s) as ['limits' | 'requests', string];
  let q = c.resources?.[kind]?.[res];
  if (q === undefined && kind === 'limits') q = ctx.allocatable?.[res];
  if (q === undefined) q = '0';
  const div = parseQuantity(ref.divisor ?? (res === 'cpu' ? '1' : '1')) || 1;
  // Rounded up, as the kubelet's ExtractContainerResourceValue.
  return String(Math.ceil(parseQuantity(q) / div - 1e-9));
}

function decodeSecret(s: KObject, key: string): string | undefined {
  if (s.data?.[key] !== undefined) return Buffer.from(s.data[key], 'base64').toString('utf8');
  return s.stringData?.[key];
}

/** The environment of container `c` of `pod`, as KEY=VALUE strings in order. */
export async function containerEnv(pod: KObject, c: any, src: EnvSources, ctx: EnvContext): Promise<string[]> {
  const ns = pod.metadata.namespace ?? 'default';
  const services = serviceEnv((await src.services?.(ns)) ?? [], ns, pod.spec?.enableServiceLinks !== false);
  const vars = new Map<string, string>();
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = await src.configMap(ns, from.configMapRef.name);
      if (!cm) { if (from.configMapRef.optional) continue; throw new ConfigError(`configmap "${from.configMapRef.name}" not found`); }
      for (const [k, v] of Object.entries({ ...cm.data })) if (VALID_NAME.test(prefix + k)) vars.set(prefix + k, String(v));
    } else if (from.secretRef) {
      const s = await src.secret(ns, from.secretRef.name);
      if (!s) { if (from.secretRef.optional) continue; throw new ConfigError(`secret "${from.secretRef.name}" not found`); }
      for (const k of Object.keys({ ...s.data })) if (VALID_NAME.test(prefix + k)) vars.set(prefix + k, decodeSecret(s, k) ?? '');
    }
  }
  for (const e of c.env ?? []) {
    let v: string | undefined;
    const vf = e.valueFrom;
    if (!vf) v = expand(e.value ?? '', (n) => vars.get(n) ?? services.get(n));
    else if (vf.fieldRef) v = fieldValue(pod, vf.fieldRef.fieldPath, ctx);
    else if (vf.resourceFieldRef) {
      const target = vf.resourceFieldRef.containerName
        ? [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((x: any) => x.name === vf.resourceFieldRef.containerName) ?? c
        : c;
      v = resourceValue(target, vf.resourceFieldRef, ctx);
    } else if (vf.configMapKeyRef) {
      const r = vf.configMapKeyRef;
      const cm = await src.configMap(ns, r.name);
      if (!cm) { if (r.optional) continue; throw new ConfigError(`configmap "${r.name}" not found`); }
      v = cm.data?.[r.key] ?? (cm.binaryData?.[r.key] !== undefined ? Buffer.from(cm.binaryData[r.key], 'base64').toString('utf8') : undefined);
      if (v === undefined) { if (r.optional) continue; throw new ConfigError(`couldn't find key ${r.key} in ConfigMap ${ns}/${r.name}`); }
    } else if (vf.secretKeyRef) {
      const r = vf.secretKeyRef;
      const s = await src.secret(ns, r.name);
      if (!s) { if (r.optional) continue; throw new ConfigError(`secret "${r.name}" not found`); }
      v = decodeSecret(s, r.key);
      if (v === undefined) { if (r.optional) continue; throw new ConfigError(`couldn't find key ${r.key} in Secret ${ns}/${r.name}`); }
    }
    vars.set(e.name, v ?? '');
  }
  // The Service variables come last; the container's own of the same name win.
  for (const [k, v] of services) if (!vars.has(k)) vars.set(k, v);
  return [...vars].map(([k, v]) => `${k}=${v}`);
}
