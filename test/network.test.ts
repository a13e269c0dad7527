/**
 * Pod sandboxes against the real CNI plugins (Debian containernetworking-plugins): shared
 * localhost inside a pod, pod to pod by IP, pod to host, published TCP and UDP ports reached
 * from the host, CNI CHECK/VERSION, and DEL from the result cache after the config changed.
 * Processes run in the pods' namespaces via nsenter + busybox-static.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SandboxManager, type SandboxRecord } from '../src/engine/network/sandbox.js';
import { confDir, defaultConfList } from '../src/engine/network/config.js';
import { type LeakCounts, countLeaks, dropNetworkRoot, eventually, exec, inPod, networkRoot, startInPod, stop } from './network-helpers.js';

const BRIDGE = 'sknet0';
let root: string;
let mgr: SandboxManager;
let www: string;
let base: LeakCounts;

before(async () => {
  root = await networkRoot('skiff-network-', BRIDGE, '10.89.240.0/24');
  mgr = new SandboxManager(root);
  www = path.join(root, 'www');
  await fs.mkdir(www);
  await fs.writeFile(path.join(www, 'index.html'), 'hello from the pod\n');
  base = await countLeaks(root, BRIDGE);
});

after(async () => {
  for (const r of await mgr.list()) await mgr.remove(r.id, { force: true }).catch(() => {});
  await dropNetworkRoot(root, BRIDGE);
});

async function withPod<T>(opts: Parameters<SandboxManager['create']>[0], fn: (rec: SandboxRecord) => Promise<T>): Promise<T> {
  const rec = await mgr.create(opts);
  try {
    return await fn(rec);
  } finally {
    await mgr.remove(rec.id);
  }
}

test('a sandbox has its hostname, files, an IP on the pod CIDR and lo up', async () => {
  await withPod({ name: 'files', hostname: 'web-1', dns: { servers: ['10.89.240.1'], search: ['svc.local'] } }, async (rec) => {
    assert.match(rec.ip!, /^10\.89\.240\.\d+$/);
    assert.equal(rec.gateway, '10.89.240.1');
    assert.equal((await inPod(rec, ['hostname'])).trim(), 'web-1');
    assert.notEqual((await exec('hostname')).stdout.trim(), 'web-1');
    assert.equal(await fs.readFile(rec.files.hostname, 'utf8'), 'web-1\n');
    assert.match(await fs.readFile(rec.files.hosts, 'utf8'), new RegExp(`^${rec.ip!.replace(/\./g, '\\.')}\\tweb-1$`, 'm'));
    assert.equal(await fs.readFile(rec.files.resolvConf, 'utf8'), 'search svc.local\nnameserver 10.89.240.1\n');
    const addrs = await inPod(rec, ['ip', '-o', 'addr']);
    assert.match(addrs, /lo\s+inet 127\.0\.0\.1\/8/);
    assert.match(addrs, new RegExp(`eth0\\s+inet ${rec.ip}/24`));
    // The IPC namespace is the pod's own, not the host's.
    const [pin, host] = await Promise.all([fs.stat(rec.namespaces.ipc!), fs.stat('/proc/self/ns/ipc')]);
    assert.notEqual(pin.ino, host.ino);
  });
});

test('two processes in one pod talk over localhost', async () => {
  await withPod({ name: 'local' }, async (rec) => {
    const server = startInPod(rec, ['httpd', '-f', '-p', '127.0.0.1:8000', '-h', www]);
    try {
      const body = await eventually(() => inPod(rec, ['wget', '-qO-', 'http://127.0.0.1:8000/']));
      assert.equal(body, 'hello from the pod\n');
    } finally {
      await stop(server);
    }
  });
});

test('two pods talk by IP, and a pod reaches the host on its gateway', async () => {
  await withPod({ name: 'pod-a' }, async (a) => {
    await withPod({ name: 'pod-b' }, async (b) => {
      assert.notEqual(a.ip, b.ip);
      const server = startInPod(a, ['httpd', '-f', '-p', '80', '-h', www]);
      try {
        const body = await eventually(() => inPod(b, ['wget', '-qO-', `http://${a.ip}/`]));
        assert.equal(body, 'hello from the pod\n');
      } finally {
        await stop(server);
      }
      const host = http.createServer((req, res) => res.end(`host saw ${req.socket.remoteAddress}`));
      await new Promise<void>((r) => host.listen(0, b.gateway, r));
      try {
        const port = (host.address() as AddressInfo).port;
        assert.equal(await inPod(b, ['wget', '-qO-', `http://${b.gateway}:${port}/`]), `host saw ${b.ip}`);
      } finally {
        host.close();
      }
    });
  });
});

test('-p 8080:80 serves busybox httpd to curl on the host (loopback and bridge IP) and to the pod itself (hairpin)', async () => {
  await withPod({ name: 'published', ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }, async (rec) => {
    const server = startInPod(rec, ['httpd', '-f', '-p', '80', '-h', www]);
    try {
      for (const url of ['http://127.0.0.1:8080/', `http://${rec.gateway}:8080/`]) {
        const { stdout } = await eventually(() => exec('curl', ['-sSf', '--max-time', '5', url]));
        assert.equal(stdout, 'hello from the pod\n', url);
      }
      // Hairpin: the pod reaches its own published port through the host.
      assert.equal(await inPod(rec, ['wget', '-qO-', `http://${rec.gateway}:8080/`]), 'hello from the pod\n');
    } finally {
      await stop(server);
    }
  });
});

// Debian's busybox-static nc has no -u, so the UDP peers are node one-liners run in the pod.
const UDP_ECHO = "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo '+m,r.port,r.address));s.bind(5353,()=>console.log('ready'))";
const udpAsk = (host: string, port: number) => `const s=require('dgram').createSocket('udp4');const t=setInterval(()=>s.send('ping',${port},'${host}'),100);s.on('message',m=>{console.log(String(m));clearInterval(t);s.close()})`;

test('UDP: a published udp port from the host, and pod to pod', async () => {
  await withPod({ name: 'udp', ports: [{ hostPort: 18053, containerPort: 5353, protocol: 'udp' }] }, async (rec) => {
    const server = spawn('nsenter', [`--net=${rec.namespaces.net}`, process.execPath, '-e', UDP_ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => server.stdout!.once('data', r));
      for (const host of ['127.0.0.1', rec.gateway!]) {
        const { stdout } = await exec(process.execPath, ['-e', udpAsk(host, 18053)], { timeout: 10_000 });
        assert.equal(stdout.trim(), 'echo ping', host);
      }
      await withPod({ name: 'udp-peer' }, async (peer) => {
        const { stdout } = await exec('nsenter', [`--net=${peer.namespaces.net}`, process.execPath, '-e', udpAsk(rec.ip!, 5353)], { timeout: 10_000 });
        assert.equal(stdout.trim(), 'echo ping');
      });
    } finally {
      await stop(server);
    }
  });
});

test('CNI VERSION and CHECK with the real plugins; CHECK fails once the veth is gone', async () => {
  const v = await mgr.cni.version('bridge');
  assert.ok(v.supportedVersions.includes('1.0.0'));
  await withPod({ name: 'check' }, async (rec) => {
    await mgr.check(rec.id);
    await inPod(rec, ['ip', 'link', 'del', 'eth0']);
    await assert.rejects(mgr.check(rec.id), /CNI plugin bridge CHECK failed/);
  });
});

test('DEL after a restart uses the cached config even when the user changed the conflist', async () => {
  const before = await countLeaks(root, BRIDGE);
  const rec = await mgr.create({ name: 'cached', ports: [{ hostPort: 18090, containerPort: 80, protocol: 'tcp' }] });
  const conf = path.join(confDir(root), '10-test.conflist');
  const original = await fs.readFile(conf, 'utf8');
  try {
    await fs.writeFile(conf, JSON.stringify(defaultConfList(root, { bridge: 'sknet9', subnet: '10.89.249.0/24', name: BRIDGE })));
    await new SandboxManager(root).remove(rec.id); // a fresh manager: nothing in memory
  } finally {
    await fs.writeFile(conf, original);
  }
  assert.deepEqual(await countLeaks(root, BRIDGE), before);
  await exec('ip', ['link', 'show', 'sknet9']).then(() => assert.fail('the changed config must not have been used'), () => {});
});

test('traffic leaving the pod CIDR is masqueraded by one rule set for the network, none per pod', async () => {
  // An "outside" host: a network namespace behind a veth, with no route back to the pod CIDR.
  const ns = 'skiff-test-outside';
  await exec('ip', ['netns', 'del', ns]).catch(() => {});
  await exec('ip', ['link', 'del', 'skxt0']).catch(() => {});
  await exec('ip', ['netns', 'add', ns]);
  const listener = spawn('ip', ['netns', 'exec', ns, '/usr/bin/busybox', 'nc', '-l', '-p', '9999'], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    await exec('ip', ['link', 'add', 'skxt0', 'type', 'veth', 'peer', 'name', 'skxt1', 'netns', ns]);
    await exec('ip', ['addr', 'add', '198.18.77.1/30', 'dev', 'skxt0']);
    await exec('ip', ['link', 'set', 'skxt0', 'up']);
    await exec('ip', ['-n', ns, 'addr', 'add', '198.18.77.2/30', 'dev', 'skxt1']);
    await exec('ip', ['-n', ns, 'link', 'set', 'skxt1', 'up']);
    await withPod({ name: 'masq' }, async (rec) => {
      const rules = (await exec('iptables-save', ['-t', 'nat'])).stdout.split('\n');
      assert.equal(rules.filter((l) => l.includes(rec.id)).length, 0, 'no rule names the pod');
      assert.equal(rules.filter((l) => l.includes(`skiff masquerade ${BRIDGE} 10.89.240.0/24`)).length, 1, 'one jump for the network');
      const client = startInPod(rec, ['nc', '198.18.77.2', '9999']);
      try {
        // The outside end sees the host's address on its link, not the pod's.
        const peer = await eventually(async () => {
          const out = (await exec('ip', ['netns', 'exec', ns, 'ss', '-Htn', 'state', 'established'])).stdout;
          const m = /198\.18\.77\.2\]?:9999\s+\[?(?:::ffff:)?([0-9.]+)\]?:\d+/.exec(out);
          if (!m) throw new Error(`no connection yet: ${out}`);
          return m[1];
        });
        assert.equal(peer, '198.18.77.1');
      } finally {
        await stop(client);
      }
    });
  } finally {
    await stop(listener);
    await exec('ip', ['link', 'del', 'skxt0']).catch(() => {});
    await exec('ip', ['netns', 'del', ns]).catch(() => {});
  }
});

test('after all of the above, nothing is left: no veth, IP, iptables rule, pin or cache entry', async () => {
  assert.deepEqual(await mgr.list(), []);
  assert.deepEqual(await countLeaks(root, BRIDGE), base);
});
