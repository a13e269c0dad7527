/**
 * SPDY/3.1 as Kubernetes speaks it (moby/spdystream under k8s.io/apimachinery's httpstream):
 * the framing (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
 * WINDOW_UPDATE, DATA), header blocks compressed with zlib and the SPDY/3 dictionary in one
 * context per direction for the whole connection, and a session that multiplexes streams
 * over one socket. kubectl up to 1.30 uses it for exec/attach/port-forward; 1.31+ tunnels it
 * inside a WebSocket for port-forward.
 *
 * Written here rather than taken from npm: spdy-transport (the only SPDY library) enforces
 * SPDY/3.1 flow control, and spdystream — kubectl's side — never sends WINDOW_UPDATE, so a
 * stream would stall after its first 64 KiB; it is also unmaintained since 2018. Like
 * spdystream we read WINDOW_UPDATE and SETTINGS and ignore them; TCP carries the back-pressure.
 */
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import zlib from 'node:zlib';

/** Control frame types (SPDY/3 section 2.6). */
export const FrameType = {
  SYN_STREAM: 1, SYN_REPLY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, HEADERS: 8, WINDOW_UPDATE: 9,
} as const;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, UNSUPPORTED_VERSION: 4, CANCEL: 5,
  INTERNAL_ERROR: 6, FLOW_CONTROL_ERROR: 7, STREAM_IN_USE: 8, STREAM_ALREADY_CLOSED: 9,
} as const;

/** Flags: FIN on DATA and on SYN_STREAM/SYN_REPLY/HEADERS; UNIDIRECTIONAL on SYN_STREAM. */
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** Header names (lower case, as on the wire) to their values (joined by NUL on the wire). */
export type SpdyHeaders = Record<string, string[]>;

/** One frame; control frames that carry headers hold the compressed block as `block`. */
export type SpdyFrame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | { type: 'syn_stream'; flags: number; streamId: number; associatedTo: number; priority: number; block: Buffer }
  | { type: 'syn_reply'; flags: number; streamId: number; block: Buffer }
  | { type: 'headers'; flags: number; streamId: number; block: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  | { type: 'unknown'; version: number; controlType: number; flags: number; payload: Buffer };

// The SPDY/3 header dictionary (spec 2.6.10.1): length-prefixed words, then a tail of
// status codes, reason phrases, dates and common values.
const DICT_WORDS = ['options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding',
  'accept-language', 'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5', 'content-range',
  'content-type', 'date', 'etag', 'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match',
  'if-range', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate',
  'proxy-authorization', 'range', 'referer', 'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'user-agent', 'vary', 'via', 'warning', 'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1',
  'url', 'public', 'set-cookie', 'keep-alive', 'origin'];
const DICT_TAIL = '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505'
  + '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized'
  + '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable'
  + 'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT'
  + 'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,'
  + 'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** The zlib dictionary of SPDY/3 header blocks (1423 bytes). */
export const SPDY_DICTIONARY: Buffer = Buffer.concat([
  ...DICT_WORDS.flatMap((w) => { const len = Buffer.alloc(4); len.writeUInt32BE(w.length); return [len, Buffer.from(w, 'latin1')]; }),
  Buffer.from(DICT_TAIL, 'latin1'),
]);

/** A header block before compression: a count, then length-prefixed names and NUL-joined values. */
export function encodeHeaderBlock(h: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  const names = Object.keys(h);
  parts.push(u32(names.length));
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(h[name].join('\0'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/** Parses a decompressed header block; names are lower-cased, values split at NUL. */
export function decodeHeaderBlock(b: Buffer): SpdyHeaders {
  const out: SpdyHeaders = {};
  let off = 0;
  const need = (n: number) => { if (off + n > b.length) throw new SpdyProtocolError('truncated header block'); };
  need(4);
  const count = b.readUInt32BE(off); off += 4;
  for (let i = 0; i < count; i++) {
    need(4); const nl = b.readUInt32BE(off); off += 4;
    need(nl); const name = b.toString('utf8', off, off + nl).toLowerCase(); off += nl;
    need(4); const vl = b.readUInt32BE(off); off += 4;
    need(vl); const value = b.toString('utf8', off, off + vl); off += vl;
    (out[name] ??= []).push(...value.split('\0'));
  }
  return out;
}

/** A malformed frame or header block. */
export class SpdyProtocolError extends Error {}

/** Serializes a frame (header blocks already compressed). */
export function encodeFrame(f: SpdyFrame): Buffer {
  if (f.type === 'data') {
    const b = Buffer.alloc(8 + f.data.length);
    b.writeUInt32BE(f.streamId & 0x7fffffff, 0);
    b.writeUInt32BE(((f.flags & 0xff) << 24 | f.data.length) >>> 0, 4);
    f.data.copy(b, 8);
    return b;
  }
  let type: number, flags = 0, payload: Buffer;
  switch (f.type) {
    case 'syn_stream':
      type = FrameType.SYN_STREAM; flags = f.flags;
      payload = Buffer.alloc(10 + f.block.length);
      payload.writeUInt32BE(f.streamId & 0x7fffffff, 0);
      payload.writeUInt32BE(f.associatedTo & 0x7fffffff, 4);
      payload[8] = (f.priority & 7) << 5;
      f.block.copy(payload, 10);
      break;
    case 'syn_reply': case 'headers':
      type = f.type === 'syn_reply' ? FrameType.SYN_REPLY : FrameType.HEADERS; flags = f.flags;
      payload = Buffer.alloc(4 + f.block.length);
      payload.writeUInt32BE(f.streamId & 0x7fffffff, 0);
      f.block.copy(payload, 4);
      break;
    case 'rst_stream': case 'goaway': case 'window_update':
      type = f.type === 'rst_stream' ? FrameType.RST_STREAM : f.type === 'goaway' ? FrameType.GOAWAY : FrameType.WINDOW_UPDATE;
      payload = Buffer.alloc(8);
      payload.writeUInt32BE((f.type === 'goaway' ? f.lastGoodStreamId : f.streamId) & 0x7fffffff, 0);
      payload.writeUInt32BE(f.type === 'rst_stream' ? f.status : f.type === 'goaway' ? f.status : f.delta & 0x7fffffff, 4);
      break;
    case 'settings':
      type = FrameType.SETTINGS; flags = f.flags;
      payload = Buffer.alloc(4 + 8 * f.entries.length);
      payload.writeUInt32BE(f.entries.length, 0);
      f.entries.forEach((e, i) => {
        payload.writeUInt32BE(((e.flags & 0xff) << 24 | (e.id & 0xffffff)) >>> 0, 4 + 8 * i);
        payload.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
      });
      break;
    case 'ping':
      type = FrameType.PING;
      payload = Buffer.alloc(4);
      payload.writeUInt32BE(f.id >>> 0, 0);
      break;
    case 'unknown':
      type = f.controlType; flags = f.flags; payload = f.payload;
      break;
  }
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | 3, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24 | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

/**
 * Parses one frame at the start of `buf`: the frame and its size in bytes, or undefined when
 * `buf` holds only part of it. Throws SpdyProtocolError for frames that cannot be valid.
 */
export function decodeFrame(buf: Buffer): { frame: SpdyFrame; size: number } | undefined {
  if (buf.length < 8) return undefined;
  const len = buf.readUInt32BE(4) & 0xffffff;
  const flags = buf[4];
  if (buf.length < 8 + len) return undefined;
  const size = 8 + len;
  const p = buf.subarray(8, size);
  if ((buf[0] & 0x80) === 0) return { frame: { type: 'data', streamId: buf.readUInt32BE(0) & 0x7fffffff, flags, data: p }, size };
  const version = buf.readUInt16BE(0) & 0x7fff;
  const type = buf.readUInt16BE(2);
  const want = (n: number) => { if (p.length < n) throw new SpdyProtocolError(`control frame ${type} too short`); };
  if (version !== 3) return { frame: { type: 'unknown', version, controlType: type, flags, payload: p }, size };
  switch (type) {
    case FrameType.SYN_STREAM:
      want(10);
      return { frame: { type: 'syn_stream', flags, streamId: p.readUInt32BE(0) & 0x7fffffff, associatedTo: p.readUInt32BE(4) & 0x7fffffff, priority: p[8] >> 5, block: p.subarray(10) }, size };
    case FrameType.SYN_REPLY: case FrameType.HEADERS:
      want(4);
      return { frame: { type: type === FrameType.SYN_REPLY ? 'syn_reply' : 'headers', flags, streamId: p.readUInt32BE(0) & 0x7fffffff, block: p.subarray(4) }, size };
    case FrameType.RST_STREAM:
      want(8);
      return { frame: { type: 'rst_stream', streamId: p.readUInt32BE(0) & 0x7fffffff, status: p.readUInt32BE(4) }, size };
    case FrameType.SETTINGS: {
      want(4);
      const n = p.readUInt32BE(0);
      want(4 + 8 * n);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const w = p.readUInt32BE(4 + 8 * i);
        entries.push({ flags: w >>> 24, id: w & 0xffffff, value: p.readUInt32BE(8 + 8 * i) });
      }
      return { frame: { type: 'settings', flags, entries }, size };
    }
    case FrameType.PING:
      want(4);
      return { frame: { type: 'ping', id: p.readUInt32BE(0) }, size };
    case FrameType.GOAWAY:
      want(8);
      return { frame: { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & 0x7fffffff, status: p.readUInt32BE(4) }, size };
    case FrameType.WINDOW_UPDATE:
      want(8);
      return { frame: { type: 'window_update', streamId: p.readUInt32BE(0) & 0x7fffffff, delta: p.readUInt32BE(4) & 0x7fffffff }, size };
    default:
      return { frame: { type: 'unknown', version, controlType: type, flags, payload: p }, size };
  }
}

/**
 * One direction's header compression context: zlib with the SPDY dictionary, each block ended
 * with a sync flush, the context kept across blocks (later blocks refer back to earlier ones).
 * Calls are serialized so blocks come out in the order they went in.
 */
export class HeaderCompressor {
  private readonly z = zlib.createDeflate({ level: zlib.constants.Z_BEST_COMPRESSION, dictionary: SPDY_DICTIONARY });
  private readonly chunks: Buffer[] = [];
  private tail: Promise<unknown> = Promise.resolve();

  constructor() { this.z.on('data', (d: Buffer) => this.chunks.push(d)); this.z.on('error', () => {}); }

  /** Compresses one header block. */
  compress(block: Buffer): Promise<Buffer> {
    const p = this.tail.then(() => new Promise<Buffer>((resolve) => {
      this.z.write(block);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(this.chunks.splice(0))));
    }));
    this.tail = p.catch(() => {});
    return p;
  }

  /** Frees the zlib context. */
  close(): void { this.z.destroy(); }
}

/** The receiving direction's context (see HeaderCompressor). */
export class HeaderDecompressor {
  private readonly z = zlib.createInflate({ dictionary: SPDY_DICTIONARY });
  private readonly chunks: Buffer[] = [];
  private failure?: Error;
  private tail: Promise<unknown> = Promise.resolve();

  constructor() {
    this.z.on('data', (d: Buffer) => this.chunks.push(d));
    this.z.on('error', (err) => { this.failure = err; });
  }

  /** Decompresses one header block. */
  decompress(block: Buffer): Promise<Buffer> {
    const p = this.tail.then(() => new Promise<Buffer>((resolve, reject) => {
      if (this.failure) return reject(new SpdyProtocolError(`header block: ${this.failure.message}`));
      this.z.write(block);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (this.failure) reject(new SpdyProtocolError(`header block: ${this.failure.message}`));
        else resolve(Buffer.concat(this.chunks.splice(0)));
      });
    }));
    this.tail = p.catch(() => {});
    return p;
  }

  /** Frees the zlib context. */
  close(): void { this.z.destroy(); }
}

// Largest DATA payload we send in one frame: small enough to interleave streams fairly.
const MAX_CHUNK = 64 * 1024;

/**
 * One SPDY stream: a Duplex whose readable side is the peer's DATA (ended by its FIN) and
 * whose writable side becomes our DATA frames (end() sends FIN). `reset()` aborts both ways.
 */
export class SpdyStream extends Duplex {
  /** The peer's SYN_STREAM headers (or ours, for a stream we opened). */
  readonly headers: SpdyHeaders;
  /** Set once RST_STREAM went either way. */
  wasReset = false;
  /** Resolves when the peer answered our SYN_STREAM (rejects if it reset the stream). */
  readonly replied: Promise<void>;
  /** @internal */ replyState: { resolve: () => void; reject: (e: Error) => void; done: boolean };
  /** @internal */ remoteEnded = false;
  /** @internal */ localEnded = false;

  constructor(private readonly session: SpdySession, readonly id: number, headers: SpdyHeaders, localEnded = false) {
    super({ allowHalfOpen: true });
    this.headers = headers;
    this.localEnded = localEnded;
    let rs!: typeof this.replyState;
    this.replied = new Promise<void>((resolve, reject) => { rs = { resolve, reject, done: false }; });
    this.replied.catch(() => {});
    this.replyState = rs;
  }

  /** The first value of a header (names are case-insensitive). */
  header(name: string): string | undefined { return this.headers[name.toLowerCase()]?.[0]; }

  /** Answers the peer's SYN_STREAM (accepting the stream). */
  reply(headers: SpdyHeaders = {}, fin = false): void {
    if (fin) this.localEnded = true;
    this.session.sendHeaders('syn_reply', this.id, headers, fin ? FLAG_FIN : 0);
    if (fin) this.session.maybeForget(this);
  }

  /** Aborts the stream both ways (RST_STREAM CANCEL unless told otherwise). */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.wasReset) return;
    this.wasReset = true;
    this.session.sendFrame({ type: 'rst_stream', streamId: this.id, status });
    this.session.forget(this);
    this.abort(true);
  }

  /**
   * @internal Ends both sides without an error: our own reset destroys the stream; the peer's
   * reset or the connection's end leave the data already received readable.
   */
  abort(reset: boolean): void {
    const readable = !this.remoteEnded;
    this.remoteEnded = true;
    this.localEnded = true;
    if (!this.replyState.done) { this.replyState.done = true; this.replyState.reject(new Error('stream reset')); }
    if (readable) this.push(null);
    if (reset) this.destroy();
    else if (!this.writableFinished) this.end();
  }

  override _read(): void { this.session.unblock(this); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // After our FIN, a reset or the connection's end there is nowhere to send: dropped quietly.
    if (this.localEnded || this.wasReset || this.session.closed) return cb();
    let ok = true;
    for (let off = 0; off < chunk.length; off += MAX_CHUNK) {
      ok = this.session.sendFrame({ type: 'data', streamId: this.id, flags: 0, data: chunk.subarray(off, off + MAX_CHUNK) });
    }
    if (ok) cb(); else this.session.onDrain(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localEnded && !this.wasReset) {
      this.localEnded = true;
      this.session.sendFrame({ type: 'data', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
      this.session.maybeForget(this);
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Destroyed before both sides ended: tell the peer, as spdystream's Reset does.
    if (!this.wasReset && (!this.localEnded || !this.remoteEnded) && !this.session.closed) {
      this.wasReset = true;
      this.session.sendFrame({ type: 'rst_stream', streamId: this.id, status: RstStatus.CANCEL });
    }
    this.session.forget(this);
    cb(err);
  }
}

/** What a session emits. */
export interface SpdySessionEvents {
  /** The peer opened a stream; call reply() to accept it or reset() to refuse it. */
  stream: [SpdyStream];
  /** The peer sent GOAWAY. */
  goaway: [number];
  /** The connection is gone; every stream has ended. */
  close: [];
}

/**
 * A SPDY/3.1 connection over a byte stream (a socket, or a WebSocket tunnel), as spdystream
 * runs it: stream IDs odd from the client and even from the server, PINGs echoed, SETTINGS
 * and WINDOW_UPDATE read and ignored, GOAWAY honoured.
 */
export class SpdySession extends EventEmitter<SpdySessionEvents> {
  /** True once the connection is gone. */
  closed = false;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly deflate = new HeaderCompressor();
  private readonly inflate = new HeaderDecompressor();
  private nextId: number;
  private lastPeerId = 0;
  private nextPingId: number;
  private readonly pings = new Map<number, () => void>();
  private goneAway = false;
  private buf: Buffer = Buffer.alloc(0);
  private reading = false;
  private peerEnded = false;
  private readonly blocked = new Set<SpdyStream>();
  // Frames leave in the order they were sent, even when a header block is still compressing.
  private readonly outq: { buf?: Buffer; end?: boolean }[] = [];
  private drainWaiters: (() => void)[] = [];

  constructor(private readonly socket: Duplex, readonly role: 'server' | 'client') {
    super();
    this.nextId = role === 'server' ? 2 : 1;
    this.nextPingId = role === 'server' ? 2 : 1;
    socket.on('data', (d: Buffer) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; void this.pump(); });
    socket.on('drain', () => { const w = this.drainWaiters; this.drainWaiters = []; for (const f of w) f(); });
    // The peer's last frames may still be waiting for their header blocks: read them all first.
    const ended = () => { this.peerEnded = true; void this.pump(); };
    socket.on('end', ended);
    socket.on('close', ended);
    socket.on('error', () => this.shutdown());
  }

  /** Opens a stream with `headers` (client side: kubectl's CreateStream). */
  createStream(headers: SpdyHeaders, fin = false): SpdyStream {
    if (this.closed || this.goneAway) throw new Error('connection is closing');
    const id = this.nextId;
    this.nextId += 2;
    const s = new SpdyStream(this, id, headers, fin);
    this.streams.set(id, s);
    this.sendHeaders('syn_stream', id, headers, fin ? FLAG_FIN : 0);
    return s;
  }

  /** Sends a PING; resolves when the peer echoes it. */
  ping(): Promise<void> {
    const id = this.nextPingId;
    this.nextPingId += 2;
    return new Promise((resolve) => { this.pings.set(id, resolve); this.sendFrame({ type: 'ping', id }); });
  }

  /** The connection's open streams. */
  get openStreams(): number { return this.streams.size; }

  /** Closes as apimachinery's connection does: reset every stream, GOAWAY, then the socket. */
  close(): void {
    if (this.closed) return;
    for (const s of [...this.streams.values()]) s.reset();
    this.goAway();
    this.endSocket();
  }

  /** Sends GOAWAY (no new streams) and ends the socket once the open streams are done. */
  goAway(): void {
    if (this.goneAway || this.closed) return;
    this.goneAway = true;
    this.sendFrame({ type: 'goaway', lastGoodStreamId: this.lastPeerId, status: 0 });
    if (!this.streams.size) this.endSocket();
  }

  /** @internal Queues a frame; false when the socket wants the writer to wait for 'drain'. */
  sendFrame(f: SpdyFrame): boolean {
    if (this.closed) return true;
    this.outq.push({ buf: encodeFrame(f) });
    return this.flushOut();
  }

  /** @internal Queues a frame with a header block (compressed in order). */
  sendHeaders(type: 'syn_stream' | 'syn_reply' | 'headers', streamId: number, headers: SpdyHeaders, flags: number): void {
    if (this.closed) return;
    const slot: { buf?: Buffer } = {};
    this.outq.push(slot);
    this.deflate.compress(encodeHeaderBlock(headers)).then((block) => {
      slot.buf = encodeFrame(type === 'syn_stream'
        ? { type, flags, streamId, associatedTo: 0, priority: 0, block }
        : { type, flags, streamId, block });
      this.flushOut();
    }, () => this.shutdown());
  }

  /** @internal Calls `f` once the socket drained. */
  onDrain(f: () => void): void { if (this.closed) f(); else this.drainWaiters.push(f); }

  /** @internal A stream's reader wants more: resume the socket if nothing else is full. */
  unblock(s: SpdyStream): void {
    if (this.blocked.delete(s) && !this.blocked.size) this.socket.resume();
  }

  /** @internal Drops a stream once both of its sides are done. */
  maybeForget(s: SpdyStream): void {
    if (s.localEnded && s.remoteEnded) this.forget(s);
  }

  /** @internal Drops a stream. */
  forget(s: SpdyStream): void {
    this.streams.delete(s.id);
    this.unblock(s);
    if (this.goneAway && !this.streams.size) this.endSocket();
  }

  private flushOut(): boolean {
    let ok = true;
    while (this.outq.length && (this.outq[0].buf || this.outq[0].end)) {
      const item = this.outq.shift()!;
      if (!this.socket.writable) continue;
      if (item.end) this.socket.end();
      else ok = this.socket.write(item.buf!);
    }
    return ok;
  }

  private endSocket(): void {
    // After the frames queued so far (a header block may still be compressing).
    this.outq.push({ end: true });
    this.flushOut();
  }

  private async pump(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (!this.closed) {
        const got = decodeFrame(this.buf);
        if (!got) break;
        this.buf = this.buf.subarray(got.size);
        await this.handle(got.frame);
      }
    } catch (err) {
      // A frame we cannot read: the connection cannot go on (the header context is lost).
      if (!this.closed) this.sendFrame({ type: 'goaway', lastGoodStreamId: this.lastPeerId, status: 1 });
      this.socket.destroy();
      this.shutdown();
    } finally {
      this.reading = false;
    }
    if (this.peerEnded) this.shutdown();
  }

  private async handle(f: SpdyFrame): Promise<void> {
    switch (f.type) {
      case 'syn_stream': {
        const headers = decodeHeaderBlock(await this.inflate.decompress(f.block));
        const peerOdd = this.role === 'server';
        if (f.streamId === 0 || (f.streamId % 2 === 1) !== peerOdd || f.streamId <= this.lastPeerId) {
          this.sendFrame({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.PROTOCOL_ERROR });
          return;
        }
        this.lastPeerId = f.streamId;
        if (this.goneAway) { this.sendFrame({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.REFUSED_STREAM }); return; }
        const s = new SpdyStream(this, f.streamId, headers, (f.flags & FLAG_UNIDIRECTIONAL) !== 0);
        s.replyState.done = true;
        s.replyState.resolve();
        this.streams.set(f.streamId, s);
        if (f.flags & FLAG_FIN) { s.remoteEnded = true; s.push(null); }
        this.emit('stream', s);
        return;
      }
      case 'syn_reply': case 'headers': {
        await this.inflate.decompress(f.block); // keeps the shared context in step
        const s = this.streams.get(f.streamId);
        if (!s) return;
        if (f.type === 'syn_reply' && !s.replyState.done) { s.replyState.done = true; s.replyState.resolve(); }
        if (f.flags & FLAG_FIN) this.remoteFin(s);
        return;
      }
      case 'data': {
        const s = this.streams.get(f.streamId);
        if (!s || s.remoteEnded) return; // gone: dropped, as spdystream does
        if (f.data.length && !s.push(Buffer.from(f.data))) {
          this.blocked.add(s);
          this.socket.pause();
        }
        if (f.flags & FLAG_FIN) this.remoteFin(s);
        return;
      }
      case 'rst_stream': {
        const s = this.streams.get(f.streamId);
        if (!s) return;
        s.wasReset = true;
        this.forget(s);
        // What the peer sent before its reset stays readable, as spdystream hands over every
        // DATA frame before it sees the RST (the kubelet resets every stream after the exit status).
        s.abort(false);
        return;
      }
      case 'ping': {
        const mine = (f.id % 2) === (this.role === 'server' ? 0 : 1);
        if (!mine) { this.sendFrame(f); return; }
        const done = this.pings.get(f.id);
        this.pings.delete(f.id);
        done?.();
        return;
      }
      case 'goaway':
        this.emit('goaway', f.lastGoodStreamId);
        this.goneAway = true;
        if (!this.streams.size) this.endSocket();
        return;
      case 'unknown':
        if (f.version !== 3) throw new SpdyProtocolError(`unsupported SPDY version ${f.version}`);
        return;
      default:
        return; // SETTINGS, WINDOW_UPDATE: no flow control (see the file comment)
    }
  }

  private remoteFin(s: SpdyStream): void {
    if (s.remoteEnded) return;
    s.remoteEnded = true;
    s.push(null);
    this.maybeForget(s);
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    const open = [...this.streams.values()];
    this.streams.clear();
    for (const s of open) s.abort(false);
    for (const f of this.pings.values()) f();
    this.pings.clear();
    const w = this.drainWaiters; this.drainWaiters = []; for (const f of w) f();
    this.deflate.close();
    this.inflate.close();
    if (!this.socket.destroyed) this.socket.destroy();
    this.emit('close');
  }
}
