/**
 * The SPDY/3.1 framer and session: frame round-trips, header blocks, header compression
 * against known bytes (a SYN_STREAM captured from kubectl 1.27's port-forward), and a client
 * and a server session talking over an in-memory connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import {
  SPDY_DICTIONARY, decodeFrame, encodeFrame, encodeHeaderBlock, decodeHeaderBlock, HeaderCompressor,
  HeaderDecompressor, SpdySession, FLAG_FIN, type SpdyFrame, type SpdyStream,
} from './spdy.js';

// kubectl 1.27 `port-forward pod/x 18778:80`, first frame after the 101: SYN_STREAM 1 with
// streamType=error, port=80, requestID=0 (zlib header 78 f9, then the dictionary's adler32).
const KUBECTL_SYN_STREAM = Buffer.from(
  '800300010000003d0000000100000000000078f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45a024cc6461c0c0c0c0590489c44c50e2663400000000ffff', 'hex');

function adler32(b: Buffer): number {
  let a = 1, s = 0;
  for (const x of b) { a = (a + x) % 65521; s = (s + a) % 65521; }
  return ((s << 16) | a) >>> 0;
}

test('the SPDY/3 dictionary is the spec\'s (length and adler32 as zlib names it)', () => {
  assert.equal(SPDY_DICTIONARY.length, 1423);
  assert.equal(adler32(SPDY_DICTIONARY).toString(16), 'e3c6a7c2');
});

test('a SYN_STREAM from kubectl 1.27 decodes to its frame and headers', async () => {
  const got = decodeFrame(KUBECTL_SYN_STREAM)!;
  assert.equal(got.size, KUBECTL_SYN_STREAM.length);
  assert.equal(got.frame.type, 'syn_stream');
  if (got.frame.type !== 'syn_stream') return;
  assert.deepEqual([got.frame.streamId, got.frame.associatedTo, got.frame.priority, got.frame.flags], [1, 0, 0, 0]);
  const d = new HeaderDecompressor();
  assert.deepEqual(decodeHeaderBlock(await d.decompress(got.frame.block)), { streamtype: ['error'], port: ['80'], requestid: ['0'] });
  d.close();
  // Incomplete input is no frame yet.
  assert.equal(decodeFrame(KUBECTL_SYN_STREAM.subarray(0, 7)), undefined);
  assert.equal(decodeFrame(KUBECTL_SYN_STREAM.subarray(0, KUBECTL_SYN_STREAM.length - 1)), undefined);
});

test('header compression: zlib with the dictionary, one context, each block sync-flushed', async () => {
  const c = new HeaderCompressor();
  const h = { streamtype: ['data'], port: ['8080'], requestid: ['7'] };
  const first = await c.compress(encodeHeaderBlock(h));
  const second = await c.compress(encodeHeaderBlock(h));
  c.close();
  // zlib header: deflate, best compression, FDICT; then the dictionary's id.
  assert.deepEqual([...first.subarray(0, 6)], [0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2]);
  for (const b of [first, second]) assert.deepEqual([...b.subarray(-4)], [0x00, 0x00, 0xff, 0xff]);
  // The second block refers back to the first: much shorter, and no zlib header of its own.
  assert.ok(second.length < first.length / 2, `${second.length} vs ${first.length}`);
  // An independent inflater reads both blocks as one stream.
  const plain = zlib.inflateSync(Buffer.concat([first, second]), { dictionary: SPDY_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const one = encodeHeaderBlock(h);
  assert.deepEqual(plain, Buffer.concat([one, one]));
  // And ours reads what kubectl's zlib wrote, block after block in one context.
  const d = new HeaderDecompressor();
  assert.deepEqual(decodeHeaderBlock(await d.decompress(first)), h);
  assert.deepEqual(decodeHeaderBlock(await d.decompress(second)), h);
  d.close();
});

test('header blocks: lower-case names, NUL-joined values, bad blocks refused', () => {
  const b = encodeHeaderBlock({ StreamType: ['stdout'], multi: ['a', 'b'] });
  assert.deepEqual(decodeHeaderBlock(b), { streamtype: ['stdout'], multi: ['a', 'b'] });
  assert.equal(b.readUInt32BE(0), 2);
  assert.throws(() => decodeHeaderBlock(b.subarray(0, b.length - 1)), /truncated/);
  assert.deepEqual(decodeHeaderBlock(encodeHeaderBlock({})), {});
});

test('every frame type round-trips through encode and decode', () => {
  const frames: SpdyFrame[] = [
    { type: 'data', streamId: 5, flags: FLAG_FIN, data: Buffer.from('hello') },
    { type: 'data', streamId: 0x7fffffff, flags: 0, data: Buffer.alloc(0) },
    { type: 'syn_stream', flags: 3, streamId: 9, associatedTo: 1, priority: 7, block: Buffer.from([1, 2, 3]) },
    { type: 'syn_reply', flags: FLAG_FIN, streamId: 9, block: Buffer.from([4]) },
    { type: 'headers', flags: 0, streamId: 11, block: Buffer.alloc(0) },
    { type: 'rst_stream', streamId: 9, status: 5 },
    { type: 'settings', flags: 1, entries: [{ flags: 1, id: 7, value: 65536 }, { flags: 0, id: 4, value: 100 }] },
    { type: 'ping', id: 0xfffffffe },
    { type: 'goaway', lastGoodStreamId: 13, status: 2 },
    { type: 'window_update', streamId: 3, delta: 0x10000 },
  ];
  for (const f of frames) {
    const bytes = encodeFrame(f);
    const got = decodeFrame(Buffer.concat([bytes, Buffer.from([0x80])]))!; // a following frame's first byte is left
    assert.equal(got.size, bytes.length, f.type);
    const norm = (x: SpdyFrame) => JSON.parse(JSON.stringify(x));
    assert.deepEqual(norm(got.frame), norm(f), f.type);
  }
  // Known layouts: a PING and a DATA frame with FIN.
  assert.equal(encodeFrame({ type: 'ping', id: 1 }).toString('hex'), '80030006000000040000000' + '1');
  assert.equal(encodeFrame({ type: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.from('x') }).toString('hex'), '000000030100000178');
});

/** Two connected in-memory byte streams. */
function pair(): [Duplex, Duplex] {
  const mk = () => new Duplex({ read() {}, write(chunk, _e, cb) { (this as any).peer.push(chunk); cb(); }, final(cb) { (this as any).peer.push(null); cb(); } });
  const a = mk(), b = mk();
  (a as any).peer = b; (b as any).peer = a;
  return [a, b];
}

const read = (s: Duplex) => new Promise<string>((resolve) => { let t = ''; s.on('data', (d) => { t += d; }); s.on('end', () => resolve(t)); });

test('sessions: streams with headers, replies, data both ways, half-close, reset, ping, goaway', async () => {
  const [ca, sa] = pair();
  const client = new SpdySession(ca, 'client');
  const server = new SpdySession(sa, 'server');
  const seen: SpdyStream[] = [];
  server.on('stream', (s) => {
    seen.push(s);
    if (s.header('streamType') === 'refuse') { s.reset(); return; }
    s.reply();
    void read(s).then((t) => { s.end(`echo:${t}`); });
  });
  // Two streams at once; each sees its own data; FIN ends each side separately.
  const a = client.createStream({ streamtype: ['data'], port: ['80'], requestid: ['0'] });
  const b = client.createStream({ streamtype: ['data'], port: ['81'], requestid: ['1'] });
  await Promise.all([a.replied, b.replied]);
  const ra = read(a), rb = read(b);
  a.write('one'); b.write('two'); a.end(' more'); b.end();
  assert.equal(await ra, 'echo:one more');
  assert.equal(await rb, 'echo:two');
  assert.deepEqual(seen.map((s) => [s.id, s.header('port'), s.header('requestID')]), [[1, '80', '0'], [3, '81', '1']]);
  // Refused: the client's stream is reset, its reply never comes.
  const r = client.createStream({ streamtype: ['refuse'] });
  await assert.rejects(r.replied, /reset/);
  assert.equal(r.wasReset, true);
  // Large data keeps its order and size across frames.
  const big = Buffer.alloc(300_000, 'z');
  const c = client.createStream({ streamtype: ['data'] });
  await c.replied;
  const rc = read(c);
  c.end(big);
  assert.equal((await rc).length, 'echo:'.length + big.length);
  // Ping: echoed by the peer.
  await client.ping();
  // GOAWAY: no new streams; the connection ends once the open ones are done.
  const closed = new Promise<void>((res) => server.once('close', () => res()));
  client.goAway();
  await closed;
  assert.equal(server.openStreams, 0);
  assert.throws(() => client.createStream({}), /closing/);
});
