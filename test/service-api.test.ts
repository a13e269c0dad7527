/**
 * Services through the API with the real kubectl (1.27 and 1.33), simulated nodes: defaults
 * and node port allocation as kube-apiserver (externalTrafficPolicy, health check node port
 * for Local LoadBalancers, allocateLoadBalancerNodePorts, carried over and dropped on type
 * changes), validation messages; ServiceLB writes the Ready nodes' addresses into
 * status.loadBalancer.ingress, keeps a port for the older of two LoadBalancers (the other
 * pending with a warning event) and hands it over when the holder goes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, until, type TestCluster } from './helpers/cluster.js';
import { R } from '../src/client/resources.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster({ disable: ['scheduler'] });
  await cluster.sim.addNode({ name: 'lb-a' });
  await cluster.sim.addNode({ name: 'lb-b' });
});

after(async () => { await cluster?.stop(); });

const yaml = (name: string, spec: any) => JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec } });
const get = (name: string) => cluster.cp.client.get<any>(R.services, 'default', name);

for (const v of ['1.27', '1.33']) {
  test(`kubectl ${v}: Service defaults, node ports and traffic policies as kube-apiserver allocates them`, async () => {
    const k = (args: string[], input?: string) => cluster.kubectl(v, args, input);
    const n = v.replace('.', '');
    let r = await k(['apply', '-f', '-'], yaml(`np${n}`, { type: 'NodePort' }));
    assert.equal(r.code, 0, r.stderr);
    let s = await get(`np${n}`);
    assert.equal(s.spec.externalTrafficPolicy, 'Cluster');
    assert.equal(s.spec.internalTrafficPolicy, 'Cluster');
    assert.ok(s.spec.ports[0].nodePort >= 30000 && s.spec.ports[0].nodePort <= 32767);
    assert.equal(s.spec.healthCheckNodePort, undefined);
    const nodePort = s.spec.ports[0].nodePort;
    // Back to ClusterIP: the node port and the external policy go (the client did not set them).
    r = await k(['patch', 'service', `np${n}`, '-p', '{"spec":{"type":"ClusterIP"}}']);
    assert.equal(r.code, 0, r.stderr);
    s = await get(`np${n}`);
    assert.deepEqual([s.spec.type, s.spec.ports[0].nodePort, s.spec.externalTrafficPolicy], ['ClusterIP', undefined, undefined]);
    r = await k(['patch', 'service', `np${n}`, '-p', '{"spec":{"type":"NodePort"}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await get(`np${n}`)).spec.ports[0].nodePort, 'a node port is allocated on the way back');

    r = await k(['apply', '-f', '-'], yaml(`local${n}`, { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    assert.equal(r.code, 0, r.stderr);
    s = await get(`local${n}`);
    assert.ok(s.spec.healthCheckNodePort >= 30000 && s.spec.healthCheckNodePort <= 32767, 'health check node port');
    assert.notEqual(s.spec.healthCheckNodePort, s.spec.ports[0].nodePort);
    assert.equal(s.spec.allocateLoadBalancerNodePorts, true);
    const hc = s.spec.healthCheckNodePort;
    // Re-applying the same manifest keeps what was allocated.
    r = await k(['apply', '-f', '-'], yaml(`local${n}`, { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await get(`local${n}`)).spec.healthCheckNodePort, hc);
    r = await k(['patch', 'service', `local${n}`, '-p', '{"spec":{"externalTrafficPolicy":"Cluster"}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await get(`local${n}`)).spec.healthCheckNodePort, undefined, 'no health check under Cluster policy');

    r = await k(['apply', '-f', '-'], yaml(`noports${n}`, { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 81 }] }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await get(`noports${n}`)).spec.ports[0].nodePort, undefined);

    r = await k(['apply', '-f', '-'], yaml(`taken${n}`, { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort }] }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`spec.ports\\[0\\].nodePort: Invalid value: ${nodePort}: provided port is already allocated`));
    r = await k(['apply', '-f', '-'], yaml(`bad${n}`, { externalTrafficPolicy: 'Local' }));
    assert.match(r.stderr, /spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services/);
    r = await k(['apply', '-f', '-'], yaml(`bad${n}`, { type: 'NodePort', internalTrafficPolicy: 'Nearby' }));
    assert.match(r.stderr, /spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"/);
    r = await k(['apply', '-f', '-'], yaml(`bad${n}`, { type: 'NodePort', healthCheckNodePort: 31111 }));
    assert.match(r.stderr, /spec.healthCheckNodePort: Invalid value: 31111: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'/);
    for (const name of [`np${n}`, `local${n}`, `noports${n}`]) await k(['delete', 'service', name]);
  });
}

test('ServiceLB: ingress lists the Ready nodes; a port held by an older LoadBalancer keeps the newer one pending until it is free', async () => {
  const k = (args: string[], input?: string) => cluster.kubectl('1.33', args, input);
  const ips = (await cluster.cp.client.list<any>(R.nodes)).items.map((n: any) => n.status.addresses.find((a: any) => a.type === 'InternalIP').address).sort();
  let r = await k(['apply', '-f', '-'], yaml('first', { type: 'LoadBalancer', ports: [{ name: 'http', port: 8088 }] }));
  assert.equal(r.code, 0, r.stderr);
  const ingress = await until('first gets ingress', async () => ((await get('first')).status?.loadBalancer?.ingress?.length === 2) && (await get('first')).status.loadBalancer.ingress);
  assert.deepEqual(ingress, ips.map((ip: string) => ({ ip, ipMode: 'VIP' })));
  r = await k(['get', 'service', 'first', '-o', 'wide']);
  assert.match(r.stdout, new RegExp(`first\\s+LoadBalancer\\s+10\\.96\\.\\S+\\s+${ips.join(',').replace(/\./g, '\\.')}\\s+8088:3\\d{4}/TCP`));
  r = await k(['apply', '-f', '-'], yaml('second', { type: 'LoadBalancer', ports: [{ name: 'http', port: 8088 }] }));
  assert.equal(r.code, 0, r.stderr);
  const event = await until('a warning about the port', async () => {
    const out = await k(['get', 'events', '--field-selector', 'involvedObject.name=second', '-o', 'json']);
    return JSON.parse(out.stdout).items.find((e: any) => e.reason === 'UnAvailableLoadBalancer');
  });
  assert.equal(event.type, 'Warning');
  assert.equal(event.message, 'There are no available nodes for LoadBalancer: port 8088/TCP is used by LoadBalancer default/first');
  r = await k(['get', 'service', 'second']);
  assert.match(r.stdout, /second\s+LoadBalancer\s+\S+\s+<pending>\s+8088:/, 'kubectl shows it pending');
  assert.ok((await k(['get', 'events', '--field-selector', 'involvedObject.name=first'])).stdout.includes('UpdatedLoadBalancer'));
  // The holder goes: the port is the other's now.
  r = await k(['delete', 'service', 'first']);
  assert.equal(r.code, 0, r.stderr);
  await until('second takes the port', async () => (await get('second')).status?.loadBalancer?.ingress?.length === 2);
  // A node that goes leaves the ingress.
  await cluster.sim.removeNode('lb-b');
  await until('only the remaining node', async () => (await get('second')).status?.loadBalancer?.ingress?.length === 1);
  // No longer a LoadBalancer: the ingress is cleared.
  r = await k(['patch', 'service', 'second', '-p', '{"spec":{"type":"ClusterIP"}}']);
  assert.equal(r.code, 0, r.stderr);
  await until('ingress cleared', async () => !(await get('second')).status?.loadBalancer?.ingress);
});
