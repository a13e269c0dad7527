/**
 * The stream server's protocol logic without containers: port parsing, protocol negotiation,
 * port-forward stream pairing over a SPDY session (with a stand-in dialer), and exec streams
 * over SPDY turned into an ExecIO.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { SpdySession, type SpdyStream } from './spdy.js';
import { parsePorts, servePortForwardSpdy, forwardError } from './portforward.js';
import { negotiate } from './upgrade.js';
import { execStreamOptions, exitStatus, spdyExecIO } from './remotecommand.js';

function pair(): [Duplex, Duplex] {
  const mk = () => new Duplex({ read() {}, write(chunk, _e, cb) { (this as any).peer.push(chunk); cb(); }, final(cb) { (this as any).peer.push(null); cb(); } });
  const a = mk(), b = mk();
  (a as any).peer = b; (b as any).peer = a;
  return [a, b];
}

const text = (s: NodeJS.ReadableStream) => new Promise<string>((ok) => { let t = ''; s.on('data', (d) => { t += d; }); s.on('end', () => ok(t)); s.on('close', () => ok(t)); });

test('ports from the port query, as the kubelet parses them', () => {
  assert.deepEqual(parsePorts(['80']), [80]);
  assert.deepEqual(parsePorts(['80,8080', '9']), [80, 8080, 9]);
  const bad: [string[], RegExp][] = [
    [[], /query parameter "port" is required/],
    [[''], /cannot be empty/],
    [['http'], /unable to parse "http" as a port/],
    [['70000'], /unable to parse "70000" as a port/],
    [['0'], /port "0" must be > 0/],
  ];
  for (const [v, msg] of bad) assert.throws(() => parsePorts(v), msg, JSON.stringify(v));
});

test('X-Stream-Protocol-Version negotiation: the client\'s order, every header, comma lists', () => {
  const req = (...values: string[]) => ({ rawHeaders: values.flatMap((v) => ['X-Stream-Protocol-Version', v]) }) as unknown as IncomingMessage;
  const server = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
  assert.deepEqual(negotiate(req('v5.channel.k8s.io', 'v3.channel.k8s.io, v4.channel.k8s.io'), server), { protocol: 'v3.channel.k8s.io' });
  assert.deepEqual(negotiate(req(), server), { refuse: { code: 400, message: 'unable to upgrade: X-Stream-Protocol-Version is required' } });
  const r = negotiate(req('v9'), ['portforward.k8s.io']);
  assert.ok('refuse' in r);
  if ('refuse' in r) {
    assert.equal(r.refuse.code, 403);
    assert.match(r.refuse.message, /client supports \[v9\], server accepts \[portforward\.k8s\.io\]/);
    assert.deepEqual(r.refuse.headers, { 'X-Accepted-Stream-Protocol-Versions': ['portforward.k8s.io'] });
  }
});

test('exec stream options: "1" or "true"; a terminal has no stderr', () => {
  assert.deepEqual(execStreamOptions(new URLSearchParams('stdin=1&stdout=1&stderr=1')), { stdin: true, stdout: true, stderr: true, tty: false });
  assert.deepEqual(execStreamOptions(new URLSearchParams('stdout=true&stderr=true&tty=true')), { stdin: false, stdout: true, stderr: false, tty: true });
  assert.deepEqual(exitStatus(0, ['true']), { status: 'Success' });
  assert.equal(exitStatus(3, ['sh', '-c', 'exit 3']).details!.causes[0].message, '3');
});

test('port-forward over SPDY: pairs by requestID (or stream ID for old clients), refusals, dial errors, a timeout', async () => {
  const [ca, sa] = pair();
  const client = new SpdySession(ca, 'client');
  const server = new SpdySession(sa, 'server');
  const dialed: number[] = [];
  servePortForwardSpdy(server, {
    pod: 'sandbox1', uid: '',
    dial: async (port) => {
      dialed.push(port);
      if (port === 9) throw new Error('connection refused');
      // A stand-in for the pod's server: answers each request with its port.
      const [near, far] = pair();
      far.on('data', (d) => far.write(`${port}:${d}`));
      far.on('end', () => far.end());
      return near;
    },
  }, { streamTimeoutMs: 20 });
  const open = async (h: Record<string, string>) => { const s = client.createStream(Object.fromEntries(Object.entries(h).map(([k, v]) => [k, [v]]))); await s.replied; return s; };
  // Two pairs interleaved, matched by requestID.
  const e1 = await open({ streamtype: 'error', port: '80', requestid: '1' });
  const e2 = await open({ streamtype: 'error', port: '81', requestid: '2' });
  const d2 = await open({ streamtype: 'data', port: '81', requestid: '2' });
  const d1 = await open({ streamtype: 'data', port: '80', requestid: '1' });
  e1.end(); e2.end();
  d1.end('a'); d2.end('b');
  assert.deepEqual(await Promise.all([text(d1), text(d2), text(e1), text(e2)]), ['80:a', '81:b', '', '']);
  // No requestID: error stream n and data stream n+2 make a pair.
  const e3 = await open({ streamtype: 'error', port: '82' });
  const d3 = await open({ streamtype: 'data', port: '82' });
  e3.end(); d3.end('c');
  assert.deepEqual(await Promise.all([text(d3), text(e3)]), ['82:c', '']);
  // A dial failure: the kubelet's message on the error stream, the data stream ends.
  const e4 = await open({ streamtype: 'error', port: '9', requestid: '4' });
  const d4 = await open({ streamtype: 'data', port: '9', requestid: '4' });
  e4.end();
  assert.deepEqual(await Promise.all([text(e4), text(d4)]), [forwardError(9, 'sandbox1', '', 'connection refused'), '']);
  // Bad headers are reset, no reply.
  for (const h of [{ streamtype: 'data' }, { streamtype: 'data', port: '0' }, { streamtype: 'bogus', port: '80' }]) {
    const s = client.createStream(Object.fromEntries(Object.entries(h).map(([k, v]) => [k, [v]])));
    await assert.rejects(s.replied, /reset/, JSON.stringify(h));
  }
  // Half a pair: the timeout's message on its error stream.
  const e5 = await open({ streamtype: 'error', port: '80', requestid: '5' });
  assert.match(await text(e5), /request=5\) timed out waiting for streams/);
  assert.deepEqual(dialed, [81, 80, 82, 9]);
  client.close();
});

test('exec over SPDY: the client\'s streams become an ExecIO; v4 reports the Status as JSON, then everything closes', async () => {
  const [ca, sa] = pair();
  const client = new SpdySession(ca, 'client');
  const server = new SpdySession(sa, 'server');
  const ioP = spdyExecIO(server, 'v4.channel.k8s.io', { stdin: true, stdout: true, stderr: true, tty: false });
  const mk = (t: string) => client.createStream({ streamtype: [t] });
  const [err, stdin, stdout, stderr] = ['error', 'stdin', 'stdout', 'stderr'].map(mk) as SpdyStream[];
  const io = await ioP;
  const outs = Promise.all([text(stdout), text(stderr), text(err)]);
  stdin.end('input');
  assert.equal(await text(io.stdin!), 'input');
  io.stdout!.write('out');
  io.stderr!.write('err');
  const closed = new Promise<void>((ok) => client.once('close', () => ok()));
  io.finish(exitStatus(2, ['x']));
  const [o, e, status] = await outs;
  assert.deepEqual([o, e], ['out', 'err']);
  assert.deepEqual(JSON.parse(status), { metadata: {}, ...exitStatus(2, ['x']) });
  await closed;
  await io.closed;
});

test('exec over SPDY v2: only a failure\'s message on the error stream; a terminal adds no resize stream before v3', async () => {
  const [ca, sa] = pair();
  const client = new SpdySession(ca, 'client');
  const server = new SpdySession(sa, 'server');
  const ioP = spdyExecIO(server, 'v2.channel.k8s.io', { stdin: false, stdout: true, stderr: false, tty: true });
  const err = client.createStream({ streamtype: ['error'] });
  const out = client.createStream({ streamtype: ['stdout'] });
  const io = await ioP;
  assert.equal(io.resize, undefined);
  const got = Promise.all([text(err), text(out)]);
  io.finish({ status: 'Failure', message: 'boom' });
  assert.deepEqual(await got, ['boom', '']);
});
