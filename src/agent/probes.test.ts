/**
 * Unit tests of probes and hooks, table-driven: the kubelet's doProbe (thresholds, initial
 * values, on-hold after a liveness failure or a startup verdict, errors thrown away, gating by
 * initialDelaySeconds, by `started` and by deletion), the tick loop on a fake clock (start-up
 * jitter, period, manual trigger), what status reads (started/ready, kills), kill grace
 * periods; and the checks against real servers on 127.0.0.1 (HTTP status codes, redirects,
 * headers, refused and silent ports, TCP, gRPC health with grpc-health-check's server),
 * lifecycle handler messages.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { FakeClock, type Clock } from '../controllers/runtime/clock.js';
import { ProbeManager, probeTiming, type ProbeType } from './probes.js';
import type { CheckOutcome, ContainerExec, ExecResult } from './checks.js';
import { grpcCheck, httpCheck, requestHeaders, resolvePort, tcpCheck, execCheck } from './checks.js';
import { killContainer, killGrace, runHandler, type HookDeps } from './hooks.js';
import { podStatus } from './status.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
/** A clock whose timers never fire: doProbe is driven by hand. */
const still = (t = { now: T0 }): Clock & { t: { now: number } } => ({ t, now: () => t.now, after: () => ({ cancel() {} }) });

const S: CheckOutcome = { result: 'success', output: '' };
const F: CheckOutcome = { result: 'failure', output: 'boom' };
const W: CheckOutcome = { result: 'warning', output: 'moved' };
const E: CheckOutcome = { result: 'unknown', output: '', error: 'exec failed' };

function pod(probeField: string, probe: object, extra: { deletion?: boolean; restartPolicy?: string } = {}): any {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u1', ...(extra.deletion ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { restartPolicy: extra.restartPolicy ?? 'Always', containers: [{ name: 'c', image: 'i', [probeField]: probe }] },
  };
}

function status(o: { id?: string; running?: boolean; started?: boolean; startedAt?: number; phase?: string; terminated?: boolean } = {}): any {
  const state = o.running === false ? (o.terminated ? { terminated: { exitCode: 1 } } : { waiting: { reason: 'CrashLoopBackOff' } }) : { running: { startedAt: new Date(o.startedAt ?? T0 - 60_000).toISOString() } };
  return { phase: o.phase ?? 'Running', podIP: '10.0.0.5', containerStatuses: [{ name: 'c', containerID: `skiff://${o.id ?? 'a'}`, state, started: o.started ?? true, ready: false }] };
}

const FIELD: Record<ProbeType, string> = { liveness: 'livenessProbe', readiness: 'readinessProbe', startup: 'startupProbe' };

function harness(type: ProbeType, probe: object, outcomes: CheckOutcome[], podExtra = {}, st = status({ started: type !== 'startup' })) {
  const events: string[] = [];
  let checks = 0;
  const clock = still();
  const m = new ProbeManager({
    clock, random: () => 0,
    check: async () => { checks++; return outcomes.shift() ?? S; },
    event: (_p, type, reason, message) => events.push(`${type} ${reason} ${message}`),
    changed: () => {},
  });
  const p = pod(FIELD[type], probe, podExtra);
  m.update(p, st);
  const w = m.worker('u1', 'c', type)!;
  return { m, w, events, clock, p, checks: () => checks };
}

test('doProbe: results follow the thresholds, as the kubelet records them', async () => {
  const cases: { type: ProbeType; probe: object; seq: CheckOutcome[]; want: (string | undefined)[] }[] = [
    { type: 'readiness', probe: {}, seq: [S], want: ['success'] },
    { type: 'readiness', probe: { successThreshold: 2 }, seq: [S, S], want: ['failure', 'success'] },
    { type: 'readiness', probe: {}, seq: [S, F, F, F], want: ['success', 'success', 'success', 'failure'] },
    { type: 'readiness', probe: { failureThreshold: 2 }, seq: [F, S, F, S], want: ['failure', 'success', 'success', 'success'] },
    { type: 'readiness', probe: { failureThreshold: 1 }, seq: [S, F, S], want: ['success', 'failure', 'success'] },
    { type: 'readiness', probe: {}, seq: [W], want: ['success'] },
    { type: 'readiness', probe: {}, seq: [E], want: ['failure'] }, // an error is thrown away: the initial value stays
    { type: 'liveness', probe: {}, seq: [F, F, F], want: ['success', 'success', 'failure'] },
    { type: 'liveness', probe: { failureThreshold: 1 }, seq: [F, S], want: ['failure', 'failure'] }, // on hold until a new container
    { type: 'liveness', probe: {}, seq: [F, F, S, F, F], want: ['success', 'success', 'success', 'success', 'success'] },
    { type: 'startup', probe: {}, seq: [F, S], want: ['unknown', 'success'] },
    { type: 'startup', probe: { failureThreshold: 2 }, seq: [F, F, S], want: ['unknown', 'failure', 'failure'] },
  ];
  for (const c of cases) {
    // An erroring check is tried 3 times.
    const h = harness(c.type, c.probe, c.seq.flatMap((x) => (x.error ? [x, x, x] : [x])), {}, status({ started: c.type !== 'startup' }));
    const got: (string | undefined)[] = [];
    for (let i = 0; i < c.seq.length; i++) {
      assert.equal(await h.w.doProbe(), true);
      got.push(h.m.result(c.type, 'skiff://a'));
    }
    assert.deepEqual(got, c.want, `${c.type} ${JSON.stringify(c.probe)} ${c.seq.map((x) => x.result).join(',')}`);
  }
});

test('doProbe: events carry the kubelet\'s messages; errors are tried 3 times and thrown away', async () => {
  const cases: { type: ProbeType; out: CheckOutcome; checks: number; event: string }[] = [
    { type: 'readiness', out: { result: 'failure', output: 'cat: can\'t open \'/tmp/ready\'' }, checks: 1, event: 'Warning Unhealthy Readiness probe failed: cat: can\'t open \'/tmp/ready\'' },
    { type: 'liveness', out: { result: 'failure', output: 'HTTP probe failed with statuscode: 500' }, checks: 1, event: 'Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500' },
    { type: 'startup', out: F, checks: 1, event: 'Warning Unhealthy Startup probe failed: boom' },
    { type: 'readiness', out: W, checks: 1, event: 'Warning ProbeWarning Readiness probe warning: moved' },
    { type: 'liveness', out: E, checks: 3, event: 'Warning Unhealthy Liveness probe errored and resulted in unknown state: exec failed' },
  ];
  for (const c of cases) {
    const h = harness(c.type, {}, [c.out, c.out, c.out], {}, status({ started: c.type !== 'startup' }));
    await h.w.doProbe();
    assert.equal(h.checks(), c.checks, c.event);
    assert.deepEqual(h.events, [c.event]);
  }
});

test('doProbe: gating by container state, initialDelaySeconds, started, deletion and phase', async () => {
  const cases: { name: string; type: ProbeType; probe?: object; st: any; extra?: object; keep: boolean; checks: number; result?: string }[] = [
    { name: 'no container yet', type: 'readiness', st: { phase: 'Pending', containerStatuses: [{ name: 'c', state: { waiting: {} } }] }, keep: true, checks: 0, result: undefined },
    { name: 'not running, will restart', type: 'readiness', st: status({ running: false }), keep: true, checks: 0, result: 'failure' },
    { name: 'terminated under Never', type: 'liveness', st: status({ running: false, terminated: true }), extra: { restartPolicy: 'Never' }, keep: false, checks: 0, result: 'failure' },
    { name: 'pod finished', type: 'readiness', st: status({ phase: 'Succeeded' }), keep: false, checks: 0, result: undefined },
    { name: 'in initial delay', type: 'liveness', probe: { initialDelaySeconds: 30 }, st: status({ startedAt: T0 - 29_500 }), keep: true, checks: 0, result: 'success' },
    { name: 'initial delay over', type: 'readiness', probe: { initialDelaySeconds: 30 }, st: status({ startedAt: T0 - 30_000 }), keep: true, checks: 1, result: 'success' },
    { name: 'liveness waits for started', type: 'liveness', st: status({ started: false }), keep: true, checks: 0, result: 'success' },
    { name: 'readiness waits for started', type: 'readiness', st: status({ started: false }), keep: true, checks: 0, result: 'failure' },
    { name: 'startup done once started', type: 'startup', st: status({ started: true }), keep: true, checks: 0, result: 'unknown' },
    { name: 'liveness quiet on deletion', type: 'liveness', st: status(), extra: { deletion: true }, keep: false, checks: 0, result: 'success' },
    { name: 'readiness goes on on deletion', type: 'readiness', st: status(), extra: { deletion: true }, keep: true, checks: 1, result: 'success' },
  ];
  for (const c of cases) {
    const h = harness(c.type, c.probe ?? {}, [S], c.extra ?? {}, c.st);
    assert.equal(await h.w.doProbe(), c.keep, c.name);
    assert.equal(h.checks(), c.checks, c.name);
    assert.equal(h.m.result(c.type, 'skiff://a'), c.result, c.name);
  }
});

test('doProbe: a new container ID resets to the initial value and lifts the hold', async () => {
  const h = harness('liveness', { failureThreshold: 1 }, [F, F, S]);
  await h.w.doProbe();
  assert.equal(h.m.failed(h.p.spec.containers[0], 'skiff://a'), 'liveness');
  await h.w.doProbe();
  assert.equal(h.checks(), 1, 'on hold: no check');
  h.m.update(h.p, status({ id: 'b' }));
  await h.w.doProbe();
  assert.equal(h.m.result('liveness', 'skiff://a'), undefined, 'the old container is forgotten');
  assert.equal(h.checks(), 2);
  assert.equal(h.m.result('liveness', 'skiff://b'), 'failure');
});

test('containerState and failed: what the status and the pod worker read', () => {
  const h = harness('readiness', {}, []);
  const m = h.m;
  const spec = (p: object) => ({ name: 'c', ...p });
  const set = (type: ProbeType, r: 'success' | 'failure' | 'unknown') => m.set(type, 'u1', 'skiff://x', r);
  assert.deepEqual(m.containerState(spec({}), 'skiff://x'), { started: true, ready: true }, 'no probes');
  assert.deepEqual(m.containerState(spec({ readinessProbe: {} }), 'skiff://x'), { started: true, ready: false }, 'no result yet');
  assert.deepEqual(m.containerState(spec({ startupProbe: {}, readinessProbe: {} }), 'skiff://x'), { started: false, ready: false });
  set('startup', 'success');
  assert.deepEqual(m.containerState(spec({ startupProbe: {} }), 'skiff://x'), { started: true, ready: true });
  set('readiness', 'success');
  assert.deepEqual(m.containerState(spec({ startupProbe: {}, readinessProbe: {} }), 'skiff://x'), { started: true, ready: true });
  assert.equal(m.failed(spec({ livenessProbe: {} }), 'skiff://x'), undefined);
  set('liveness', 'failure');
  assert.equal(m.failed(spec({ livenessProbe: {} }), 'skiff://x'), 'liveness');
  assert.equal(m.failed(spec({}), 'skiff://x'), undefined, 'a result without a probe in the spec counts for nothing');
  set('liveness', 'success');
  set('startup', 'failure');
  assert.equal(m.failed(spec({ startupProbe: {}, livenessProbe: {} }), 'skiff://x'), 'startup');
});

test('the status: readiness decides ready, ContainersReady and Ready; startup decides started', () => {
  const rec = { id: 'abc', name: 'n', image: 'i', imageId: 'sha', options: { image: 'i', labels: {} }, command: [], status: 'running', createdAt: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:00Z', runtime: 'runc', lowerDirs: [] } as any;
  const p = { metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { containers: [{ name: 'web', image: 'i', readinessProbe: {} }] } };
  const cases: [{ started: boolean; ready: boolean }, boolean, string][] = [
    [{ started: true, ready: false }, false, 'False'], [{ started: true, ready: true }, true, 'True'], [{ started: false, ready: false }, false, 'False'],
  ];
  for (const [verdict, ready, cond] of cases) {
    let asked = '';
    const st = podStatus({ pod: p, containers: [{ rec, name: 'web', kind: 'app', attempt: 0 }], waiting: new Map(), hostIP: '1.2.3.4', now: T0, probe: (_s, id) => { asked = id; return verdict; } });
    assert.equal(asked, 'skiff://abc');
    assert.equal(st.containerStatuses[0].ready, ready);
    assert.equal(st.containerStatuses[0].started, verdict.started);
    assert.equal(st.phase, 'Running');
    for (const t of ['Ready', 'ContainersReady']) {
      const c = st.conditions.find((x: any) => x.type === t);
      assert.equal(c.status, cond, t);
      if (!ready) assert.equal(c.message, 'containers with unready status: [web]');
    }
  }
});

test('the tick loop on a fake clock: start-up jitter, every period, a manual trigger restarts the period', async () => {
  const clock = new FakeClock(T0);
  const at: number[] = [];
  const m = new ProbeManager({ clock, random: () => 0.5, check: async () => { at.push(clock.now() - T0); return S; }, event: () => {}, changed: () => {} });
  const p = pod('livenessProbe', { periodSeconds: 10 });
  m.update(p, status());
  const settle = () => new Promise((r) => setImmediate(r));
  for (let i = 0; i < 26; i++) { clock.advance(1000); await settle(); }
  assert.deepEqual(at, [5000, 15000, 25000], 'half a period first (the agent just started), then every period');
  m.worker('u1', 'c', 'liveness')!.trigger();
  clock.advance(0); await settle();
  for (let i = 0; i < 10; i++) { clock.advance(1000); await settle(); }
  assert.deepEqual(at, [5000, 15000, 25000, 26000, 36000]);
  m.removePod('u1');
  clock.advance(60_000); await settle();
  assert.equal(at.length, 5, 'no probes after the pod goes');
  assert.equal(m.worker('u1', 'c', 'liveness'), undefined);
  // A manager that has run longer than a period starts new workers at once.
  const m2 = new ProbeManager({ clock, random: () => 0.5, check: async () => { at.push(clock.now() - T0); return S; }, event: () => {}, changed: () => {} });
  clock.advance(20_000);
  m2.update({ ...p, metadata: { ...p.metadata, uid: 'u2' } }, status());
  clock.advance(0); await settle();
  assert.equal(at.at(-1), clock.now() - T0);
  m2.stop();
});

test('probe timing defaults are Kubernetes\' (period 10 s, timeout 1 s, thresholds 1 and 3)', () => {
  assert.deepEqual(probeTiming({}), { initialDelayS: 0, periodMs: 10_000, timeoutMs: 1000, success: 1, failure: 3 });
  assert.deepEqual(probeTiming({ initialDelaySeconds: 5, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 2, failureThreshold: 1 }), { initialDelayS: 5, periodMs: 2000, timeoutMs: 3000, success: 2, failure: 1 });
});

test('kill grace: deletion grace, else a failed probe\'s own, else the pod\'s', () => {
  const spec = { livenessProbe: { terminationGracePeriodSeconds: 5 }, startupProbe: { terminationGracePeriodSeconds: 7 }, readinessProbe: {} };
  const cases: [any, any, any, number][] = [
    [{}, { terminationGracePeriodSeconds: 30 }, undefined, 30],
    [{}, { terminationGracePeriodSeconds: 30 }, 'liveness', 5],
    [{}, { terminationGracePeriodSeconds: 30 }, 'startup', 7],
    [{}, { terminationGracePeriodSeconds: 30 }, 'postStart', 30],
    [{ deletionGracePeriodSeconds: 3 }, { terminationGracePeriodSeconds: 30 }, 'liveness', 3],
    [{}, {}, 'liveness', 2],
  ];
  for (const [meta, pspec, reason, want] of cases) {
    assert.equal(killGrace({ metadata: { name: 'p', ...meta }, spec: pspec }, spec, reason), want, JSON.stringify([meta, reason]));
  }
});

function fakeExec(r: Partial<ExecResult>, calls: string[][] = []): ContainerExec {
  return async (_id, cmd) => { calls.push(cmd); return { code: 0, stdout: '', stderr: '', timedOut: false, ...r }; };
}

test('exec checks and hooks: exit codes, timeouts and errors in the kubelet\'s words', async () => {
  assert.deepEqual(await execCheck(fakeExec({ code: 0, stdout: 'ok' }), 'id', ['true'], 1000), { result: 'success', output: 'ok' });
  assert.deepEqual(await execCheck(fakeExec({ code: 1, stdout: 'o', stderr: 'e' }), 'id', ['false'], 1000), { result: 'failure', output: 'oe' });
  assert.deepEqual(await execCheck(fakeExec({ code: -1, timedOut: true }), 'id', ['sleep', '5'], 1000), { result: 'failure', output: 'command "sleep 5" timed out' });
  assert.deepEqual(await execCheck(fakeExec({ code: 127, error: 'exec: "nope": executable file not found in $PATH' }), 'id', ['nope'], 1000), { result: 'unknown', output: '', error: 'exec: "nope": executable file not found in $PATH' });
  const events: string[] = [];
  const d: HookDeps = { exec: fakeExec({ code: 2, stdout: 'out\n', stderr: 'bad\n' }), stop: async () => {}, event: (t, r, m) => events.push(`${t} ${r} ${m}`), clock: new FakeClock(T0) };
  const p = { metadata: { name: 'p', namespace: 'ns', uid: 'u' } };
  assert.equal(await runHandler(d, p, { name: 'c' }, { exec: { command: ['sh', '-c', 'exit 2'] } }, 'id', '10.0.0.5'),
    'Exec lifecycle hook ([sh -c exit 2]) for Container "c" in Pod "p_ns(u)" failed - error: command \'sh -c exit 2\' exited with 2: bad\n, message: "out\\nbad\\n"');
  assert.equal(await runHandler({ ...d, exec: fakeExec({ code: 0 }) }, p, { name: 'c' }, { exec: { command: ['true'] } }, 'id', '10.0.0.5'), undefined);
  assert.match(String(await runHandler(d, p, { name: 'c' }, {}, 'id', '')), /^Cannot run handler: invalid handler/);
});

test('sleep hooks and kills: preStop runs within the grace period, before the stop, and the rest is the stop\'s', async () => {
  const clock = new FakeClock(T0);
  const log: string[] = [];
  const d: HookDeps = {
    exec: async (_id, cmd) => { log.push(`exec ${cmd.join(' ')}`); return { code: 1, stdout: '', stderr: '', timedOut: false }; },
    stop: async (id, g) => { log.push(`stop ${id} ${g}`); }, event: (t, r, m) => log.push(`${t} ${r} ${m}`), clock,
  };
  const p = { metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { terminationGracePeriodSeconds: 10 } };
  // A sleep hook of 3 s: the stop gets 10 - 3 = 7 s.
  const kill = killContainer(d, p, { name: 'c', lifecycle: { preStop: { sleep: { seconds: 3 } } } }, { id: 'id1', name: 'c' });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['Normal Killing Stopping container c']);
  clock.advance(3000);
  await kill;
  assert.deepEqual(log.slice(1), ['stop id1 7']);
  // A hook longer than the grace period is cut short: the stop gets the 2 s floor, no failure event.
  log.length = 0;
  const k2 = killContainer(d, p, { name: 'c', lifecycle: { preStop: { sleep: { seconds: 60 } } } }, { id: 'id2', name: 'c' }, { message: 'Container c failed liveness probe, will be restarted', reason: 'liveness' });
  await new Promise((r) => setImmediate(r));
  clock.advance(10_000);
  await k2;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['Normal Killing Container c failed liveness probe, will be restarted', 'stop id2 2']);
  // A failing exec hook: FailedPreStopHook without the output, then the stop.
  log.length = 0;
  await killContainer(d, p, { name: 'c', lifecycle: { preStop: { exec: { command: ['false'] } } } }, { id: 'id3', name: 'c' });
  assert.deepEqual(log, ['Normal Killing Stopping container c', 'exec false', 'Warning FailedPreStopHook PreStopHook failed', 'stop id3 10']);
});

// ---- real servers on 127.0.0.1 ----

const servers: { close(): void }[] = [];
after(() => { for (const s of servers) s.close(); });

async function httpServer(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('httpGet checks against a real server: 2xx/3xx succeed, redirects as the kubelet, headers, failures in Go\'s words', async () => {
  const seen: http.IncomingHttpHeaders[] = [];
  let otherPort = 0;
  const port = await httpServer((req, res) => {
    seen.push(req.headers);
    const code: Record<string, [number, string?]> = {
      '/ok': [200], '/created': [201], '/notmod': [304], '/bad': [500], '/missing': [404],
      '/local': [302, '/ok'], '/away': [302, `http://localhost:${otherPort}/ok`], '/loop': [302, '/loop'], '/away-bad': [301, '/bad'],
    };
    const [status, location] = code[req.url ?? ''] ?? [200];
    res.writeHead(status, location ? { Location: location } : {});
    res.end(req.url === '/ok' ? 'fine' : '');
  });
  otherPort = port;
  const u = (p: string) => new URL(`http://127.0.0.1:${port}${p}`);
  const cases: [string, string, string | RegExp][] = [
    ['/ok', 'success', 'fine'], ['/created', 'success', ''], ['/notmod', 'warning', 'Probe terminated redirects, Response body: '],
    ['/bad', 'failure', 'HTTP probe failed with statuscode: 500'], ['/missing', 'failure', 'HTTP probe failed with statuscode: 404'],
    ['/local', 'success', 'fine'], ['/away', 'warning', /^Probe terminated redirects/], ['/away-bad', 'failure', 'HTTP probe failed with statuscode: 500'],
    ['/loop', 'failure', `Get "http://127.0.0.1:${port}/loop": stopped after 10 redirects`],
  ];
  for (const [p, result, output] of cases) {
    const r = await httpCheck(u(p), [], 1000);
    assert.equal(r.result, result, p);
    if (typeof output === 'string') assert.equal(r.output, output, p); else assert.match(r.output, output, p);
  }
  seen.length = 0;
  await httpCheck(u('/ok'), [['X-Custom', 'a'], ['x-custom', 'b'], ['Host', 'example.test']], 1000);
  assert.equal(seen[0]['user-agent'], 'kube-probe/1.33');
  assert.equal(seen[0].accept, '*/*');
  assert.equal(seen[0]['x-custom'], 'a, b');
  assert.equal(seen[0].host, 'example.test');
  assert.equal(seen[0].connection, 'close');
  seen.length = 0;
  await httpCheck(u('/ok'), [['User-Agent', 'mine'], ['Accept', '']], 1000);
  assert.equal(seen[0]['user-agent'], 'mine');
  assert.equal(seen[0].accept, undefined, 'an empty Accept removes it');

  const closed = await freePort();
  assert.deepEqual(await httpCheck(new URL(`http://127.0.0.1:${closed}/healthz`), [], 1000),
    { result: 'failure', output: `Get "http://127.0.0.1:${closed}/healthz": dial tcp 127.0.0.1:${closed}: connect: connection refused` });
  const silent = await httpServer(() => { /* never answers */ });
  assert.deepEqual(await httpCheck(new URL(`http://127.0.0.1:${silent}/`), [], 300),
    { result: 'failure', output: `Get "http://127.0.0.1:${silent}/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
  assert.deepEqual(requestHeaders([], 'kube-lifecycle/1.33'), { 'User-Agent': ['kube-lifecycle/1.33'], Accept: ['*/*'], Connection: ['close'] });
});

test('httpGet hooks succeed on any answer and fail with the kubelet\'s message when nothing answers', async () => {
  const port = await httpServer((_req, res) => { res.writeHead(500); res.end(); });
  const d: HookDeps = { exec: fakeExec({}), stop: async () => {}, event: () => {}, clock: new FakeClock(T0) };
  const p = { metadata: { name: 'p', namespace: 'ns', uid: 'u' } };
  const c = { name: 'c', ports: [{ name: 'web', containerPort: port }] };
  assert.equal(await runHandler(d, p, c, { httpGet: { path: '/hook', port: 'web' } }, 'id', '127.0.0.1'), undefined);
  const closed = await freePort();
  assert.equal(await runHandler(d, p, c, { httpGet: { path: '/hook', port: closed } }, 'id', '127.0.0.1'),
    `HTTP lifecycle hook (/hook) for Container "c" in Pod "p_ns(u)" failed - error: Get "http://127.0.0.1:${closed}/hook": dial tcp 127.0.0.1:${closed}: connect: connection refused`);
});

test('ports by number, by name, or a number in a string; anything else is the kubelet\'s error', () => {
  const c = { ports: [{ name: 'http', containerPort: 8080 }] };
  assert.equal(resolvePort(80, c), 80);
  assert.equal(resolvePort('http', c), 8080);
  assert.equal(resolvePort('81', c), 81);
  assert.throws(() => resolvePort('metrics', c), /strconv.Atoi: parsing "metrics": invalid syntax/);
  assert.throws(() => resolvePort(0, c), /invalid port number: 0/);
  assert.throws(() => resolvePort(70000, c), /invalid port number: 70000/);
});

test('tcpSocket checks: an open port succeeds, a closed one fails as Go dials', async () => {
  const port = await httpServer(() => {});
  assert.deepEqual(await tcpCheck('127.0.0.1', port, 1000), { result: 'success', output: '' });
  const closed = await freePort();
  assert.deepEqual(await tcpCheck('127.0.0.1', closed, 1000), { result: 'failure', output: `dial tcp 127.0.0.1:${closed}: connect: connection refused` });
});

test('grpc checks against grpc-health-check\'s server: SERVING, NOT_SERVING, unknown service, no server', async () => {
  const health = new HealthImplementation({ '': 'SERVING', 'db': 'NOT_SERVING' });
  const server = new grpc.Server();
  health.addToServer(server);
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  servers.push({ close: () => server.forceShutdown() });
  assert.deepEqual(await grpcCheck('127.0.0.1', port, '', 2000), { result: 'success', output: 'service healthy' });
  assert.deepEqual(await grpcCheck('127.0.0.1', port, 'db', 2000), { result: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' });
  health.setStatus('db', 'SERVING');
  assert.deepEqual(await grpcCheck('127.0.0.1', port, 'db', 2000), { result: 'success', output: 'service healthy' });
  const r = await grpcCheck('127.0.0.1', port, 'nope', 2000);
  assert.equal(r.result, 'failure');
  assert.match(r.output, /^error: health rpc probe failed: rpc error: code = NotFound desc = /);
  const closed = await freePort();
  assert.deepEqual(await grpcCheck('127.0.0.1', closed, '', 1000), { result: 'failure', output: `timeout: failed to connect service "127.0.0.1:${closed}" within 1s: context deadline exceeded` });
});
