import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostsFile, resolvConf, validHostname } from './files.js';

test('hosts names the pod IP and the host gateway', () => {
  const h = hostsFile('web', '10.89.0.5', '10.89.0.1', ['10.1.1.1\tdb']);
  assert.match(h, /^127\.0\.0\.1\tlocalhost /m);
  assert.match(h, /^10\.89\.0\.5\tweb$/m);
  assert.match(h, /^10\.89\.0\.1\thost\.skiff\.internal /m);
  assert.match(h, /^10\.1\.1\.1\tdb\n$/m);
});

test('resolv.conf keeps the host resolvers a pod can reach, or the explicit ones', () => {
  const host = '# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch a.example b.example\noptions edns0\n';
  assert.equal(resolvConf(host), 'search a.example b.example\nnameserver 10.0.0.2\noptions edns0\n');
  assert.equal(resolvConf(host, { servers: ['1.1.1.1'], search: ['svc'] }), 'search svc\nnameserver 1.1.1.1\noptions edns0\n');
  assert.equal(resolvConf('nameserver 127.0.0.1\n'), '\n');
});

test('hostnames follow RFC 1123', () => {
  for (const ok of ['web', 'web-1', 'a.b.c', 'X1']) assert.ok(validHostname(ok), ok);
  for (const bad of ['', '-a', 'a-', 'a_b', 'x'.repeat(64), 'a b']) assert.ok(!validHostname(bad), bad);
});

test('iptables-save rule lines split into arguments', async () => {
  const { splitRule } = await import('./iptables.js');
  assert.deepEqual(
    splitRule('-A POSTROUTING -s 10.89.0.2/32 -m comment --comment "name: \\"skiff\\" id: \\"ab\\"" -j CNI-d3a4'),
    ['-A', 'POSTROUTING', '-s', '10.89.0.2/32', '-m', 'comment', '--comment', 'name: "skiff" id: "ab"', '-j', 'CNI-d3a4'],
  );
});
