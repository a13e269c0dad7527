/**
 * Skiff's cluster DNS server (CoreDNS' part in Kubernetes): answers names under the cluster
 * domain from Services and EndpointSlices (records.ts), watched through the API like any
 * controller, and forwards every other question to the host's resolvers (from the host's
 * /etc/resolv.conf), relaying their answer. UDP, with TCP for long answers; messages are
 * encoded by dns-packet.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import * as packet from 'dns-packet';
import type { InformerFactory } from '../controllers/runtime/informer.js';
import type { Informer } from '../controllers/runtime/informer.js';
import { R } from '../client/resources.js';
import { lookup, type DnsView } from './records.js';

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

/** How to run the DNS server. */
export interface DnsOptions {
  informers: InformerFactory;
  /** Address and port to listen on (UDP and TCP). */
  host: string;
  port: number;
  /** The cluster domain (default cluster.local). */
  domain?: string;
  /** Upstream resolvers "ip" or "ip:port" (default: nameservers of /etc/resolv.conf). */
  upstreams?: string[];
}

/** The nameservers of a resolv.conf (loopback stub resolvers included). */
export function hostNameservers(file = '/etc/resolv.conf'): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x);
  } catch {
    return [];
  }
}

/** A running cluster DNS server. */
export class ClusterDns {
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly namespaces: Informer;
  private readonly domain: string;
  private readonly upstreams: string[];
  /** The port bound (useful with port 0). */
  port = 0;

  constructor(private readonly o: DnsOptions) {
    this.domain = (o.domain ?? 'cluster.local').toLowerCase();
    this.upstreams = o.upstreams ?? hostNameservers();
    this.services = o.informers.for(R.services);
    this.slices = o.informers.for(R.endpointslices);
    this.namespaces = o.informers.for(R.namespaces);
    this.slices.addIndex('service', (s) => (s.metadata.labels?.['kubernetes.io/service-name'] ? [`${s.metadata.namespace}/${s.metadata.labels['kubernetes.io/service-name']}`] : []));
  }

  private view(): DnsView {
    return {
      service: (ns, name) => this.services.get(`${ns}/${name}`),
      slices: (ns, svc) => this.slices.byIndex('service', `${ns}/${svc}`),
      namespaceExists: (ns) => !!this.namespaces.get(ns),
    };
  }

  /** Binds UDP and TCP. */
  async start(): Promise<void> {
    const udp = dgram.createSocket(this.o.host.includes(':') ? 'udp6' : 'udp4');
    udp.on('message', (msg, rinfo) => {
      void this.answer(msg, 'udp').then((out) => { if (out) udp.send(out, rinfo.port, rinfo.address); }, () => {});
    });
    await new Promise<void>((ok, fail) => { udp.once('error', fail); udp.bind(this.o.port, this.o.host, () => { udp.off('error', fail); ok(); }); });
    this.udp = udp;
    this.port = udp.address().port;
    this.tcp = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          void this.answer(msg, 'tcp').then((out) => {
            if (!out) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(out.length);
            sock.write(Buffer.concat([len, out]));
          }, () => sock.destroy());
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((ok, fail) => { this.tcp!.once('error', fail); this.tcp!.listen(this.port, this.o.host, () => ok()); });
  }

  /** Closes both sockets. */
  stop(): void {
    this.udp?.close();
    this.tcp?.close();
  }

  /** The reply to one query message (undefined: drop it). */
  async answer(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let q: packet.Packet;
    try { q = packet.decode(msg); } catch { return undefined; }
    const question = q.questions?.[0];
    if (!question) return undefined;
    const res = lookup(this.view(), this.domain, question.name, question.type);
    if (res.kind === 'forward') return this.forward(msg, transport);
    const answers = res.kind === 'answer' ? await this.chase(res.answers as packet.Answer[], question.type) : [];
    // dns-packet takes the response code in the low four bits of the flags.
    const reply: packet.Packet = {
      type: 'response', id: q.id, flags: packet.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | (res.kind === 'nxdomain' ? RCODE_NXDOMAIN : 0),
      questions: q.questions, answers,
    } as packet.Packet;
    let out = packet.encode(reply);
    if (transport === 'udp' && out.length > 512) {
      // Too long for plain UDP: the truncated flag tells the client to ask again over TCP.
      out = packet.encode({ ...reply, answers: [], flags: (reply.flags ?? 0) | packet.TRUNCATED_RESPONSE } as packet.Packet);
    }
    return out;
  }

  /**
   * Follows an ExternalName's CNAME for the type asked, as CoreDNS does: a target in the
   * cluster domain is looked up here, any other is asked of the upstream resolvers; their
   * records follow the CNAME. Stub resolvers (glibc, musl) do not chase a bare CNAME.
   */
  private async chase(answers: packet.Answer[], qtype: string, depth = 0): Promise<packet.Answer[]> {
    const last = answers[answers.length - 1];
    if (!last || last.type !== 'CNAME' || qtype === 'CNAME' || qtype === 'ANY' || depth >= 8) return answers;
    const target = String(last.data);
    const res = lookup(this.view(), this.domain, target, qtype);
    if (res.kind === 'answer') return this.chase([...answers, ...(res.answers as packet.Answer[])], qtype, depth + 1);
    if (res.kind === 'nxdomain') return answers;
    const ask = packet.encode({ type: 'query', id: Math.floor(Math.random() * 65536), flags: packet.RECURSION_DESIRED, questions: [{ type: qtype as packet.RecordType, name: target }] });
    const out = await this.forward(ask, 'udp');
    try {
      return [...answers, ...((out ? packet.decode(out).answers : undefined) ?? [])];
    } catch { return answers; }
  }

  private async forward(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    for (const up of this.upstreams) {
      const [host, port] = up.includes(':') && !up.includes('::') ? [up.split(':')[0], Number(up.split(':')[1])] : [up, 53];
      const out = await (transport === 'udp' ? udpAsk(host, port, msg) : tcpAsk(host, port, msg)).catch(() => undefined);
      if (out) return out;
    }
    // No upstream answered: SERVFAIL, as CoreDNS' forward plugin does.
    try {
      const q = packet.decode(msg);
      return packet.encode({ type: 'response', id: q.id, flags: packet.RECURSION_AVAILABLE | RCODE_SERVFAIL, questions: q.questions } as packet.Packet);
    } catch { return undefined; }
  }
}

function udpAsk(host: string, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('timeout')); }, 2000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.on('error', (e) => { clearTimeout(t); s.close(); reject(e); });
    s.send(msg, port, host);
  });
}

function tcpAsk(host: string, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    let buf = Buffer.alloc(0);
    sock.setTimeout(2000, () => { sock.destroy(); reject(new Error('timeout')); });
    sock.on('connect', () => sock.write(Buffer.concat([len, msg])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { sock.end(); resolve(buf.subarray(2, 2 + buf.readUInt16BE(0))); }
    });
    sock.on('error', reject);
  });
}
