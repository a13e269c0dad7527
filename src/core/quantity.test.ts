import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity, milli, whole, formatMilli } from './quantity.js';

test('quantities parse as Kubernetes reads them', () => {
  const cases: [string, number][] = [
    ['100m', 0.1], ['1', 1], ['0.5', 0.5], ['.5', 0.5], ['1Gi', 2 ** 30], ['1G', 1e9], ['128974848', 128974848],
    ['129e6', 129e6], ['123Mi', 123 * 2 ** 20], ['1k', 1000], ['1Ki', 1024], ['2Ti', 2 * 2 ** 40], ['500u', 5e-4], ['1E', 1e18],
  ];
  for (const [q, v] of cases) assert.ok(Math.abs(parseQuantity(q) - v) <= v * 1e-12, `${q} -> ${parseQuantity(q)}`);
  assert.equal(milli('250m'), 250);
  assert.equal(milli('1.5'), 1500);
  assert.equal(milli('1u'), 1, 'rounded up, as MilliValue');
  assert.equal(whole('1.5Ki'), 1536);
  assert.equal(formatMilli(2000), '2');
  assert.equal(formatMilli(250), '250m');
  for (const bad of ['1.2.3', 'abc', '1 Gi', '1KB']) assert.throws(() => parseQuantity(bad), /quantities must match/, bad);
});
