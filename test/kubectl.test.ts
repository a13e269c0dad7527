/**
 * The real kubectl binaries (1.27 and 1.33) against a Skiff API server started by this file:
 * apply (multi-document, re-apply with strategic merge, server-side with conflicts), get in
 * every output, watch, describe with events, edit, label, annotate, patch of each type, scale,
 * delete, wait, api-resources, explain, create deployment/configmap/secret (protobuf bodies
 * from 1.33), kustomize, and a CRD with a custom resource.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startTestServer, kubectlBin, type TestServer } from './helpers/apiserver.js';

const VERSIONS = ['1.27', '1.33'];
let s: TestServer;

before(async () => { s = await startTestServer(); });
after(async () => { await s?.stop(); });

const deployment = (ns: string, ports: string, extra = '') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        ports:
${ports}${extra}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ${ns}
spec:
  selector: {app: web}
  ports:
  - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: ${ns}
data:
  a: "1"
`;

for (const v of VERSIONS) {
  describe(`kubectl ${v}`, () => {
    const ns = `v${v.replace('.', '')}`;
    const k = async (args: string[], opts?: Parameters<TestServer['kubectl']>[2]) => {
      const r = await s.kubectl(v, args, opts);
      return r;
    };
    const ok = async (args: string[], opts?: Parameters<TestServer['kubectl']>[2]) => {
      const r = await k(args, opts);
      assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const json = async (args: string[]) => JSON.parse(await ok([...args, '-o', 'json']));
    let dir: string;

    before(async () => {
      dir = await fs.mkdtemp(path.join(s.root, `files-${ns}-`));
      await ok(['create', 'namespace', ns]);
    });

    test('apply -f of a kind: List holding an object whose schema preserves unknown fields (OpenAPI v2 validation)', async () => {
      const f = path.join(dir, 'list.yaml');
      await fs.writeFile(f, `apiVersion: v1
kind: List
items:
- apiVersion: autoscaling/v2
  kind: HorizontalPodAutoscaler
  metadata: {name: listed, namespace: ${ns}}
  spec:
    scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
    maxReplicas: 3
`);
      assert.match(await ok(['apply', '-f', f]), /horizontalpodautoscaler.autoscaling\/listed created/);
      assert.equal((await json(['get', 'hpa', 'listed', '-n', ns])).spec.maxReplicas, 3);
    });

    test('apply -f of a multi-document manifest with default (strict) validation', async () => {
      const f = path.join(dir, 'app.yaml');
      await fs.writeFile(f, deployment(ns, '        - containerPort: 80\n        - containerPort: 8080\n'));
      const out = await ok(['apply', '-f', f]);
      assert.match(out, /deployment.apps\/web created/);
      assert.match(out, /service\/web created/);
      assert.match(out, /configmap\/cfg created/);
      const d = await json(['-n', ns, 'get', 'deployment', 'web']);
      assert.deepEqual(d.spec.template.spec.containers[0].ports.map((p: any) => p.containerPort), [80, 8080]);
      assert.equal(d.metadata.generation, 1);
      const svc = await json(['-n', ns, 'get', 'svc', 'web']);
      assert.match(svc.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    });

    test('re-apply after edits: a removed port is gone, containers merge by name', async () => {
      const f = path.join(dir, 'app.yaml');
      await fs.writeFile(f, deployment(ns, '        - containerPort: 80\n', '      - name: side\n        image: busybox:1.37\n'));
      const out = await ok(['apply', '-f', f]);
      assert.match(out, /deployment.apps\/web configured/);
      assert.match(out, /configmap\/cfg unchanged/);
      const d = await json(['-n', ns, 'get', 'deployment', 'web']);
      const cs = d.spec.template.spec.containers;
      assert.deepEqual(cs.map((c: any) => c.name), ['web', 'side']);
      assert.deepEqual(cs[0].ports.map((p: any) => p.containerPort), [80]);
      assert.equal(cs[0].terminationMessagePath, '/dev/termination-log', 'server-defaulted fields survive the merge');
      assert.equal(d.metadata.generation, 2);
    });

    test('apply --server-side: a conflict, then --force-conflicts', async () => {
      const f = path.join(dir, 'ssa.yaml');
      await fs.writeFile(f, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: ${ns}\ndata:\n  key: alice\n`);
      await ok(['apply', '--server-side', '--field-manager=alice', '-f', f]);
      await fs.writeFile(f, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: ${ns}\ndata:\n  key: bob\n`);
      const r = await k(['apply', '--server-side', '--field-manager=bob', '-f', f]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /conflict/i);
      assert.match(r.stderr, /alice/);
      assert.equal((await json(['-n', ns, 'get', 'cm', 'ssa'])).data.key, 'alice');
      await ok(['apply', '--server-side', '--field-manager=bob', '--force-conflicts', '-f', f]);
      const cm = await json(['-n', ns, 'get', 'cm', 'ssa', '--show-managed-fields']);
      assert.equal(cm.data.key, 'bob');
      assert.ok(cm.metadata.managedFields.some((m: any) => m.manager === 'bob' && m.operation === 'Apply'));
    });

    test('get -o yaml|json|wide|name and the default table', async () => {
      assert.match(await ok(['-n', ns, 'get', 'deploy', 'web', '-o', 'yaml']), /^apiVersion: apps\/v1\nkind: Deployment\n/m);
      assert.equal(JSON.parse(await ok(['-n', ns, 'get', 'cm', 'cfg', '-o', 'json'])).data.a, '1');
      assert.match(await ok(['-n', ns, 'get', 'deploy', '-o', 'wide']), /NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR\nweb\s+0\/2\s+0\s+0\s+\S+\s+web\S*\s+busybox:1.36\S*\s+app=web/);
      assert.match(await ok(['-n', ns, 'get', 'svc']), /NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nweb\s+ClusterIP\s+10\.96\.\S+\s+<none>\s+80\/TCP/);
      const names = (await ok(['-n', ns, 'get', 'deploy,svc,cm', '-o', 'name'])).trim().split('\n');
      assert.ok(names.includes('deployment.apps/web') && names.includes('service/web') && names.includes('configmap/cfg'), names.join(' '));
    });

    test('get -w prints changes as they happen', async () => {
      const child = spawn(kubectlBin(v), ['-n', ns, 'get', 'configmaps', '-w'], {
        env: { PATH: process.env.PATH, HOME: path.join(s.root, `home-${v}`), KUBECONFIG: s.kubeconfig },
      });
      let out = '';
      const seen = (re: RegExp) => new Promise<void>((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`watch output never matched ${re}: ${out}`)), 20_000);
        const check = () => { if (re.test(out)) { clearTimeout(t); ok(); } };
        child.stdout.on('data', (d) => { out += d; check(); });
        check();
      });
      try {
        await seen(/cfg\s+1/);
        await ok(['-n', ns, 'create', 'configmap', 'watched', '--from-literal=x=1']);
        await seen(/watched\s+1/);
      } finally {
        child.kill();
      }
    });

    test('describe shows the object and its events', async () => {
      const f = path.join(dir, 'event.yaml');
      const d = await json(['-n', ns, 'get', 'deploy', 'web']);
      await fs.writeFile(f, `apiVersion: v1\nkind: Event\nmetadata:\n  name: web.1\n  namespace: ${ns}\ninvolvedObject:\n  apiVersion: apps/v1\n  kind: Deployment\n  name: web\n  namespace: ${ns}\n  uid: ${d.metadata.uid}\nreason: ScalingReplicaSet\nmessage: Scaled up replica set web-1 to 2\ntype: Normal\nsource:\n  component: deployment-controller\ncount: 1\n`);
      await ok(['create', '-f', f]);
      const out = await ok(['-n', ns, 'describe', 'deployment', 'web']);
      assert.match(out, /^Name:\s+web$/m);
      assert.match(out, /Replicas:\s+2 desired/);
      assert.match(out, /Events:[\s\S]*ScalingReplicaSet[\s\S]*Scaled up replica set web-1 to 2/);
    });

    test('edit with EDITOR set to a script', async () => {
      const editor = path.join(dir, 'editor.sh');
      await fs.writeFile(editor, '#!/bin/sh\nsed -i \'s/^  a: "1"$/  a: "edited"/\' "$1"\n', { mode: 0o755 });
      const out = await ok(['-n', ns, 'edit', 'configmap', 'cfg'], { env: { EDITOR: editor, KUBE_EDITOR: editor } });
      assert.match(out, /configmap\/cfg edited/);
      assert.equal((await json(['-n', ns, 'get', 'cm', 'cfg'])).data.a, 'edited');
    });

    test('label and annotate', async () => {
      await ok(['-n', ns, 'label', 'cm', 'cfg', 'tier=backend']);
      await ok(['-n', ns, 'annotate', 'cm', 'cfg', 'note=hello']);
      const cm = await json(['-n', ns, 'get', 'cm', 'cfg']);
      assert.equal(cm.metadata.labels.tier, 'backend');
      assert.equal(cm.metadata.annotations.note, 'hello');
      assert.match(await ok(['-n', ns, 'get', 'cm', '-l', 'tier=backend', '-o', 'name']), /^configmap\/cfg\n$/);
      assert.match(await ok(['-n', ns, 'get', 'cm', '-l', 'tier notin (backend)', '-o', 'name']), /configmap\/watched/);
      await ok(['-n', ns, 'label', 'cm', 'cfg', 'tier-']);
      assert.equal((await json(['-n', ns, 'get', 'cm', 'cfg'])).metadata.labels?.tier, undefined);
    });

    test('patch of each type: strategic, merge, json', async () => {
      await ok(['-n', ns, 'patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:1.38"}]}}}}']);
      let d = await json(['-n', ns, 'get', 'deploy', 'web']);
      assert.deepEqual(d.spec.template.spec.containers.map((c: any) => `${c.name}=${c.image}`), ['web=busybox:1.36', 'side=busybox:1.38']);
      await ok(['-n', ns, 'patch', 'cm', 'cfg', '--type=merge', '-p', '{"data":{"b":"2","a":null}}']);
      assert.deepEqual((await json(['-n', ns, 'get', 'cm', 'cfg'])).data, { b: '2' });
      await ok(['-n', ns, 'patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]']);
      d = await json(['-n', ns, 'get', 'deploy', 'web']);
      assert.equal(d.spec.replicas, 4);
      const bad = await k(['-n', ns, 'patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":9}]']);
      assert.notEqual(bad.code, 0);
    });

    test('scale through the scale subresource', async () => {
      assert.match(await ok(['-n', ns, 'scale', 'deployment', 'web', '--replicas=3']), /deployment.apps\/web scaled/);
      assert.equal((await json(['-n', ns, 'get', 'deploy', 'web'])).spec.replicas, 3);
      const d = await json(['-n', ns, 'get', 'deploy', 'web']);
      assert.match(await ok(['-n', ns, 'scale', 'deployment', 'web', '--replicas=1', `--resource-version=${d.metadata.resourceVersion}`]), /scaled/);
      const stale = await k(['-n', ns, 'scale', 'deployment', 'web', '--replicas=5', `--resource-version=${d.metadata.resourceVersion}`]);
      assert.notEqual(stale.code, 0);
      // kubectl checks the version itself before its PUT (1.33) or lets the server refuse it.
      assert.match(stale.stderr, /the object has been modified|Expected resource version to be/);
    });

    test('wait --for=condition returns once a status condition is set', async () => {
      const waiting = k(['-n', ns, 'wait', '--for=condition=Available', 'deployment/web', '--timeout=30s']);
      const status = JSON.stringify({ status: { conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'ok' }] } });
      await ok(['-n', ns, 'patch', 'deployment', 'web', '--subresource=status', '--type=merge', '-p', status]);
      const r = await waiting;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /deployment.apps\/web condition met/);
    });

    test('api-resources and explain', async () => {
      const out = await ok(['api-resources']);
      assert.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      assert.match(out, /^customresourcedefinitions\s+crd,crds\s+apiextensions.k8s.io\/v1\s+false\s+CustomResourceDefinition$/m);
      assert.equal(await ok(['auth', 'can-i', 'create', 'pods']), 'yes\n');
      if (v >= '1.28') assert.match(await ok(['auth', 'whoami']), /Username\s+admin/);
      const ex = await ok(['explain', 'deployment.spec.replicas']);
      assert.match(ex, /replicas\s+<integer>/);
      assert.match(ex, /Number of desired pods/);
    });

    test('create deployment, configmap --from-literal, secret generic', async () => {
      await ok(['-n', ns, 'create', 'deployment', 'made', '--image=busybox:1.36', '--replicas=2', '--port=8080']);
      await ok(['-n', ns, 'create', 'configmap', 'lit', '--from-literal=k1=v1', '--from-literal=k2=v2']);
      await ok(['-n', ns, 'create', 'secret', 'generic', 'sec', '--from-literal=password=s3cret']);
      const d = await json(['-n', ns, 'get', 'deploy', 'made']);
      assert.equal(d.spec.replicas, 2);
      assert.deepEqual(d.spec.selector.matchLabels, { app: 'made' });
      assert.equal(d.spec.template.spec.containers[0].ports[0].containerPort, 8080);
      assert.deepEqual((await json(['-n', ns, 'get', 'cm', 'lit'])).data, { k1: 'v1', k2: 'v2' });
      const sec = await json(['-n', ns, 'get', 'secret', 'sec']);
      assert.equal(Buffer.from(sec.data.password, 'base64').toString(), 's3cret');
      assert.equal(sec.type, 'Opaque');
      // More kinds kubectl 1.32+ sends as protobuf.
      await ok(['-n', ns, 'create', 'job', 'job1', '--image=busybox:1.36', '--', 'echo', 'hi']);
      await ok(['-n', ns, 'create', 'service', 'nodeport', 'np', '--tcp=81:8081']);
      await ok(['-n', ns, 'create', 'rolebinding', 'rb', '--clusterrole=view', '--user=bob']);
      const job = await json(['-n', ns, 'get', 'job', 'job1']);
      assert.deepEqual(job.spec.template.spec.containers[0].command, ['echo', 'hi']);
      assert.equal(job.spec.template.spec.restartPolicy, 'Never');
      const np = await json(['-n', ns, 'get', 'svc', 'np']);
      assert.deepEqual([np.spec.type, np.spec.ports[0].port, np.spec.ports[0].targetPort], ['NodePort', 81, 8081]);
      assert.ok(np.spec.ports[0].nodePort >= 30000 && np.spec.ports[0].nodePort <= 32767);
      assert.deepEqual((await json(['-n', ns, 'get', 'rolebinding', 'rb'])).subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'bob' }]);
    });

    test('apply -k on a kustomize folder', async () => {
      const kd = path.join(dir, 'kust');
      await fs.mkdir(kd);
      await fs.writeFile(path.join(kd, 'kustomization.yaml'), `namespace: ${ns}\nnamePrefix: kz-\ncommonLabels:\n  team: blue\nresources:\n- cm.yaml\nconfigMapGenerator:\n- name: gen\n  literals:\n  - x=1\n`);
      await fs.writeFile(path.join(kd, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base\ndata:\n  y: "2"\n');
      const out = await ok(['apply', '-k', kd]);
      assert.match(out, /configmap\/kz-base created/);
      assert.match(out, /configmap\/kz-gen-\w+ created/);
      assert.equal((await json(['-n', ns, 'get', 'cm', 'kz-base'])).metadata.labels.team, 'blue');
    });

    test('a CRD, then custom resources of it (validated against its schema)', async () => {
      const group = `${ns}.example.com`;
      const f = path.join(dir, 'crd.yaml');
      await fs.writeFile(f, `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd${ns}]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}, scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.size}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color]
            properties:
              color: {type: string, enum: [red, blue]}
              size: {type: integer, minimum: 1}
          status:
            type: object
            properties:
              size: {type: integer}
`);
      await ok(['apply', '-f', f]);
      const cr = path.join(dir, 'cr.yaml');
      await fs.writeFile(cr, `apiVersion: ${group}/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: ${ns}\nspec:\n  color: red\n  size: 2\n`);
      assert.match(await ok(['apply', '-f', cr]), /widget.\S+\/w1 created/);
      assert.match(await ok(['-n', ns, 'get', `wd${ns}`]), /NAME\s+SIZE\s+AGE\nw1\s+2\s+/);
      await fs.writeFile(cr, `apiVersion: ${group}/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: ${ns}\nspec:\n  color: red\n  size: 5\n`);
      assert.match(await ok(['apply', '-f', cr]), /configured/);
      assert.equal((await json(['-n', ns, 'get', `widgets.${group}`, 'w1'])).spec.size, 5);
      await ok(['-n', ns, 'scale', `widgets.${group}`, 'w1', '--replicas=7']);
      assert.equal((await json(['-n', ns, 'get', `widgets.${group}`, 'w1'])).spec.size, 7);
      await fs.writeFile(cr, `apiVersion: ${group}/v1\nkind: Widget\nmetadata:\n  name: w2\n  namespace: ${ns}\nspec:\n  color: green\n  size: 0\n`);
      const bad = await k(['apply', '-f', cr]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /spec.color: Unsupported value: "green"/);
      assert.match(bad.stderr, /spec.size: Invalid value: 0/);
      assert.equal((await k(['-n', ns, 'get', `widgets.${group}`, 'w2'])).code, 1, 'nothing stored');
    });

    test('bad input from kubectl: an unknown field under strict validation names it', async () => {
      const f = path.join(dir, 'bad.yaml');
      await fs.writeFile(f, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: ${ns}\ndata: {a: b}\nfoo: bar\n`);
      const r = await k(['apply', '-f', f]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /unknown field "foo"/);
      assert.equal((await k(['-n', ns, 'get', 'cm', 'bad'])).code, 1, 'nothing stored');
    });

    test('delete waits until the object is gone and returns', async () => {
      assert.match(await ok(['-n', ns, 'delete', 'deployment', 'made']), /deployment.apps "made" deleted/);
      const r = await k(['-n', ns, 'get', 'deployment', 'made']);
      assert.match(r.stderr, /NotFound/);
      assert.match(await ok(['delete', 'namespace', ns, '--timeout=60s']), new RegExp(`namespace "${ns}" deleted`));
      assert.match((await k(['get', 'namespace', ns])).stderr, /NotFound/);
      assert.match((await k(['-n', ns, 'get', 'cm', 'cfg'])).stderr, /NotFound/);
    });
  });
}
