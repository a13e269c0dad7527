/**
 * `skiff pod` end to end, with the real CNI plugins: create/ps/inspect/rm and their errors,
 * 100 create/remove cycles that leak nothing, and a `skiff` killed (SIGKILL) in the middle of
 * setting a pod up, cleaned up by the next command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SandboxManager } from '../src/engine/network/sandbox.js';
import { recover } from '../src/engine/network/recover.js';
import { countLeaks, dropNetworkRoot, exec, networkRoot, type LeakCounts } from './network-helpers.js';
import { SKIFF, skiff } from './helpers/images.js';

const BRIDGE = 'skpod0';
let root: string;
let base: LeakCounts;

before(async () => {
  root = await networkRoot('skiff-pod-', BRIDGE, '10.89.241.0/24');
  base = await countLeaks(root, BRIDGE);
});

after(async () => {
  await skiff(root, ['pod', 'rm', '-af']);
  await dropNetworkRoot(root, BRIDGE);
});

test('pod create, ps, inspect, rm through the CLI', async () => {
  const made = await skiff(root, ['pod', 'create', '--name', 'web', '--hostname', 'www', '-p', '18181:80', '-p', '18182:53/udp', '--add-host', 'db:10.1.2.3', '-l', 'app=web']);
  assert.equal(made.code, 0, made.stderr);
  const id = made.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = await skiff(root, ['pod', 'ps']);
  assert.match(ps.stdout, /^POD ID\s+NAME\s+STATUS\s+CREATED\s+IP\s+PORTS/);
  assert.match(ps.stdout, new RegExp(`\\n${id.slice(0, 12)}\\s+web\\s+Running\\s+.*10\\.89\\.241\\.\\d+\\s+0\\.0\\.0\\.0:18181->80/tcp, 0\\.0\\.0\\.0:18182->53/udp`));
  const [rec] = JSON.parse((await skiff(root, ['pod', 'inspect', 'web'])).stdout);
  assert.equal(rec.id, id);
  assert.equal(rec.hostname, 'www');
  assert.deepEqual(rec.labels, { app: 'web' });
  assert.match(await fs.readFile(rec.files.hosts, 'utf8'), /^10\.1\.2\.3\tdb$/m);
  assert.equal((await exec('nsenter', [`--uts=${rec.namespaces.uts}`, 'hostname'])).stdout.trim(), 'www');
  // Debian's portmap 1.1.1 fails CHECK on IPv4-only pods with ports (containernetworking/plugins#819).
  const check = await skiff(root, ['pod', 'check', 'web']);
  if (check.code !== 0) assert.match(check.stderr, /^skiff: CNI plugin portmap CHECK failed: could not check ipv6 dnat/);
  // Published ports are exclusive, as with podman: another pod, or a host process, holding one is refused.
  const again = await skiff(root, ['pod', 'create', '-p', '18181:8080']);
  assert.equal(again.stderr, 'skiff: host port 18181/tcp is already published by another pod\n');
  const holder = net.createServer().listen(18184, '127.0.0.1');
  await once(holder, 'listening');
  try {
    const busy = await skiff(root, ['pod', 'create', '-p', '18184:80']);
    assert.equal(busy.stderr, 'skiff: host port 18184/tcp is already in use on 0.0.0.0\n');
  } finally {
    holder.close();
  }
  const plain = await skiff(root, ['pod', 'create', '--name', 'plain']);
  assert.equal((await skiff(root, ['pod', 'check', 'plain'])).code, 0);
  assert.equal((await skiff(root, ['pod', 'rm', 'plain'])).stdout.trim(), plain.stdout.trim());
  const rm = await skiff(root, ['pod', 'rm', id.slice(0, 10)]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout.trim(), id);
  assert.equal((await skiff(root, ['pod', 'ps', '-q'])).stdout, '');
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
});

test('bad input: one line, non-zero exit, nothing left behind', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['pod', 'create', '-p', '80'], /^skiff: invalid port spec "80"/],
    [['pod', 'create', '-p', '8080:80/sctp'], /protocol must be tcp or udp/],
    [['pod', 'create', '-p', '70000:80'], /out of range/],
    [['pod', 'create', '-p', '18183:80', '-p', '18183:81'], /published twice/],
    [['pod', 'create', '--hostname', 'bad_host!'], /invalid hostname/],
    [['pod', 'create', '--name', 'bad name'], /^skiff: invalid pod name "bad name"$/],
    [['pod', 'rm', 'nope'], /^skiff: no such pod: nope$/],
    [['pod', 'inspect', 'nope'], /^skiff: no such pod: nope$/],
  ];
  for (const [args, re] of cases) {
    const r = await skiff(root, args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr.trim(), re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, args.join(' '));
  }
  assert.equal((await skiff(root, ['pod', 'create', '--name', 'dup'])).code, 0);
  const dup = await skiff(root, ['pod', 'create', '--name', 'dup']);
  assert.equal(dup.code, 1);
  assert.equal(dup.stderr, 'skiff: pod name "dup" is already in use\n');
  assert.equal((await skiff(root, ['pod', 'rm', 'dup'])).code, 0);
  assert.equal((await skiff(root, ['pod', 'ps', '-q'])).stdout, '');
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
  assert.deepEqual(await fs.readdir(path.join(root, 'sandboxes')).then((n) => n.filter((x) => !x.startsWith('.'))), []);
});

test('100 sandbox create/remove cycles leak no veth, IP, iptables rule, pin or cache entry', async () => {
  const mgr = new SandboxManager(root);
  const peak: LeakCounts[] = [];
  for (let i = 0; i < 100; i++) {
    const rec = await mgr.create({ ports: i % 2 ? [{ hostPort: 19000 + i, containerPort: 80, protocol: i % 4 === 1 ? 'udp' : 'tcp' }] : [] });
    if (i === 1) peak.push(await countLeaks(root, BRIDGE));
    await mgr.remove(rec.id);
  }
  // The counters do see a live sandbox (so zero afterwards means something).
  assert.deepEqual(peak[0], { veths: base.veths + 1, ips: base.ips + 1, iptables: base.iptables + 1, pins: base.pins + 3, cache: base.cache + 2 });
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
  assert.deepEqual(await recover(mgr, { deep: true }), { removed: [], stopped: [], orphans: [], pins: [] });
});

/** Starts `skiff pod ARGS` paused after one CNI plugin's ADD (or `DEL:<type>`), then SIGKILLs it. */
async function killMidway(pausePlugin: string, args: string[]): Promise<void> {
  const child = spawn(process.execPath, [SKIFF, '--root', root, 'pod', ...args], {
    env: { ...process.env, SKIFF_TEST_CNI_PAUSE: pausePlugin }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('test pause')) resolve();
    });
    child.on('exit', () => reject(new Error(`skiff exited before pausing: ${err}`)));
  });
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

test('a skiff killed mid-setup is cleaned up by the next command', async () => {
  for (const [plugin, args] of [['bridge', []], ['portmap', ['-p', '18190:80']]] as const) {
    await killMidway(plugin, ['create', ...args]);
    const left = await countLeaks(root, BRIDGE);
    assert.equal(left.veths, base.veths + 1, `${plugin}: the kill left a veth`);
    assert.equal(left.ips, base.ips + 1, `${plugin}: the kill left an IP allocation`);
    assert.equal(left.pins, base.pins + 3, `${plugin}: the kill left namespace pins`);
    // Only portmap makes per-pod rules: the default network's masquerade is one rule set for all.
    if (plugin === 'portmap') assert.ok(left.iptables > base.iptables, `${plugin}: the kill left iptables rules`);
    const ps = await skiff(root, ['pod', 'ps', '-q']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stdout, '', 'the half-made pod is gone');
    assert.deepEqual(await countLeaks(root, BRIDGE), base, plugin);
  }
});

test('recovery: lost namespaces make a pod stopped; pins and CNI state with no record are released', async () => {
  const mgr = new SandboxManager(root);
  // As after a reboot: the namespaces are gone but the record says ready.
  const lost = await mgr.create({ name: 'lost' });
  await exec('umount', Object.values(lost.namespaces));
  const ps = await skiff(root, ['pod', 'ps']);
  assert.match(ps.stdout, /\n[0-9a-f]{12}\s+lost\s+Stopped\s/);
  assert.deepEqual(await countLeaks(root, BRIDGE), base, 'its IP, veth, rules and cache were released');
  assert.equal((await skiff(root, ['pod', 'rm', 'lost'])).code, 0);
  // A record deleted by hand: its pins, IP, cache and iptables rules are orphans.
  const orphan = await mgr.create({ name: 'orphan', ports: [{ hostPort: 18195, containerPort: 80, protocol: 'tcp' }] });
  await fs.rm(mgr.dir(orphan.id), { recursive: true });
  assert.notDeepEqual(await countLeaks(root, BRIDGE), base);
  const rec = await skiff(root, ['pod', 'recover']);
  assert.equal(rec.code, 0, rec.stderr);
  assert.match(rec.stdout, new RegExp(`unmounted namespace pins of ${orphan.id}`));
  assert.match(rec.stdout, new RegExp(`released network state of ${orphan.id}`));
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
});

test('a skiff killed mid-removal is finished by the next command', async () => {
  const made = await skiff(root, ['pod', 'create', '--name', 'half', '-p', '18196:80']);
  assert.equal(made.code, 0, made.stderr);
  await killMidway('DEL:portmap', ['rm', 'half']);
  const left = await countLeaks(root, BRIDGE);
  assert.deepEqual([left.veths, left.ips, left.pins], [base.veths + 1, base.ips + 1, base.pins + 3], 'bridge DEL and unpinning had not run');
  const ps = await skiff(root, ['pod', 'ps', '-q']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout, '', 'the half-removed pod is gone');
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
});

test('concurrent creates get distinct IPs and names; removing them all leaks nothing', async () => {
  const mgr = new SandboxManager(root);
  const recs = await Promise.all(Array.from({ length: 6 }, (_, i) => mgr.create({ name: `par-${i}` })));
  assert.equal(new Set(recs.map((r) => r.ip)).size, 6);
  const dup = await Promise.allSettled([mgr.create({ name: 'same' }), mgr.create({ name: 'same' })]);
  assert.deepEqual(dup.map((d) => d.status).sort(), ['fulfilled', 'rejected']);
  await Promise.all([...recs.map((r) => mgr.remove(r.id)), mgr.remove('same')]);
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
});

test('pod stop releases the network and namespaces; pod start makes them again', async () => {
  const id = (await skiff(root, ['pod', 'create', '--name', 'cycle', '--hostname', 'again', '-p', '18197:80'])).stdout.trim();
  const stopped = await skiff(root, ['pod', 'stop', 'cycle']);
  assert.equal(stopped.stdout.trim(), id, stopped.stderr);
  assert.match((await skiff(root, ['pod', 'ps'])).stdout, /cycle\s+Stopped\s/);
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
  // Its port is free while stopped, so a pod that takes it meanwhile blocks the start.
  const taker = await skiff(root, ['pod', 'create', '--name', 'taker', '-p', '18197:80']);
  assert.equal(taker.code, 0, taker.stderr);
  assert.equal((await skiff(root, ['pod', 'start', 'cycle'])).stderr, 'skiff: host port 18197/tcp is already published by another pod\n');
  assert.equal((await skiff(root, ['pod', 'rm', 'taker'])).code, 0);
  const started = await skiff(root, ['pod', 'start', 'cycle']);
  assert.equal(started.code, 0, started.stderr);
  const [rec] = JSON.parse((await skiff(root, ['pod', 'inspect', 'cycle'])).stdout);
  assert.equal(rec.state, 'ready');
  assert.equal((await exec('nsenter', [`--uts=${rec.namespaces.uts}`, 'hostname'])).stdout.trim(), 'again');
  assert.match((await exec('nsenter', [`--net=${rec.namespaces.net}`, 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout, new RegExp(`inet ${rec.ip}/24`));
  assert.equal((await skiff(root, ['pod', 'start', 'cycle'])).code, 0, 'starting a running pod is a no-op');
  assert.equal((await skiff(root, ['pod', 'rm', 'cycle'])).code, 0);
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
});

test('a user conflist replaces the default; ports need a portMappings plugin', async () => {
  const user = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-pod-user-'));
  try {
    await fs.mkdir(path.join(user, 'cni', 'net.d'), { recursive: true });
    await fs.writeFile(path.join(user, 'cni', 'net.d', '50-mine.conflist'), JSON.stringify({
      cniVersion: '0.4.0', name: 'skmine0',
      plugins: [{ type: 'bridge', bridge: 'skmine0', ipam: { type: 'host-local', dataDir: path.join(user, 'ipam'), ranges: [[{ subnet: '10.89.243.0/28' }]] } }],
    }));
    const refused = await skiff(user, ['pod', 'create', '-p', '18198:80']);
    assert.equal(refused.stderr, 'skiff: cannot publish ports: no plugin of network skmine0 has the portMappings capability\n');
    const made = await skiff(user, ['pod', 'create', '--name', 'mine']);
    assert.equal(made.code, 0, made.stderr);
    const [rec] = JSON.parse((await skiff(user, ['pod', 'inspect', 'mine'])).stdout);
    assert.match(rec.ip, /^10\.89\.243\.\d+$/);
    assert.equal(rec.cniResult.cniVersion, '0.4.0');
    assert.equal((await skiff(user, ['pod', 'check', 'mine'])).code, 0);
    assert.equal((await skiff(user, ['pod', 'rm', 'mine'])).code, 0);
    assert.deepEqual(await fs.readdir(path.join(user, 'ipam', 'skmine0')).then((f) => f.filter((n) => /^\d/.test(n))), []);
    const bad = path.join(user, 'cni', 'net.d', '40-bad.conflist');
    await fs.writeFile(bad, '{"cniVersion":"9.9.9","name":"x","plugins":[{"type":"bridge"}]}');
    assert.equal((await skiff(user, ['pod', 'create'])).stderr, `skiff: network config ${bad}: unsupported cniVersion "9.9.9" (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0)\n`);
    const ps = await skiff(user, ['pod', 'ps', '-q']);
    assert.deepEqual([ps.code, ps.stdout, ps.stderr], [0, '', ''], 'a broken conflist does not break listing');
  } finally {
    await exec('ip', ['link', 'del', 'skmine0']).catch(() => {});
    await fs.rm(user, { recursive: true, force: true });
  }
});

test('a failing CNI ADD (pod CIDR exhausted) is one line and leaves nothing behind', async () => {
  const small = await networkRoot('skiff-pod-small-', 'sksmall0', '10.89.244.0/30');
  try {
    const before = await countLeaks(small, 'sksmall0');
    const first = await skiff(small, ['pod', 'create', '--name', 'only', '-p', '18199:80']);
    assert.equal(first.code, 0, first.stderr);
    const second = await skiff(small, ['pod', 'create', '--name', 'second', '-p', '18200:80']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^skiff: CNI plugin bridge ADD failed: .*no IP addresses available in range set: 10\.89\.244\.1-10\.89\.244\.2\n$/);
    assert.equal((await skiff(small, ['pod', 'ps', '-q'])).stdout.trim().split('\n').length, 1);
    assert.equal((await skiff(small, ['pod', 'rm', 'only'])).code, 0);
    assert.deepEqual(await countLeaks(small, 'sksmall0'), before);
  } finally {
    await dropNetworkRoot(small, 'sksmall0');
  }
});
