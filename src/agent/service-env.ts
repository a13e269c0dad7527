/**
 * The Service environment variables the kubelet gives every container (pure): for the
 * `kubernetes` Service of `default` always, and for each Service of the pod's namespace when
 * `enableServiceLinks` is on (the default), those with a cluster IP (not headless, not
 * ExternalName): `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT` (the first port),
 * `<NAME>_SERVICE_PORT_<PORTNAME>` per named port, and Docker's link variables
 * (`<NAME>_PORT=tcp://ip:port`, `<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`). NAME is the
 * Service name upper-cased with `-` as `_`. This is how in-cluster clients find the API
 * server (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT).
 */
import type { KObject } from '../client/client.js';

const envName = (s: string) => s.replace(/-/g, '_').toUpperCase();
const ipSet = (svc: KObject) => !!svc.spec?.clusterIP && svc.spec.clusterIP !== 'None';

/** The variables for `services` (any namespace; those that do not apply are skipped), in the kubelet's order. */
export function serviceEnv(services: KObject[], namespace: string, enableServiceLinks: boolean): Map<string, string> {
  const chosen = new Map<string, KObject>();
  for (const svc of services) {
    if (!ipSet(svc)) continue;
    const name = svc.metadata.name!;
    if (svc.metadata.namespace === 'default' && name === 'kubernetes') { if (!chosen.has(name)) chosen.set(name, svc); }
    else if (svc.metadata.namespace === namespace && enableServiceLinks) chosen.set(name, svc);
  }
  const out = new Map<string, string>();
  for (const name of [...chosen.keys()].sort()) {
    const svc = chosen.get(name)!;
    const ip = svc.spec.clusterIP as string;
    const ports: any[] = svc.spec.ports ?? [];
    if (!ports.length) continue;
    const prefix = envName(name);
    out.set(`${prefix}_SERVICE_HOST`, ip);
    out.set(`${prefix}_SERVICE_PORT`, String(ports[0].port));
    for (const p of ports) if (p.name) out.set(`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port));
    const hostPort = (port: number) => `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
    ports.forEach((p, i) => {
      const proto = (p.protocol ?? 'TCP') as string;
      if (i === 0) out.set(`${prefix}_PORT`, `${proto.toLowerCase()}://${hostPort(p.port)}`);
      const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.set(pp, `${proto.toLowerCase()}://${hostPort(p.port)}`);
      out.set(`${pp}_PROTO`, proto.toLowerCase());
      out.set(`${pp}_PORT`, String(p.port));
      out.set(`${pp}_ADDR`, ip);
    });
  }
  return out;
}
