/**
 * The WebSocket channel transport of exec/attach (`webSocketExecIO`) seen through what the
 * sessions use (`stdioOf`: streams, terminal sizes, an abort signal), against a real `ws`
 * client on loopback, with stand-in sessions (the end-to-end tests drive real containers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import type { StdioStreams, TerminalSize } from '../../engine/container/stdio.js';
import { execStreamOptions, exitStatus, webSocketExecIO, REMOTECOMMAND_WS_PROTOCOLS, type ExecIO } from './remotecommand.js';
import { stdioOf } from './exec.js';

/** One session over a loopback WebSocket: the client's messages in, what the server sent out. */
async function session(protocol: string, query: string, client: (ws: WebSocket, frames: Buffer[]) => void,
  run: (io: ExecIO, s: StdioStreams) => Promise<void>): Promise<{ frames: Buffer[]; code: number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (ps) => REMOTECOMMAND_WS_PROTOCOLS.find((p) => ps.has(p)) ?? false });
  let ran: Promise<void> = Promise.resolve();
  wss.on('connection', (ws) => {
    const io = webSocketExecIO(ws, execStreamOptions(new URLSearchParams(query)));
    ran = run(io, stdioOf(io));
  });
  await new Promise((ok) => wss.once('listening', ok));
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, [protocol]);
  const frames: Buffer[] = [];
  ws.on('message', (m: Buffer) => frames.push(m));
  // At once on open: the first frames may come in the same read as the handshake.
  ws.once('open', () => client(ws, frames));
  const code = await new Promise<number>((ok) => ws.once('close', ok));
  await ran;
  await new Promise((ok) => wss.close(ok));
  return { frames, code };
}

const frame = (ch: number, data: string | Buffer = '') => Buffer.concat([Buffer.from([ch]), Buffer.from(data)]);

test('v5: stdin streamed until the client closes it, output before the Status, normal closure', async () => {
  let input = '';
  const { frames, code } = await session('v5.channel.k8s.io', 'stdin=true&stdout=true&stderr=true', (ws) => {
    ws.send(frame(0, 'hello '));
    ws.send(frame(0, 'world'));
    ws.send(frame(255, Buffer.from([0])));
  }, async (io, s) => {
    for await (const d of s.stdin!) input += d;
    s.stdout!.write(`got ${input}`);
    s.stderr!.write('note');
    io.finish(exitStatus(3, ['cmd']));
  });
  assert.equal(input, 'hello world');
  assert.equal(code, 1000);
  assert.deepEqual(frames.map((f) => [f[0], f.subarray(1).toString()]).slice(0, 2), [[1, 'got hello world'], [2, 'note']]);
  assert.equal(frames.length, 3);
  const status = JSON.parse(frames[2].subarray(1).toString());
  assert.equal(frames[2][0], 3);
  assert.deepEqual([status.reason, status.details.causes], ['NonZeroExitCode', [{ reason: 'ExitCode', message: '3' }]]);
});

test('v4: no stream close; resizes reach the session\'s terminal sizes, bad ones ignored', async () => {
  const sizes: TerminalSize[] = [];
  let input = '';
  await session('v4.channel.k8s.io', 'stdin=true&stdout=true&tty=true', (ws) => {
    ws.send(frame(4, JSON.stringify({ Width: 120, Height: 40 })));
    ws.send(frame(4, '{"Width":0,"Height":10}'));
    ws.send(frame(255, Buffer.from([0])));
    ws.send(frame(4, JSON.stringify({ Width: 81, Height: 25 })));
    ws.send(frame(0, 'done'));
  }, async (io, s) => {
    assert.equal(s.stderr, undefined, 'no stderr with a terminal');
    s.sizes!.on('resize', (x) => sizes.push(x));
    // Input after the [255, 0] still arrives: v4 does not close streams that way.
    for await (const d of s.stdin!) { input += d; if (input.includes('done')) break; }
    io.finish({ status: 'Success' });
  });
  assert.deepEqual(sizes, [{ width: 120, height: 40 }, { width: 81, height: 25 }]);
  assert.equal(input, 'done');
});

test('a client that leaves aborts the session (the exec is killed, the attach ends)', async () => {
  let aborted = false;
  await session('v5.channel.k8s.io', 'stdin=true', (ws) => { ws.terminate(); }, async (io, s) => {
    await new Promise<void>((ok) => s.signal!.addEventListener('abort', () => ok()));
    aborted = true;
    io.finish({ status: 'Success' });
  });
  assert.equal(aborted, true);
});
