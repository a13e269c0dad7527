/**
 * What the node agent measures about its machine: CPUs, memory (/proc/meminfo), the data
 * root's filesystem (statfs), process-table use, and the facts a Node's nodeInfo carries
 * (kernel, OS image from /etc/os-release, machine and boot IDs, the OCI runtime's version).
 * Every reader tolerates a missing file: a Node with an empty field beats no Node at all.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** One sample of the machine's resources. */
export interface MachineSample {
  cpus: number;
  memoryTotal: number;
  memoryAvailable: number;
  /** The data root's filesystem, in bytes and inodes. */
  fsTotal: number;
  fsAvailable: number;
  inodesTotal: number;
  inodesFree: number;
  /** Scheduling entities (threads) alive, and the most the kernel allows. */
  pids: number;
  pidMax: number;
}

async function read(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '');
}

/** Fields of /proc/meminfo, in bytes. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * (line.includes('kB') ? 1024 : 1);
  }
  return out;
}

/** Samples the machine now; `root` is the data root (its filesystem is the node's). */
export async function sample(root: string): Promise<MachineSample> {
  const [meminfo, loadavg, pidMaxText, threadsMax, st] = await Promise.all([
    read('/proc/meminfo'), read('/proc/loadavg'), read('/proc/sys/kernel/pid_max'), read('/proc/sys/kernel/threads-max'),
    fs.statfs(root).catch(() => undefined),
  ]);
  const mem = parseMeminfo(meminfo);
  // /proc/loadavg's 4th field is running/total scheduling entities: the kubelet's pid count.
  const pids = Number(/\s\d+\/(\d+)\s/.exec(loadavg)?.[1] ?? 0);
  const limits = [Number(pidMaxText.trim()), Number(threadsMax.trim())].filter((n) => n > 0);
  return {
    cpus: os.cpus().length || 1,
    memoryTotal: mem.MemTotal ?? os.totalmem(),
    memoryAvailable: mem.MemAvailable ?? os.freemem(),
    fsTotal: st ? st.blocks * st.bsize : 0,
    fsAvailable: st ? st.bavail * st.bsize : 0,
    inodesTotal: st?.files ?? 0,
    inodesFree: st?.ffree ?? 0,
    pids,
    pidMax: limits.length ? Math.min(...limits) : 32768,
  };
}

/** Static facts for a Node's nodeInfo. */
export interface MachineInfo {
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  operatingSystem: string;
  architecture: string;
  /** The OCI runtime and its version ("runc 1.1.5"). */
  runtime: string;
}

/** PRETTY_NAME of an os-release file's text. */
export function osImage(text: string): string {
  const m = /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(text);
  return (m?.[1] ?? m?.[2] ?? 'Linux').trim();
}

/** GOARCH spelling of this machine's architecture, as Kubernetes labels it. */
export function goArch(arch = process.arch): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}

/** Reads the machine's facts; `runtimePath` is the engine's runtime binary. */
export async function machineInfo(runtimeName: string, runtimePath: string): Promise<MachineInfo> {
  const [machineID, uuid, bootID, release, rt] = await Promise.all([
    read('/etc/machine-id'), read('/sys/class/dmi/id/product_uuid'), read('/proc/sys/kernel/random/boot_id'),
    read('/etc/os-release').then((t) => t || read('/usr/lib/os-release')),
    exec(runtimePath, ['--version']).then((r) => r.stdout, () => ''),
  ]);
  // `runc version 1.1.5+ds1` / `crun version 1.8.1`.
  const version = /version\s+(\S+)/.exec(rt)?.[1] ?? 'unknown';
  return {
    machineID: machineID.trim(), systemUUID: uuid.trim(), bootID: bootID.trim(), kernelVersion: os.release(),
    osImage: osImage(release), operatingSystem: 'linux', architecture: goArch(), runtime: `${runtimeName} ${version}`,
  };
}

/**
 * The node's InternalIP: the first IPv4 address of an interface that is not loopback and not
 * one Skiff or CNI made (bridges, veths), so pods and peers can reach the agent there.
 */
export function internalIP(): string {
  const skip = /^(lo|veth|cni|skiff|docker|podman|virbr|br-|flannel|kube-)/;
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (skip.test(name)) continue;
    const a = addrs?.find((x) => x.family === 'IPv4' && !x.internal);
    if (a) return a.address;
  }
  return '127.0.0.1';
}
