/**
 * RFC 7386 and RFC 6902 examples for the fallback merge and JSON patches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPatch, mergePatch } from './patch-basic.js';

test('merge patch: RFC 7386 appendix A', () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }], [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }], [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }], [{ a: ['b'] }, { a: 'c' }, { a: 'c' }], [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }], [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']], [{ a: 'b' }, ['c'], ['c']], [{ a: 'foo' }, null, null], [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }], [[1, 2], { a: 'b', c: null }, { a: 'b' }], [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [doc, patch, want] of cases) assert.deepEqual(mergePatch(doc, patch), want, JSON.stringify([doc, patch]));
});

test('JSON patch: RFC 6902 operations, escaping, atomic failure', () => {
  const doc = { foo: ['bar', 'baz'], 'a/b': 1, 'm~n': 2, q: { x: 1 } };
  assert.deepEqual(jsonPatch(doc, [{ op: 'add', path: '/foo/1', value: 'qux' }]), { ...doc, foo: ['bar', 'qux', 'baz'] });
  assert.deepEqual(jsonPatch(doc, [{ op: 'add', path: '/foo/-', value: 'end' }]), { ...doc, foo: ['bar', 'baz', 'end'] });
  assert.deepEqual(jsonPatch(doc, [{ op: 'remove', path: '/a~1b' }, { op: 'replace', path: '/m~0n', value: 3 }]), { foo: ['bar', 'baz'], 'm~n': 3, q: { x: 1 } });
  assert.deepEqual(jsonPatch(doc, [{ op: 'move', from: '/q/x', path: '/y' }, { op: 'copy', from: '/foo/0', path: '/z' }]), { foo: ['bar', 'baz'], 'a/b': 1, 'm~n': 2, q: {}, y: 1, z: 'bar' });
  assert.deepEqual(jsonPatch(doc, [{ op: 'test', path: '/q', value: { x: 1 } }]), doc);
  assert.throws(() => jsonPatch(doc, [{ op: 'test', path: '/q/x', value: 2 }]), /test failed/);
  assert.throws(() => jsonPatch(doc, [{ op: 'replace', path: '/nope', value: 1 }]), /missing path/);
  assert.throws(() => jsonPatch(doc, [{ op: 'add', path: '/foo/9', value: 1 }]), /invalid array index/);
  assert.throws(() => jsonPatch(doc, [{ op: 'frob', path: '/a' }]), /Unexpected kind/);
  const before = JSON.stringify(doc);
  assert.throws(() => jsonPatch(doc, [{ op: 'add', path: '/x', value: 1 }, { op: 'remove', path: '/missing' }]));
  assert.equal(JSON.stringify(doc), before, 'the input is never modified');
});
