/**
 * Cluster IPs and node ports of Services, as kube-apiserver's service REST storage allocates
 * them: on create, a free cluster IP from 10.96.0.0/16 (unless headless or ExternalName), a
 * node port from 30000-32767 for each port of a NodePort Service (and of a LoadBalancer
 * unless allocateLoadBalancerNodePorts is false), and a health check node port for a
 * LoadBalancer with externalTrafficPolicy Local. On update, values the client left out are
 * carried over from the stored object (patchAllocatedValues), values a type change made
 * pointless are dropped when the client did not touch them (dropTypeDependentFields), and
 * what the new type needs is allocated. Allocations are checked against every stored Service
 * plus those in flight in this process, one request at a time.
 */
import { ApiError } from './status.js';

/** The service CIDR, 10.96.0.0/16 as in kubeadm; .1 is the `kubernetes` Service. */
const SVC_BASE = (10 << 24) | (96 << 16);
const SVC_SIZE = 1 << 16;
/** The node port range (kube-apiserver's --service-node-port-range default). */
const PORT_MIN = 30000;
const PORT_MAX = 32767;
const ipOf = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const numOf = (ip: string) => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);

const needsClusterIP = (svc: any) => svc?.spec?.type !== 'ExternalName';
const needsNodePorts = (svc: any) => svc?.spec?.type === 'NodePort' || (svc?.spec?.type === 'LoadBalancer' && svc?.spec?.allocateLoadBalancerNodePorts !== false);
const needsHealthCheck = (svc: any) => svc?.spec?.type === 'LoadBalancer' && svc?.spec?.externalTrafficPolicy === 'Local';
const externallyAccessible = (svc: any) => svc?.spec?.type === 'NodePort' || svc?.spec?.type === 'LoadBalancer';
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function invalid(svc: any, field: string, value: unknown, message: string): ApiError {
  return new ApiError(422, 'Invalid', `Service "${svc.metadata?.name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${message}`,
    { name: svc.metadata?.name, kind: 'Service', causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${message}`, field }] });
}

/** Allocates Services' cluster IPs and node ports against the stored ones. */
export class ServiceAllocator {
  // In flight within this process: two concurrent creates never share a value.
  private readonly reservedIps = new Set<string>();
  private readonly reservedPorts = new Set<number>();
  private lock: Promise<void> = Promise.resolve();

  /** `list` returns every stored Service. */
  constructor(private readonly list: () => Promise<any[]>) {}

  /** Fills in and checks a new Service's allocations. */
  create(svc: any): Promise<void> {
    return this.serial(() => this.allocate(svc, undefined));
  }

  /** Carries over, drops and allocates for an update of `old` to `svc`. */
  update(old: any, svc: any): Promise<void> {
    return this.serial(async () => {
      patchAllocated(old, svc);
      dropTypeDependent(old, svc);
      await this.allocate(svc, old);
    });
  }

  private serial(f: () => Promise<void>): Promise<void> {
    const run = this.lock.then(f);
    this.lock = run.catch(() => {});
    return run;
  }

  private reserve<T>(set: Set<T>, v: T): void {
    set.add(v);
    setTimeout(() => set.delete(v), 10_000).unref();
  }

  private async allocate(svc: any, old: any | undefined): Promise<void> {
    const spec = (svc.spec ??= {});
    const others = (await this.list()).filter((s) => !(s.metadata?.namespace === svc.metadata?.namespace && s.metadata?.name === svc.metadata?.name));
    const usedIps = new Set<string>([...this.reservedIps, ...others.flatMap((s) => s.spec?.clusterIPs ?? [s.spec?.clusterIP]).filter(Boolean)]);
    const usedPorts = new Set<number>([...this.reservedPorts, ...others.flatMap((s) => [...(s.spec?.ports ?? []).map((p: any) => p.nodePort), s.spec?.healthCheckNodePort]).filter(Boolean)]);
    const mine = old && needsClusterIP(old) ? old.spec?.clusterIP : undefined;
    if (needsClusterIP(svc)) {
      if (mine && spec.clusterIP !== mine) throw invalid(svc, 'spec.clusterIPs[0]', spec.clusterIPs ?? [spec.clusterIP], 'may not change once set');
      if (spec.clusterIP && spec.clusterIP !== 'None' && spec.clusterIP !== mine) {
        const n = numOf(spec.clusterIP);
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(spec.clusterIP) || n < SVC_BASE || n >= SVC_BASE + SVC_SIZE) {
          throw invalid(svc, 'spec.clusterIPs', spec.clusterIP, 'failed to allocate IP: the provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/16');
        }
        if (usedIps.has(spec.clusterIP)) throw invalid(svc, 'spec.clusterIPs', spec.clusterIP, 'failed to allocate IP: provided IP is already allocated');
      } else if (!spec.clusterIP) {
        const start = Math.floor(Math.random() * (SVC_SIZE - 20)) + 10;
        for (let i = 0; i < SVC_SIZE; i++) {
          const ip = ipOf(SVC_BASE + ((start + i) % (SVC_SIZE - 2)) + 1);
          if (!usedIps.has(ip)) { spec.clusterIP = ip; break; }
        }
      }
      spec.clusterIPs = [spec.clusterIP];
      if (spec.clusterIP !== 'None') this.reserve(this.reservedIps, spec.clusterIP);
    }
    // The Service's own ports stay its own (they may still be reserved from its creation).
    const own = new Set<number>(old ? [...(old.spec?.ports ?? []).map((p: any) => p.nodePort), old.spec?.healthCheckNodePort].filter(Boolean) : []);
    const port = (field: string, value: number | undefined): number => {
      if (value && own.has(value)) {
        own.delete(value);
        usedPorts.add(value);
        return value;
      }
      if (value) {
        if (!Number.isInteger(value) || value < PORT_MIN || value > PORT_MAX) throw invalid(svc, field, value, `provided port is not in the valid range. The range of valid ports is ${PORT_MIN}-${PORT_MAX}`);
        if (usedPorts.has(value)) throw invalid(svc, field, value, 'provided port is already allocated');
      } else {
        // From a random start, as the real allocator picks at random (fewer collisions between servers).
        const start = Math.floor(Math.random() * (PORT_MAX - PORT_MIN + 1));
        for (let i = 0; i <= PORT_MAX - PORT_MIN; i++) {
          const n = PORT_MIN + ((start + i) % (PORT_MAX - PORT_MIN + 1));
          if (!usedPorts.has(n)) { value = n; break; }
        }
        if (!value) throw new ApiError(500, 'InternalError', 'failed to allocate a nodePort: range is full');
      }
      usedPorts.add(value);
      this.reserve(this.reservedPorts, value);
      return value;
    };
    if (needsNodePorts(svc)) {
      (spec.ports ?? []).forEach((p: any, i: number) => { p.nodePort = port(`spec.ports[${i}].nodePort`, p.nodePort); });
    }
    if (needsHealthCheck(svc)) spec.healthCheckNodePort = port('spec.healthCheckNodePort', spec.healthCheckNodePort);
  }
}

/** Values the client left out of an update keep what was allocated (patchAllocatedValues). */
function patchAllocated(old: any, svc: any): void {
  const spec = (svc.spec ??= {});
  if (needsClusterIP(old) && needsClusterIP(svc)) {
    if (!spec.clusterIP) spec.clusterIP = old.spec?.clusterIP;
    if (!spec.clusterIPs?.length && old.spec?.clusterIPs) spec.clusterIPs = old.spec.clusterIPs;
  }
  if (needsNodePorts(old) && needsNodePorts(svc)) {
    // By port name: the user may have changed other properties of the port. A value another
    // port of the new spec already uses is not reused.
    const used = new Set((spec.ports ?? []).map((p: any) => p.nodePort).filter(Boolean));
    const byName = new Map<string, number>((old.spec?.ports ?? []).map((p: any) => [p.name ?? '', p.nodePort]));
    for (const p of spec.ports ?? []) {
      const v = byName.get(p.name ?? '');
      if (!p.nodePort && v && !used.has(v)) { p.nodePort = v; used.add(v); }
    }
  }
  if (needsHealthCheck(old) && needsHealthCheck(svc) && !spec.healthCheckNodePort) spec.healthCheckNodePort = old.spec?.healthCheckNodePort;
}

/** Fields the new type makes pointless go, unless the client set them (dropTypeDependentFields). */
function dropTypeDependent(old: any, svc: any): void {
  const spec = svc.spec;
  if (needsClusterIP(old) && !needsClusterIP(svc) && same(spec.clusterIP, old.spec?.clusterIP)) {
    delete spec.clusterIP;
    delete spec.clusterIPs;
  }
  if (needsNodePorts(old) && !needsNodePorts(svc)) {
    const oldPorts = new Map<string, number>((old.spec?.ports ?? []).map((p: any) => [p.name ?? '', p.nodePort]));
    for (const p of spec.ports ?? []) if (p.nodePort && oldPorts.get(p.name ?? '') === p.nodePort) delete p.nodePort;
  }
  if (needsHealthCheck(old) && !needsHealthCheck(svc) && same(spec.healthCheckNodePort, old.spec?.healthCheckNodePort)) delete spec.healthCheckNodePort;
  if (old.spec?.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (same(spec.allocateLoadBalancerNodePorts, old.spec?.allocateLoadBalancerNodePorts)) delete spec.allocateLoadBalancerNodePorts;
    if (same(spec.loadBalancerClass, old.spec?.loadBalancerClass)) delete spec.loadBalancerClass;
  }
  if (externallyAccessible(old) && !externallyAccessible(svc) && same(spec.externalTrafficPolicy, old.spec?.externalTrafficPolicy)) delete spec.externalTrafficPolicy;
}
