import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, formatReference, familiarName, isLoopbackHost } from './reference.js';

const D = 'sha256:' + 'a'.repeat(64);

test('references normalise like Docker', () => {
  const cases: Array<[string, string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox'],
    ['user/app', 'docker.io/user/app:latest', 'user/app'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox'],
    ['127.0.0.1:5000/app:v1', '127.0.0.1:5000/app:v1', '127.0.0.1:5000/app'],
    ['localhost/a/b/c', 'localhost/a/b/c:latest', 'localhost/a/b/c'],
    ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, 'busybox'],
    [`quay.io/a/b:t@${D}`, `quay.io/a/b:t@${D}`, 'quay.io/a/b'],
    ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app'],
    ['a__b/c-d.e_f', 'docker.io/a__b/c-d.e_f:latest', 'a__b/c-d.e_f'],
    ['Example.com/app', 'Example.com/app:latest', 'Example.com/app'],
  ];
  for (const [input, canonical, familiar] of cases) {
    const ref = parseReference(input);
    assert.equal(formatReference(ref), canonical, input);
    assert.equal(familiarName(ref), familiar, input);
  }
});

test('invalid references are refused with a one-line reason', () => {
  for (const input of ['', 'UPPER', 'a:b:c', 'busybox:', ':tag', 'a//b', '-a', 'a@sha256:abc',
    `a@sha256:${'A'.repeat(64)}`, 'a:' + 't'.repeat(129), 'bad host:5000/a', 'x/' + 'a'.repeat(300),
    'a/-b', 'a__-b']) {
    assert.throws(() => parseReference(input), (err: Error) => {
      assert.match(err.message, /^invalid reference format/);
      assert.ok(!err.message.includes('\n'));
      return true;
    }, input);
  }
});

test('no default tag when asked', () => {
  assert.equal(parseReference('busybox', { defaultTag: false }).tag, undefined);
});

test('loopback hosts', () => {
  assert.ok(isLoopbackHost('127.0.0.1:5000'));
  assert.ok(isLoopbackHost('localhost'));
  assert.ok(isLoopbackHost('[::1]:5000'));
  assert.ok(!isLoopbackHost('example.com:5000'));
});
