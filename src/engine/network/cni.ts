/**
 * A CNI runtime, per the CNI specification (github.com/containernetworking/cni SPEC.md), in
 * the shape of libcni: ADD, DEL, CHECK and VERSION for a network configuration list.
 *
 * - Each plugin runs as `<CNI_PATH dir>/<type>` with CNI_COMMAND, CNI_CONTAINERID,
 *   CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH in its environment and its configuration on
 *   stdin: the list's plugin entry plus the list's `name` and `cniVersion`, the previous
 *   plugin's result as `prevResult`, and `runtimeConfig` holding only the capabilities the
 *   plugin declares (e.g. `portMappings` for portmap).
 * - ADD runs the plugins in order, chaining results; DEL runs them in reverse with the cached
 *   result as `prevResult`; CHECK runs them in order with the cached result.
 * - After a successful ADD the result, the exact config bytes and the runtime arguments are
 *   cached in `<cacheDir>/results/<network>-<containerID>-<ifname>` (libcni's cniCacheV1
 *   layout), so a DEL after a restart, or after the user changed the config, undoes exactly
 *   what was done.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError, UnavailableError, FailedPreconditionError } from '../../core/errors.js';
import { writeJsonAtomic, readJsonIfExists } from '../../lib/atomic.js';
import { runCommand } from '../../lib/spawner.js';
import type { NetworkConfList, PluginConf } from './config.js';

/** Where Debian's containernetworking-plugins live. */
export const DEFAULT_PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

/** What identifies one attachment of a container to a network. */
export interface RuntimeConf {
  /** CNI_CONTAINERID: unique per attachment owner (the sandbox ID). */
  containerId: string;
  /** CNI_NETNS: path to the network namespace; '' when it no longer exists (DEL only). */
  netns: string;
  /** CNI_IFNAME: the interface to create inside the namespace. */
  ifName: string;
  /** CNI_ARGS as key/value pairs (e.g. K8S_POD_NAME). */
  args?: Array<[string, string]>;
  /** Values for the capabilities plugins declare (portMappings, ...), sent as runtimeConfig. */
  capabilityArgs?: Record<string, unknown>;
}

/** A CNI result (only the fields Skiff reads are typed; the rest is passed through). */
export interface CniResult {
  cniVersion: string;
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  routes?: Array<{ dst: string; gw?: string }>;
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  [key: string]: unknown;
}

/** The cache entry written after ADD (libcni's cniCacheV1 fields). */
export interface CacheEntry {
  kind: 'cniCacheV1';
  containerId: string;
  /** The conflist as sent, base64 (libcni stores the raw bytes). */
  config: string;
  ifName: string;
  networkName: string;
  netns: string;
  cniArgs?: Array<[string, string]>;
  capabilityArgs?: Record<string, unknown>;
  result: CniResult;
}

/** The conflist an ADD was made with, as its cache entry holds it. */
export function cachedConfList(entry: CacheEntry): NetworkConfList {
  return JSON.parse(Buffer.from(entry.config, 'base64').toString('utf8')) as NetworkConfList;
}

/** Options for a CNI runtime. */
export interface CniOptions {
  /** Directories searched for plugin binaries (CNI_PATH). */
  pluginDirs?: string[];
  /** Directory holding `results/` (Skiff uses `<root>/cni`). */
  cacheDir: string;
  /** Kill a plugin that runs longer than this (default 60 s). */
  timeoutMs?: number;
}

/** Runs CNI plugins for network configuration lists. */
export class Cni {
  readonly pluginDirs: string[];
  readonly cacheDir: string;
  private readonly timeoutMs: number;

  constructor(opts: CniOptions) {
    this.pluginDirs = opts.pluginDirs ?? DEFAULT_PLUGIN_DIRS;
    this.cacheDir = opts.cacheDir;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** Attaches: ADD through every plugin, then caches the final result. */
  async add(list: NetworkConfList, rt: RuntimeConf): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (const plugin of list.plugins) {
      prev = await this.invoke('ADD', plugin, list, rt, prev) as CniResult;
      if (process.env.SKIFF_TEST_CNI_PAUSE === plugin.type) await pauseForTest('ADD');
    }
    const entry: CacheEntry = {
      kind: 'cniCacheV1', containerId: rt.containerId, config: Buffer.from(JSON.stringify(list)).toString('base64'),
      ifName: rt.ifName, networkName: list.name, netns: rt.netns, cniArgs: rt.args, capabilityArgs: rt.capabilityArgs, result: prev!,
    };
    await fs.mkdir(path.join(this.cacheDir, 'results'), { recursive: true });
    await writeJsonAtomic(this.cachePath(list.name, rt), entry, 0o600);
    return prev!;
  }

  /**
   * Detaches: DEL through every plugin in reverse. Uses the cached config and arguments when
   * an ADD was cached (so it undoes what was done), else `list` and `rt` as given; DEL is
   * idempotent by the spec, so this is also how half-done ADDs are undone. Returns the
   * conflist it ran (the cached one, or `list`).
   */
  async del(list: NetworkConfList, rt: RuntimeConf): Promise<NetworkConfList> {
    const cached = await this.cached(list.name, rt.containerId, rt.ifName);
    const useList = cached ? cachedConfList(cached) : list;
    const useRt: RuntimeConf = cached ? { ...rt, args: cached.cniArgs, capabilityArgs: cached.capabilityArgs } : rt;
    // prevResult on DEL exists from 0.4.0 on (spec: "cached result for DEL").
    const prev = cached && versionAtLeast(useList.cniVersion, '0.4.0') ? cached.result : undefined;
    for (const plugin of [...useList.plugins].reverse()) {
      await this.invoke('DEL', plugin, useList, useRt, prev);
      if (process.env.SKIFF_TEST_CNI_PAUSE === `DEL:${plugin.type}`) await pauseForTest('DEL');
    }
    await fs.rm(this.cachePath(list.name, rt), { force: true });
    return useList;
  }

  /** Verifies an attachment: CHECK through every plugin with the cached result. */
  async check(list: NetworkConfList, rt: RuntimeConf): Promise<void> {
    if (!versionAtLeast(list.cniVersion, '0.4.0')) throw new FailedPreconditionError(`CHECK needs cniVersion 0.4.0 or later (network ${list.name} is ${list.cniVersion})`);
    if (list.disableCheck) return;
    const cached = await this.cached(list.name, rt.containerId, rt.ifName);
    if (!cached) throw new NotFoundError(`no cached CNI result for ${rt.containerId} on network ${list.name}`);
    const useRt = { ...rt, args: cached.cniArgs, capabilityArgs: cached.capabilityArgs };
    for (const plugin of list.plugins) await this.invoke('CHECK', plugin, list, useRt, cached.result);
  }

  /** Asks one plugin which CNI versions it supports. */
  async version(type: string): Promise<{ cniVersion: string; supportedVersions: string[] }> {
    const out = await this.exec(type, { CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '1.0.0' }));
    return out as { cniVersion: string; supportedVersions: string[] };
  }

  /** The cache entry of an ADD, if one was made and not yet deleted. */
  async cached(network: string, containerId: string, ifName: string): Promise<CacheEntry | undefined> {
    return readJsonIfExists<CacheEntry>(this.cachePath(network, { containerId, ifName }));
  }

  /** Every cached attachment (for recovery). */
  async listCached(): Promise<CacheEntry[]> {
    const dir = path.join(this.cacheDir, 'results');
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return [];
    }
    const out: CacheEntry[] = [];
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const e = await readJsonIfExists<CacheEntry>(path.join(dir, n)).catch(() => undefined);
      if (e?.kind === 'cniCacheV1') out.push(e);
    }
    return out;
  }

  private cachePath(network: string, rt: Pick<RuntimeConf, 'containerId' | 'ifName'>): string {
    return path.join(this.cacheDir, 'results', `${network}-${rt.containerId}-${rt.ifName}`);
  }

  private async invoke(cmd: 'ADD' | 'DEL' | 'CHECK', plugin: PluginConf, list: NetworkConfList, rt: RuntimeConf, prev?: CniResult): Promise<unknown> {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    if (prev) conf.prevResult = prev;
    const runtimeConfig: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
      if (on && rt.capabilityArgs && cap in rt.capabilityArgs) runtimeConfig[cap] = rt.capabilityArgs[cap];
    }
    if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
    const env: Record<string, string> = {
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_PATH: this.pluginDirs.join(':'),
    };
    if (rt.args?.length) env.CNI_ARGS = rt.args.map(([k, v]) => `${k}=${v}`).join(';');
    return this.exec(plugin.type, env, JSON.stringify(conf));
  }

  private async findPlugin(type: string): Promise<string> {
    for (const dir of this.pluginDirs) {
      const p = path.join(dir, type);
      try {
        await fs.access(p, fsc.X_OK);
        return p;
      } catch { /* next directory */ }
    }
    throw new NotFoundError(`CNI plugin "${type}" not found in ${this.pluginDirs.join(':')}`);
  }

  /** Runs a plugin; a non-zero exit becomes an error carrying the plugin's {code,msg,details}. */
  private async exec(type: string, cniEnv: Record<string, string>, stdin: string): Promise<unknown> {
    const bin = await this.findPlugin(type);
    // As libcni: the caller's environment minus any stray CNI_* variables, plus ours.
    const env: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CNI_')) env[k] = v;
    Object.assign(env, cniEnv);
    const { code, stdout, stderr } = await run(bin, env, stdin, this.timeoutMs);
    const what = `CNI plugin ${type} ${cniEnv.CNI_COMMAND}`;
    let parsed: unknown;
    try {
      parsed = stdout.trim() ? JSON.parse(stdout) : undefined;
    } catch {
      if (code === 0) throw new UnavailableError(`${what}: output is not JSON: ${stdout.slice(0, 200)}`);
    }
    if (code !== 0) {
      const e = parsed as { code?: number; msg?: string; details?: string } | undefined;
      const msg = e?.msg ? `${e.msg}${e.details ? `: ${e.details}` : ''}` : (stderr.trim() || `exit status ${code}`);
      const Cls = e?.code === 7 ? InvalidArgumentError : UnavailableError; // 7: invalid network config
      throw new Cls(`${what} failed: ${msg.split('\n')[0]}`);
    }
    return parsed;
  }
}

/** True when CNI version `v` is at least `min` (dotted numbers). */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

async function run(bin: string, env: Record<string, string>, stdin: string, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCommand(bin, [], { env, input: stdin, timeoutMs, killSignal: 'SIGKILL' });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Test hook (SKIFF_TEST_CNI_PAUSE=<type> or DEL:<type>): stop forever after that plugin's ADD or DEL. */
async function pauseForTest(cmd: string): Promise<void> {
  process.stderr.write(`skiff: test pause after CNI plugin ${cmd}\n`);
  await new Promise(() => setInterval(() => {}, 1 << 30));
}
