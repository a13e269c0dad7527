/**
 * Pod updates as ValidatePodUpdate allows them: images, activeDeadlineSeconds, tolerations
 * additions, terminationGracePeriodSeconds from negative to 1; everything else refused with
 * the API server's message and the changed fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validatePodUpdate } from './validation-podupdate.js';

const C = { name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], imagePullPolicy: 'IfNotPresent' };
const T = { key: 'k', operator: 'Equal', value: 'v', effect: 'NoExecute', tolerationSeconds: 30 };
const pod = (spec: any = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [C], restartPolicy: 'Always', ...spec } });
const errors = (a: any, b: any) => validatePodUpdate(a, b).map((c) => `${c.field}: ${c.message}`);

test('allowed: images, a lower or new activeDeadlineSeconds, added tolerations, grace -1 to 1, key order', () => {
  assert.deepEqual(errors(pod(), pod({ containers: [{ ...C, image: 'busybox:1.37' }] })), []);
  assert.deepEqual(errors(pod({ initContainers: [{ ...C, name: 'i' }] }), pod({ initContainers: [{ ...C, name: 'i', image: 'other:1' }] })), []);
  assert.deepEqual(errors(pod(), pod({ activeDeadlineSeconds: 30 })), []);
  assert.deepEqual(errors(pod({ activeDeadlineSeconds: 30 }), pod({ activeDeadlineSeconds: 10 })), []);
  assert.deepEqual(errors(pod({ tolerations: [T] }), pod({ tolerations: [T, { ...T, key: 'k2' }] })), []);
  assert.deepEqual(errors(pod({ tolerations: [T] }), pod({ tolerations: [{ ...T, tolerationSeconds: 5 }] })), []);
  assert.deepEqual(errors(pod({ terminationGracePeriodSeconds: -1 }), pod({ terminationGracePeriodSeconds: 1 })), []);
  const reordered = { spec: { restartPolicy: 'Always', containers: [{ imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], image: 'x:2', name: 'c' }] } };
  assert.deepEqual(errors(pod(), reordered), []);
});

test('refused: other fields, with the message and the changed paths', () => {
  const [msg, ...rest] = errors(pod(), pod({ containers: [{ ...C, command: ['sleep', '1'] }] }));
  assert.equal(rest.length, 0);
  assert.ok(msg.startsWith('spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n'), msg);
  assert.match(msg, /spec\.containers\[0\]\.command\[1\]: "3600" -> "1"/);
  assert.match(errors(pod({ terminationGracePeriodSeconds: 30 }), pod({ terminationGracePeriodSeconds: 1 }))[0], /terminationGracePeriodSeconds: 30 -> 1/);
  assert.match(errors(pod(), pod({ restartPolicy: 'Never' }))[0], /^spec: Forbidden: pod updates may not change fields other than/);
  // An image change with another change is still refused (the image is not what it names).
  const both = errors(pod(), pod({ containers: [{ ...C, image: 'x:2', workingDir: '/tmp' }] }));
  assert.equal(both.length, 1);
  assert.match(both[0], /workingDir: null -> "\/tmp"/);
  assert.doesNotMatch(both[0], /\.image:/);
});

test('refused: container count, empty or padded images, activeDeadlineSeconds rules, changed tolerations', () => {
  assert.deepEqual(errors(pod(), pod({ containers: [C, { ...C, name: 'd' }] })), ['spec.containers: Forbidden: pod updates may not add or remove containers']);
  assert.deepEqual(errors(pod(), pod({ initContainers: [C] })), ['spec.initContainers: Forbidden: pod updates may not add or remove containers']);
  assert.deepEqual(errors(pod(), pod({ containers: [{ ...C, image: '' }] })), ['spec.containers[0].image: Required value']);
  assert.deepEqual(errors(pod(), pod({ containers: [{ ...C, image: ' busybox' }] })), ['spec.containers[0].image: Invalid value: " busybox": must not have leading or trailing whitespace']);
  assert.deepEqual(errors(pod({ activeDeadlineSeconds: 10 }), pod({ activeDeadlineSeconds: 20 })), ['spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value']);
  assert.deepEqual(errors(pod({ activeDeadlineSeconds: 10 }), pod()), ['spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value']);
  assert.deepEqual(errors(pod(), pod({ activeDeadlineSeconds: 3_000_000_000 })), ['spec.activeDeadlineSeconds: Invalid value: 3000000000: must be between 0 and 2147483647, inclusive']);
  assert.deepEqual(errors(pod({ tolerations: [T] }), pod({ tolerations: [{ ...T, value: 'w' }] })), ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds']);
  assert.deepEqual(errors(pod({ tolerations: [T] }), pod({ tolerations: [] })), ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds']);
});
