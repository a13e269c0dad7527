/** The default conflist's identity per data root (no plugins run). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfList, defaultNetworkName } from './config.js';

test('the default network is named per data root, so roots never claim each other\'s rules', () => {
  assert.equal(defaultNetworkName('/var/lib/skiff'), 'skiff');
  assert.equal(defaultNetworkName('/var/lib/skiff/'), 'skiff');
  const a = defaultNetworkName('/tmp/root-a');
  const b = defaultNetworkName('/tmp/root-b');
  assert.match(a, /^skiff-[0-9a-f]{8}$/);
  assert.notEqual(a, b);
  // The same root always gets the same name, relative or absolute.
  assert.equal(defaultNetworkName('/tmp/x/../root-a'), a);
  assert.equal(defaultConfList('/tmp/root-a').name, a);
  assert.equal(defaultConfList('/tmp/root-a', { name: 'mine' }).name, 'mine');
});
