/**
 * Published ports: `-p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]` as Docker and podman spell it,
 * turned into the `portMappings` runtime config that the portmap plugin reads.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { AlreadyExistsError, InvalidArgumentError } from '../../core/errors.js';

/** One entry of CNI's `portMappings` capability (CNI conventions document). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIP?: string;
}

/** Parses one `-p` value; a range (`8080-8081:80-81`) expands to one mapping per port. */
export function parsePortSpec(spec: string): PortMapping[] {
  const bad = (why: string) => new InvalidArgumentError(`invalid port spec "${spec}": ${why}`);
  let rest = spec.trim();
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw bad(`protocol must be tcp or udp, not "${p}"`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  const parts = rest.split(':');
  let hostIP: string | undefined;
  let hostPart: string;
  let ctrPart: string;
  if (parts.length === 2) [hostPart, ctrPart] = parts;
  else if (parts.length === 3) [hostIP, hostPart, ctrPart] = parts;
  else throw bad('want HOSTPORT:CTRPORT[/udp] or HOSTIP:HOSTPORT:CTRPORT');
  if (hostIP !== undefined) {
    if (hostIP === '') hostIP = undefined;
    else if (!isIPv4(hostIP)) throw bad(`host IP "${hostIP}" is not an IPv4 address`);
  }
  if (hostPart === '') throw bad('a host port is required (Skiff does not pick random ports)');
  const hosts = portRange(hostPart, bad);
  const ctrs = portRange(ctrPart, bad);
  if (hosts.length !== ctrs.length) throw bad('host and container port ranges differ in length');
  return hosts.map((hostPort, i) => ({ hostPort, containerPort: ctrs[i], protocol, ...(hostIP ? { hostIP } : {}) }));
}

/** Parses every `-p` value and refuses the same host port and protocol twice. */
export function parsePortSpecs(specs: string[]): PortMapping[] {
  const out: PortMapping[] = [];
  const seen = new Set<string>();
  for (const s of specs) {
    for (const m of parsePortSpec(s)) {
      const key = `${m.hostIP ?? '0.0.0.0'}:${m.hostPort}/${m.protocol}`;
      if (seen.has(key)) throw new InvalidArgumentError(`host port ${m.hostPort}/${m.protocol} is published twice`);
      seen.add(key);
      out.push(m);
    }
  }
  return out;
}

/** Formats a mapping the way `podman port` does: `0.0.0.0:8080->80/tcp`. */
export function formatPortMapping(m: PortMapping): string {
  return `${m.hostIP ?? '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`;
}

function portRange(s: string, bad: (why: string) => Error): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw bad(`"${s}" is not a port or port range`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || hi < lo) throw bad(`port "${s}" is out of range 1-65535`);
  if (hi - lo >= 1000) throw bad('port range longer than 1000 ports');
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

function isIPv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((p) => Number(p) <= 255);
}

/**
 * Refuses mappings whose host port another pod publishes or a host process already holds
 * (podman and Docker fail the same way, since they bind the port; portmap alone would add a
 * second DNAT rule that silently shadows the first). The bind is a probe, released at once.
 */
export async function assertPortsFree(wanted: PortMapping[], taken: PortMapping[]): Promise<void> {
  for (const m of wanted) {
    const clash = taken.find((t) => t.hostPort === m.hostPort && t.protocol === m.protocol && (!t.hostIP || !m.hostIP || t.hostIP === m.hostIP));
    if (clash) throw new AlreadyExistsError(`host port ${m.hostPort}/${m.protocol} is already published by another pod`);
    await probeBind(m);
  }
}

async function probeBind(m: PortMapping): Promise<void> {
  const host = m.hostIP ?? '0.0.0.0';
  const fail = (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE'
    ? new AlreadyExistsError(`host port ${m.hostPort}/${m.protocol} is already in use on ${host}`)
    : new InvalidArgumentError(`cannot publish ${host}:${m.hostPort}/${m.protocol}: ${err.message}`);
  if (m.protocol === 'udp') {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (e) => reject(fail(e as NodeJS.ErrnoException)));
      sock.bind(m.hostPort, host, () => resolve());
    }).finally(() => new Promise<void>((r) => { try { sock.close(() => r()); } catch { r(); } }));
    return;
  }
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (e) => reject(fail(e as NodeJS.ErrnoException)));
    srv.listen({ port: m.hostPort, host, exclusive: true }, () => resolve());
  });
  await new Promise<void>((r) => srv.close(() => r()));
}
