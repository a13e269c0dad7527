/**
 * The CNI runtime's protocol logic against a recording fake plugin (a shell script): what
 * each plugin gets on stdin and in its environment, result chaining, DEL order and cache.
 * The real plugins are exercised in test/network.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Cni } from './cni.js';
import type { NetworkConfList } from './config.js';

let dir: string;
let log: string;

// Appends "<type> <command> <env> <stdin>" to the log and answers with a result naming itself.
const FAKE = `#!/bin/sh
in=$(cat)
printf '%s\\n' "$(basename "$0") $CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_ARGS $CNI_PATH $in" >> "$LOG"
case "$in" in *'"fail":true'*) echo '{"code":7,"msg":"bad config","details":"fail set"}'; exit 1;; esac
[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.9/24"}],"by":"'$(basename "$0")'"}'
exit 0
`;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cni-unit-'));
  log = path.join(dir, 'log');
  process.env.LOG = log;
  for (const n of ['one', 'two']) await fs.writeFile(path.join(dir, n), FAKE, { mode: 0o755 });
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const list: NetworkConfList = {
  cniVersion: '1.0.0', name: 'net1',
  plugins: [{ type: 'one', x: 1 }, { type: 'two', capabilities: { portMappings: true, bandwidth: false } }],
};
const rt = { containerId: 'c1', netns: '/ns', ifName: 'eth0', args: [['A', '1'], ['B', '2']] as Array<[string, string]>, capabilityArgs: { portMappings: [{ hostPort: 1 }], bandwidth: {} } };

async function calls(): Promise<Array<{ type: string; cmd: string; env: string[]; conf: Record<string, unknown> }>> {
  const text = await fs.readFile(log, 'utf8').catch(() => '');
  await fs.rm(log, { force: true });
  return text.trim().split('\n').filter(Boolean).map((l) => {
    const [type, cmd, ...rest] = l.split(' ');
    const json = rest.slice(5).join(' ');
    return { type, cmd, env: rest.slice(0, 5), conf: JSON.parse(json) };
  });
}

test('ADD chains results, injects name/version/runtimeConfig per capability, caches', async () => {
  const cni = new Cni({ pluginDirs: ['/nonexistent', dir], cacheDir: dir });
  const res = await cni.add(list, rt);
  assert.equal(res.by, 'two');
  const [a, b] = await calls();
  assert.deepEqual([a.type, a.cmd, b.type, b.cmd], ['one', 'ADD', 'two', 'ADD']);
  assert.deepEqual(a.env, ['c1', '/ns', 'eth0', 'A=1;B=2', `/nonexistent:${dir}`]);
  assert.deepEqual(a.conf, { type: 'one', x: 1, name: 'net1', cniVersion: '1.0.0' });
  assert.equal((b.conf.prevResult as { by: string }).by, 'one');
  assert.deepEqual(b.conf.runtimeConfig, { portMappings: [{ hostPort: 1 }] }, 'only declared, enabled capabilities');
  const cached = await cni.cached('net1', 'c1', 'eth0');
  assert.equal(cached?.result.by, 'two');
  assert.deepEqual(JSON.parse(Buffer.from(cached!.config, 'base64').toString()), list);
  assert.equal((await fs.stat(path.join(dir, 'results', 'net1-c1-eth0'))).mode & 0o777, 0o600);
});

test('CHECK passes the cached result; DEL runs in reverse with the cached config, then forgets', async () => {
  const cni = new Cni({ pluginDirs: [dir], cacheDir: dir });
  await cni.check(list, rt);
  const chk = await calls();
  assert.deepEqual(chk.map((c) => c.type), ['one', 'two']);
  assert.equal((chk[0].conf.prevResult as { by: string }).by, 'two');
  // DEL with a changed list and no capability args still uses what ADD used.
  const ran = await cni.del({ ...list, plugins: [{ type: 'two' }] }, { containerId: 'c1', netns: '', ifName: 'eth0' });
  assert.deepEqual(ran, list, 'DEL reports the conflist it ran: the cached one');
  const del = await calls();
  assert.deepEqual(del.map((c) => `${c.type} ${c.cmd}`), ['two DEL', 'one DEL']);
  assert.deepEqual(del[0].conf.runtimeConfig, { portMappings: [{ hostPort: 1 }] });
  assert.equal(await cni.cached('net1', 'c1', 'eth0'), undefined);
  await assert.rejects(cni.check(list, rt), /no cached CNI result/);
});

test('plugin errors carry the plugin message; missing plugins are named', async () => {
  const cni = new Cni({ pluginDirs: [dir], cacheDir: dir });
  await assert.rejects(cni.add({ ...list, plugins: [{ type: 'one', fail: true }] }, rt), {
    code: 'INVALID_ARGUMENT', message: 'CNI plugin one ADD failed: bad config: fail set',
  });
  await assert.rejects(cni.add({ ...list, plugins: [{ type: 'nope' }] }, rt), /CNI plugin "nope" not found/);
  await assert.rejects(cni.check({ ...list, cniVersion: '0.3.1' }, rt), /CHECK needs cniVersion 0.4.0/);
  await calls();
});
