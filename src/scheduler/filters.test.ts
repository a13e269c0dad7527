import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../client/client.js';
import type { Plugin } from './framework.js';
import { nodeAffinity, nodeName } from './plugins/nodeaffinity.js';
import { taintToleration } from './plugins/taints.js';
import { resourcesFit } from './plugins/resources.js';
import { podTopologySpread } from './plugins/spread.js';
import { interPodAffinity } from './plugins/interpod.js';
import { hostPorts, nodePorts } from './plugins/nodeports.js';
import { mkNode, mkPod, mkSnapshot, feasibleNodes, filterAll } from './testing.js';

type Case = [what: string, pod: KObject, want: string[]];

function table(plugin: Plugin, nodes: KObject[], cases: Case[], placed: [string, KObject][] = []): void {
  for (const [what, p, want] of cases) assert.deepEqual(feasibleNodes(plugin, p, mkSnapshot(nodes, placed)), want, what);
}

const required = (...exprs: any[]) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: exprs }] } } } });

test('NodeName: only the named node', () => {
  const nodes = [mkNode('a'), mkNode('b')];
  table(nodeName, nodes, [['no nodeName', mkPod('p'), ['a', 'b']], ['named b', mkPod('p', { nodeName: 'b' }), ['b']]]);
  const s = filterAll(nodeName, mkPod('p', { nodeName: 'b' }), mkSnapshot(nodes)).get('a')!;
  assert.deepEqual(s, { code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match the requested node name"] });
});

test('NodeAffinity: operators, terms, fields and nodeSelector together', () => {
  const nodes = [mkNode('a', { labels: { zone: 'z1', gen: '3' } }), mkNode('b', { labels: { zone: 'z2', gen: '10' } }), mkNode('c', { labels: { gen: 'x' } })];
  table(nodeAffinity, nodes, [
    ['Gt compares integers', mkPod('p', required({ key: 'gen', operator: 'Gt', values: ['5'] })), ['b']],
    ['Lt compares integers (a non-integer never matches)', mkPod('p', required({ key: 'gen', operator: 'Lt', values: ['5'] })), ['a']],
    ['DoesNotExist', mkPod('p', required({ key: 'zone', operator: 'DoesNotExist' })), ['c']],
    ['In', mkPod('p', required({ key: 'zone', operator: 'In', values: ['z2', 'z9'] })), ['b']],
    ['expressions of a term are ANDed', mkPod('p', required({ key: 'zone', operator: 'Exists' }, { key: 'gen', operator: 'Gt', values: ['5'] })), ['b']],
    ['nodeSelector and affinity are ANDed', mkPod('p', { nodeSelector: { zone: 'z1' }, ...required({ key: 'gen', operator: 'Gt', values: ['5'] }) }), []],
    ['an empty term matches nothing', mkPod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } } } }), []],
    ['matchFields on metadata.name', mkPod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['a'] }] }] } } } }), ['b', 'c']],
    ['preferred terms never filter', mkPod('p', { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] } }] } } }), ['a', 'b', 'c']],
  ]);
  assert.deepEqual(filterAll(nodeAffinity, mkPod('p', { nodeSelector: { zone: 'z1' } }), mkSnapshot(nodes)).get('b'),
    { code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match Pod's node affinity/selector"] });
});

test('TaintToleration: NoSchedule and NoExecute filter, PreferNoSchedule does not', () => {
  const nodes = [
    mkNode('plain'),
    mkNode('noexec', { taints: [{ key: 'k', value: 'v', effect: 'NoExecute' }] }),
    mkNode('prefer', { taints: [{ key: 'k', value: 'v', effect: 'PreferNoSchedule' }] }),
    mkNode('two', { taints: [{ key: 'a', effect: 'NoSchedule' }, { key: 'b', value: '1', effect: 'NoSchedule' }] }),
  ];
  table(taintToleration, nodes, [
    ['no tolerations', mkPod('p'), ['plain', 'prefer']],
    ['NoExecute tolerated with tolerationSeconds', mkPod('p', { tolerations: [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoExecute', tolerationSeconds: 30 }] }), ['plain', 'noexec', 'prefer']],
    ['a NoSchedule toleration does not cover NoExecute', mkPod('p', { tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }] }), ['plain', 'prefer']],
    ['only one of two taints tolerated', mkPod('p', { tolerations: [{ key: 'a', operator: 'Exists' }] }), ['plain', 'prefer']],
    ['both taints tolerated', mkPod('p', { tolerations: [{ key: 'a', operator: 'Exists' }, { key: 'b', value: '1' }] }), ['plain', 'prefer', 'two']],
    ['an empty key with Exists tolerates everything', mkPod('p', { tolerations: [{ operator: 'Exists' }] }), ['plain', 'noexec', 'prefer', 'two']],
  ]);
  const s = filterAll(taintToleration, mkPod('p'), mkSnapshot(nodes));
  assert.deepEqual(s.get('noexec'), { code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {k: v}'] });
  assert.deepEqual(s.get('two')?.reasons, ['node(s) had untolerated taint {a: }'], 'the first untolerated taint is named');
});

test('NodeResourcesFit: requests against allocatable, every insufficient resource named', () => {
  const node = mkNode('a', { cpu: '2', memory: '4Gi', pods: '3', storage: '10Gi' });
  const reasons = (p: KObject, placed: KObject[] = []) => filterAll(resourcesFit, p, mkSnapshot([node], placed.map((x) => ['a', x] as [string, KObject]))).get('a')!.reasons;
  const cases: [string, KObject, KObject[], string[]][] = [
    ['fits', mkPod('p', {}, {}, { req: { cpu: '1', memory: '1Gi' } }), [], []],
    ['exactly the allocatable fits', mkPod('p', {}, {}, { req: { cpu: '2', memory: '4Gi' } }), [], []],
    ['cpu and memory both short', mkPod('p', {}, {}, { req: { cpu: '3', memory: '5Gi' } }), [], ['Insufficient cpu', 'Insufficient memory']],
    ['ephemeral storage', mkPod('p', {}, {}, { req: { 'ephemeral-storage': '11Gi' } }), [], ['Insufficient ephemeral-storage']],
    ['pod count', mkPod('p'), [mkPod('x1'), mkPod('x2'), mkPod('x3')], ['Too many pods']],
    ['placed pods take their requests', mkPod('p', {}, {}, { req: { cpu: '600m' } }), [mkPod('x', {}, {}, { req: { cpu: '1500m' } })], ['Insufficient cpu']],
    ['what is left is enough', mkPod('p', {}, {}, { req: { cpu: '500m' } }), [mkPod('x', {}, {}, { req: { cpu: '1500m' } })], []],
    ['a pod without requests only needs a pod slot', mkPod('p'), [mkPod('x', {}, {}, { req: { cpu: '2', memory: '4Gi' } })], []],
    ['the largest init container counts when larger than the containers',
      mkPod('p', { initContainers: [{ name: 'i', image: 'x', resources: { requests: { cpu: '2500m' } } }] }, {}, { req: { cpu: '500m' } }), [], ['Insufficient cpu']],
    ['pod overhead is added', mkPod('p', { overhead: { cpu: '200m' } }, {}, { req: { cpu: '1900m' } }), [], ['Insufficient cpu']],
    ['memory in decimal and exponent forms', mkPod('p', {}, {}, { req: { memory: '4295e6' } }), [], ['Insufficient memory']],
  ];
  for (const [what, p, placed, want] of cases) assert.deepEqual(reasons(p, placed), want, what);
  assert.equal(filterAll(resourcesFit, mkPod('p', {}, {}, { req: { cpu: '3' } }), mkSnapshot([node])).get('a')!.code, 'Unschedulable', 'preemption may help');
  // A node that has not reported allocatable pods yet takes none.
  const bare = { metadata: { name: 'bare', labels: {} }, spec: {}, status: {} };
  assert.deepEqual(filterAll(resourcesFit, mkPod('p'), mkSnapshot([bare])).get('bare')!.reasons, ['Too many pods']);
});

test('PodTopologySpread: minDomains, matchLabelKeys, nodeAffinityPolicy, ScheduleAnyway, missing labels', () => {
  const zoned = [mkNode('a', { labels: { zone: 'z1' } }), mkNode('b', { labels: { zone: 'z2' } })];
  const w = (n: string, extra: Record<string, string> = {}) => mkPod(n, {}, { app: 'w', ...extra });
  const c = (o: any = {}) => ({ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'w' } }, ...o });
  const spread = (o: any = {}, labels: Record<string, string> = { app: 'w' }, spec: any = {}) => mkPod('p', { topologySpreadConstraints: [c(o)], ...spec }, labels);
  table(podTopologySpread, zoned, [
    ['one each: either zone keeps skew 1', spread(), ['a', 'b']],
    ['minDomains above the domains there are: the global minimum is 0', spread({ minDomains: 3 }), []],
    ['ScheduleAnyway never filters', spread({ whenUnsatisfiable: 'ScheduleAnyway', minDomains: 3 }), ['a', 'b']],
  ], [['a', w('x1')], ['b', w('x2')]]);
  table(podTopologySpread, zoned, [
    ['old revision pods count without matchLabelKeys', spread({}, { app: 'w', rev: '2' }), ['b']],
    ['matchLabelKeys narrows to the pod\'s own revision', spread({ matchLabelKeys: ['rev'] }, { app: 'w', rev: '2' }), ['a', 'b']],
  ], [['a', w('x1', { rev: '1' })], ['a', w('x2', { rev: '1' })]]);
  const three = [...zoned, mkNode('c', { labels: { zone: 'z3' } })];
  const onlyZ12 = required({ key: 'zone', operator: 'In', values: ['z1', 'z2'] });
  table(podTopologySpread, three, [
    ['Honor: z3 is outside the pod\'s node affinity, so its 0 is not the minimum', spread({}, { app: 'w' }, onlyZ12), ['a', 'b', 'c']],
    ['Ignore: z3 counts, so only it keeps the skew', spread({ nodeAffinityPolicy: 'Ignore' }, { app: 'w' }, onlyZ12), ['c']],
  ], [['a', w('x1')], ['b', w('x2')]]);
  const s = filterAll(podTopologySpread, spread(), mkSnapshot([...zoned, mkNode('nolabel')]));
  assert.deepEqual(s.get('nolabel'), { code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match pod topology spread constraints (missing required label)"] });
});

test('InterPodAffinity: all terms must match one pod, namespaces, self-affinity', () => {
  const nodes = [mkNode('a', { labels: { zone: 'z1' } }), mkNode('b', { labels: { zone: 'z1' } }), mkNode('c', { labels: { zone: 'z2' } })];
  const term = (labels: Record<string, string>, key = 'zone', extra: any = {}) => ({ labelSelector: { matchLabels: labels }, topologyKey: key, ...extra });
  const aff = (...terms: any[]) => ({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } } });
  const anti = (...terms: any[]) => ({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } } });
  const placed: [string, KObject][] = [['a', mkPod('web', {}, { app: 'web' })], ['c', mkPod('db', {}, { tier: 'db' })], ['c', mkPod('far', {}, { app: 'web' }, { ns: 'other' })]];
  table(interPodAffinity, nodes, [
    ['two terms no single pod matches', mkPod('p', aff(term({ app: 'web' }), term({ tier: 'db' }))), []],
    ['the same terms, but the pod matches them itself: the first of its group goes anywhere', mkPod('p', aff(term({ app: 'web' }), term({ tier: 'db' })), { app: 'web', tier: 'db' }), ['a', 'b', 'c']],
    ['terms look in the pod\'s namespace by default', mkPod('p', aff(term({ app: 'web' }))), ['a', 'b']],
    ['namespaces names others', mkPod('p', aff(term({ app: 'web' }, 'zone', { namespaces: ['other'] }))), ['c']],
    ['an empty namespaceSelector means every namespace', mkPod('p', anti(term({ app: 'web' }, 'zone', { namespaceSelector: {} }))), []],
    ['anti-affinity in the pod\'s namespace only', mkPod('p', anti(term({ app: 'web' }))), ['c']],
    ['a term without labelSelector selects nothing', mkPod('p', anti({ topologyKey: 'zone' })), ['a', 'b', 'c']],
  ], placed);
  const s = filterAll(interPodAffinity, mkPod('p', aff(term({ app: 'nothing' }))), mkSnapshot(nodes, placed));
  assert.deepEqual(s.get('a'), { code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match pod affinity rules"] });
  const t = filterAll(interPodAffinity, mkPod('p', anti(term({ app: 'web' }))), mkSnapshot(nodes, placed));
  assert.deepEqual(t.get('a'), { code: 'Unschedulable', reasons: ["node(s) didn't match pod anti-affinity rules"] });
  // Symmetry: an existing pod's anti-affinity bars the incoming pod from its domain.
  const guard: [string, KObject] = ['b', mkPod('guard', anti(term({ app: 'q' }, 'kubernetes.io/hostname')), { role: 'guard' })];
  const u = filterAll(interPodAffinity, mkPod('q', {}, { app: 'q' }), mkSnapshot(nodes, [guard]));
  assert.deepEqual([...u].filter(([, x]) => x.code === 'Success').map(([n]) => n), ['a', 'c']);
  assert.deepEqual(u.get('b')?.reasons, ["node(s) didn't satisfy existing pods anti-affinity rules"]);
});

test('NodePorts: a host port taken on the node by the same protocol and an overlapping IP does not fit', () => {
  const ports = (...ps: any[]) => ({ containers: [{ name: 'c', image: 'x', ports: ps }] });
  const nodes = [mkNode('a'), mkNode('b'), mkNode('c')];
  const placed: [string, KObject][] = [
    ['a', mkPod('web', ports({ containerPort: 80, hostPort: 8080 }))],
    ['b', mkPod('dns', ports({ containerPort: 53, hostPort: 53, protocol: 'UDP', hostIP: '10.0.0.1' }))],
    ['c', mkPod('side', { initContainers: [{ name: 's', image: 'x', restartPolicy: 'Always', ports: [{ containerPort: 9, hostPort: 9000 }] }] })],
  ];
  table(nodePorts, nodes, [
    ['no host ports: every node', mkPod('p', ports({ containerPort: 8080 })), ['a', 'b', 'c']],
    ['8080/TCP is taken on a', mkPod('p', ports({ containerPort: 80, hostPort: 8080 })), ['b', 'c']],
    ['8080/UDP is another port', mkPod('p', ports({ containerPort: 80, hostPort: 8080, protocol: 'UDP' })), ['a', 'b', 'c']],
    ['53/UDP on 0.0.0.0 overlaps 10.0.0.1', mkPod('p', ports({ containerPort: 53, hostPort: 53, protocol: 'UDP' })), ['a', 'c']],
    ['53/UDP on another IP fits', mkPod('p', ports({ containerPort: 53, hostPort: 53, protocol: 'UDP', hostIP: '10.0.0.2' })), ['a', 'b', 'c']],
    ['a sidecar\'s host port counts', mkPod('p', ports({ containerPort: 1, hostPort: 9000 })), ['a', 'b']],
  ], placed);
  assert.deepEqual(filterAll(nodePorts, mkPod('p', ports({ containerPort: 80, hostPort: 8080 })), mkSnapshot(nodes, placed)).get('a'),
    { code: 'Unschedulable', reasons: ["node(s) didn't have free ports for the requested pod ports"] });
  assert.deepEqual(hostPorts(mkPod('p', ports({ containerPort: 80 }, { containerPort: 81, hostPort: 81 }))), [{ ip: '0.0.0.0', protocol: 'TCP', port: 81 }]);
});
