import { test } from 'node:test';
import assert from 'node:assert/strict';
import { charges, kindsCharging, podConstraintError, scopesMatch, usageOf } from './quota-usage.js';
import { amount, canonical, format, prettyPrint, toList } from './amounts.js';

const POD = { group: '', resource: 'pods' };
const pod = (containers: any[], extra: any = {}) => ({ metadata: { name: 'p' }, spec: { containers, ...extra.spec }, status: extra.status ?? { phase: 'Running' }, ...(extra.meta ? { metadata: { name: 'p', ...extra.meta } } : {}) });
const c = (requests?: any, limits?: any, name = 'app') => ({ name, resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } });
const show = (u: any) => toList(u);

test('what an object charges, by quota resource name', () => {
  const cases: [string, any, any, Record<string, string>][] = [
    ['a pod: count and compute', POD, pod([c({ cpu: '250m', memory: '64Mi' }, { cpu: '1' }), c({ cpu: '250m' }, undefined, 'side')]),
      { 'count/pods': '1', pods: '1', cpu: '500m', 'requests.cpu': '500m', memory: '64Mi', 'requests.memory': '64Mi', 'limits.cpu': '1' }],
    ['init containers: the larger of their max and the sum', POD, pod([c({ cpu: '100m' })], { spec: { initContainers: [c({ cpu: '300m' }, undefined, 'init')] } }),
      { 'count/pods': '1', pods: '1', cpu: '300m', 'requests.cpu': '300m' }],
    ['a finished pod: only count/pods', POD, pod([c({ cpu: '1' })], { status: { phase: 'Succeeded' } }), { 'count/pods': '1' }],
    ['an extended resource', POD, pod([c({ 'nvidia.com/gpu': '1' }, { 'nvidia.com/gpu': '1' })]), { 'count/pods': '1', pods: '1', 'requests.nvidia.com/gpu': '1' }],
    ['a NodePort service', { group: '', resource: 'services' }, { spec: { type: 'NodePort', ports: [{}, {}] } }, { 'count/services': '1', services: '1', 'services.nodeports': '2' }],
    ['a LoadBalancer', { group: '', resource: 'services' }, { spec: { type: 'LoadBalancer', ports: [{}] } }, { 'count/services': '1', services: '1', 'services.nodeports': '1', 'services.loadbalancers': '1' }],
    ['a claim with a class', { group: '', resource: 'persistentvolumeclaims' }, { spec: { storageClassName: 'gold', resources: { requests: { storage: '10Gi' } } } },
      { 'count/persistentvolumeclaims': '1', persistentvolumeclaims: '1', 'requests.storage': '10Gi', 'gold.storageclass.storage.k8s.io/persistentvolumeclaims': '1', 'gold.storageclass.storage.k8s.io/requests.storage': '10Gi' }],
    ['a configmap', { group: '', resource: 'configmaps' }, {}, { 'count/configmaps': '1', configmaps: '1' }],
    ['a deployment', { group: 'apps', resource: 'deployments' }, {}, { 'count/deployments.apps': '1' }],
  ];
  for (const [what, k, obj, want] of cases) assert.deepEqual(show(usageOf(k, obj, Date.now())), want, what);
  const gone = pod([c({ cpu: '1' })], { meta: { deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 30 } });
  assert.equal(usageOf(POD, gone, Date.parse('2026-01-01T00:00:10Z')).pods?.v, 1, 'terminating within its grace period still counts');
  assert.equal(usageOf(POD, gone, Date.parse('2026-01-01T00:01:00Z')).pods, undefined, 'past its grace period it does not');
});

test('which quota names a kind can charge, and which kinds charge a name', () => {
  const cases: [any, string, boolean][] = [
    [POD, 'pods', true], [POD, 'requests.cpu', true], [POD, 'cpu', true], [POD, 'limits.memory', true], [POD, 'count/pods', true],
    [POD, 'requests.storage', false], [POD, 'services', false], [{ group: 'apps', resource: 'deployments' }, 'count/deployments.apps', true],
    [{ group: 'apps', resource: 'deployments' }, 'deployments', false], [{ group: '', resource: 'services' }, 'services.nodeports', true],
  ];
  for (const [k, n, want] of cases) assert.equal(charges(k, n), want, `${k.resource} ${n}`);
  assert.deepEqual(kindsCharging('count/deployments.apps'), [{ group: 'apps', resource: 'deployments' }]);
  assert.deepEqual(kindsCharging('requests.storage'), [{ group: '', resource: 'persistentvolumeclaims' }]);
  assert.deepEqual(kindsCharging('cpu'), [POD]);
});

test('quota scopes select pods', () => {
  const be = pod([c()]), burst = pod([c({ cpu: '1' })]), term = pod([c()], { spec: { activeDeadlineSeconds: 30 } }), high = pod([c()], { spec: { priorityClassName: 'high' } });
  const q = (scopes?: string[], exprs?: any[]) => ({ spec: { scopes, ...(exprs ? { scopeSelector: { matchExpressions: exprs } } : {}) } });
  const cases: [string, any, any, boolean][] = [
    ['no scope', q(), be, true],
    ['BestEffort: a best-effort pod', q(['BestEffort']), be, true],
    ['BestEffort: a burstable pod', q(['BestEffort']), burst, false],
    ['NotBestEffort', q(['NotBestEffort']), burst, true],
    ['Terminating', q(['Terminating']), term, true],
    ['NotTerminating', q(['NotTerminating']), term, false],
    ['PriorityClass In', q(undefined, [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }]), high, true],
    ['PriorityClass In, other class', q(undefined, [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }]), be, false],
    ['PriorityClass DoesNotExist', q(undefined, [{ scopeName: 'PriorityClass', operator: 'DoesNotExist' }]), be, true],
  ];
  for (const [what, quota, p, want] of cases) assert.equal(scopesMatch(quota, POD, p), want, what);
  assert.equal(scopesMatch(q(['BestEffort']), { group: '', resource: 'services' }, {}), false, 'scoped quotas charge pods only');
});

test('pods under a cpu/memory quota must state them', () => {
  const cases: [string, any, string[], string | undefined][] = [
    ['states them', pod([c({ cpu: '1', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })]), ['requests.cpu', 'limits.cpu', 'pods'], undefined],
    ['no request', pod([c()]), ['requests.cpu', 'pods'], 'must specify requests.cpu for: app'],
    ['cpu is requests.cpu', pod([c(undefined, { cpu: '1' })]), ['cpu'], 'must specify cpu for: app'],
    ['several', pod([c({ cpu: '1' }), c(undefined, undefined, 'b')]), ['limits.cpu', 'requests.cpu', 'limits.memory'], 'must specify limits.cpu for: app,b; limits.memory for: app,b; requests.cpu for: b'],
    ['only pods counted', pod([c()]), ['pods', 'count/pods'], undefined],
  ];
  for (const [what, p, required, want] of cases) assert.equal(podConstraintError(p, required), want, what);
});

test('amounts print as Kubernetes prints quantities', () => {
  const cases: [string, string][] = [['2000m', '2'], ['500m', '500m'], ['1024Mi', '1Gi'], ['1536Mi', '1536Mi'], ['1000', '1k'], ['0.5', '500m'], ['1.5Gi', '1536Mi'], ['0', '0'], ['100Ki', '100Ki'], ['1e3', '1k']];
  for (const [q, want] of cases) assert.equal(canonical(q), want, q);
  assert.equal(format({ v: 1.5, bin: false }), '1500m');
  assert.equal(prettyPrint({ pods: amount('2'), 'requests.cpu': amount('1500m') }), 'pods=2,requests.cpu=1500m');
});
