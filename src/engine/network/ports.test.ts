import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPortMapping, parsePortSpec, parsePortSpecs } from './ports.js';

test('port specs parse as docker and podman spell them', () => {
  const cases: Array<[string, unknown]> = [
    ['8080:80', [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]],
    ['53:5353/udp', [{ hostPort: 53, containerPort: 5353, protocol: 'udp' }]],
    ['127.0.0.1:8080:80/TCP', [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }]],
    [':8080:80', [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]],
    ['9000-9001:80-81', [{ hostPort: 9000, containerPort: 80, protocol: 'tcp' }, { hostPort: 9001, containerPort: 81, protocol: 'tcp' }]],
  ];
  for (const [spec, want] of cases) assert.deepEqual(parsePortSpec(spec), want, spec);
});

test('bad port specs are refused with the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['80', /want HOSTPORT:CTRPORT/],
    [':80', /host port is required/],
    ['0:80', /out of range/],
    ['8080:65536', /out of range/],
    ['8080:80/sctp', /tcp or udp/],
    ['1.2.3:8080:80', /not an IPv4/],
    ['9000-9002:80-81', /differ in length/],
    ['a:80', /not a port/],
  ];
  for (const [spec, re] of cases) assert.throws(() => parsePortSpec(spec), re, spec);
  assert.throws(() => parsePortSpecs(['8080:80', '8080:81']), /published twice/);
  assert.equal(parsePortSpecs(['8080:80', '8080:80/udp']).length, 2);
});

test('mappings format like podman port', () => {
  assert.equal(formatPortMapping({ hostPort: 8080, containerPort: 80, protocol: 'tcp' }), '0.0.0.0:8080->80/tcp');
});
