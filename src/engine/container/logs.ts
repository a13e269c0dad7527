/**
 * Container logs in the Kubernetes CRI format that conmon writes (`k8s-file`): one line per
 * chunk, `<RFC3339Nano> <stdout|stderr> <F|P> <text>`, where P marks a partial line continued
 * by the next entry. Reading, tailing and following them.
 */
import fs from 'node:fs/promises';
import { isENOENT } from '../../core/errors.js';

/** One complete log line. */
export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** Parses CRI log text into lines (partial chunks joined). */
export function parseCriLog(text: string, carry: { partial?: LogLine } = {}): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const a = raw.indexOf(' ');
    const b = raw.indexOf(' ', a + 1);
    const c = raw.indexOf(' ', b + 1);
    if (a < 0 || b < 0) continue;
    const time = raw.slice(0, a);
    const stream = raw.slice(a + 1, b) as LogLine['stream'];
    const tag = c < 0 ? raw.slice(b + 1) : raw.slice(b + 1, c);
    const body = c < 0 ? '' : raw.slice(c + 1);
    const prev = carry.partial;
    const line: LogLine = prev && prev.stream === stream ? { ...prev, text: prev.text + body } : { time, stream, text: body };
    if (tag.startsWith('P')) {
      carry.partial = line;
    } else {
      carry.partial = undefined;
      out.push(line);
    }
  }
  return out;
}

/** Options for reading logs. */
export interface LogOptions {
  tail?: number;
  follow?: boolean;
  timestamps?: boolean;
  /** Only lines logged at or after this time (ms since the epoch), applied after `tail` as the kubelet does. */
  since?: number;
  /** Resolves when following should stop (the container exited). */
  until?: Promise<unknown>;
}

/** Writes a container's log to stdout/stderr streams, as `docker logs` does. */
export async function streamLogs(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream, o: LogOptions = {}): Promise<void> {
  const emit = (l: LogLine) => {
    if (o.since !== undefined && Date.parse(l.time) < o.since) return;
    (l.stream === 'stderr' ? err : out).write(`${o.timestamps ? l.time + ' ' : ''}${l.text}\n`);
  };
  let offset = 0;
  const carry: { partial?: LogLine } = {};
  const readMore = async (): Promise<LogLine[]> => {
    let fh;
    try {
      fh = await fs.open(file, 'r');
    } catch (e) {
      if (isENOENT(e)) return [];
      throw e;
    }
    try {
      const { size } = await fh.stat();
      if (size <= offset) return [];
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset);
      // Only whole lines; the rest is read next time.
      const end = buf.lastIndexOf(0x0a);
      if (end < 0) return [];
      offset += end + 1;
      return parseCriLog(buf.subarray(0, end + 1).toString('utf8'), carry);
    } finally {
      await fh.close();
    }
  };
  let lines = await readMore();
  if (o.tail !== undefined && o.tail >= 0) lines = o.tail === 0 ? [] : lines.slice(-o.tail);
  lines.forEach(emit);
  if (!o.follow) return;
  let done = false;
  const until = o.until?.then(() => { done = true; });
  for (;;) {
    const stop = done;
    (await readMore()).forEach(emit);
    if (stop) return;
    // Poll for new lines, but wake at once when the container exits (a last read follows).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => { timer = setTimeout(r, 100); }), until ?? new Promise(() => {})]);
    clearTimeout(timer);
  }
}
