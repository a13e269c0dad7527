/**
 * The watch verb: a chunked stream of newline-delimited JSON events
 * (`{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":...}`), started from a list
 * (resourceVersion "" or "0": synthetic ADDED events first) or from a given revision. A
 * compacted start revision yields one ERROR event carrying a 410 Expired Status, after which
 * clients re-list. Selectors are applied per event, turning objects that stop (start)
 * matching into DELETED (ADDED) events, as the real watch cache does.
 */
import type { ServerResponse } from 'node:http';
import type { Storage } from './storage.js';
import { decode } from './storage.js';
import { keyPrefix, groupVersion, type ResourceInfo } from './resources.js';
import type { Matcher } from './selectors.js';
import { isCode } from '../core/errors.js';
import { badRequest } from './status.js';

/** Parameters of one watch request. */
export interface WatchParams {
  match: Matcher;
  resourceVersion?: string;
  allowBookmarks: boolean;
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
  /** Turns an event's object into what the client asked for (an object or a one-row Table). */
  render: (obj: any) => unknown;
  /** Interval between BOOKMARK events, in ms. */
  bookmarkMs?: number;
}

/** Default watch length when the client gives none: the real server picks 30-60 minutes. */
const DEFAULT_TIMEOUT_S = 1800;

/** Streams a watch on `r` (in `ns`, or all namespaces) into `res` until timeout or disconnect. */
export async function serveWatch(res: ServerResponse, storage: Storage, r: ResourceInfo, ns: string | undefined, p: WatchParams): Promise<void> {
  const prefix = keyPrefix(r, ns);
  const rvParam = p.resourceVersion ?? '';
  let initial: any[] = [];
  let from: number;
  const wantInitial = p.sendInitialEvents ?? (rvParam === '' || rvParam === '0');
  if (rvParam === '' || rvParam === '0' || p.sendInitialEvents) {
    const listed = await storage.list(r, ns, { match: p.match });
    from = listed.revision;
    if (wantInitial) initial = listed.items;
  } else {
    from = Number(rvParam);
    if (!Number.isInteger(from) || from < 0) throw badRequest(`invalid resource version: ${rvParam}`);
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const watch = storage.backend.watch(prefix, from);
  let lastRev = from;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    watch.close();
    clearTimeout(timer);
    clearInterval(bookmarks);
    res.end();
  };
  const send = async (type: string, object: unknown) => {
    if (ended) return;
    if (!res.write(JSON.stringify({ type, object }) + '\n')) {
      // Wait for drain or close, and drop the other listener so a slow watcher does not pile them up.
      await new Promise<void>((ok) => {
        const done = () => { res.off('drain', done); res.off('close', done); ok(); };
        res.once('drain', done);
        res.once('close', done);
      });
    }
  };
  const bookmark = (extra: Record<string, string> = {}) => send('BOOKMARK', {
    kind: r.kind, apiVersion: groupVersion(r),
    metadata: { resourceVersion: String(lastRev), ...(Object.keys(extra).length ? { annotations: extra } : {}) },
  });
  const timer = setTimeout(end, (p.timeoutSeconds && p.timeoutSeconds > 0 ? p.timeoutSeconds : DEFAULT_TIMEOUT_S) * 1000);
  const bookmarks = setInterval(() => { if (p.allowBookmarks) void bookmark(); }, p.bookmarkMs ?? 60_000);
  res.on('close', end);
  try {
    for (const obj of initial) await send('ADDED', p.render(obj));
    if (p.sendInitialEvents && p.allowBookmarks) await bookmark({ 'k8s.io/initial-events-end': 'true' });
    for await (const batch of watch) {
      for (const ev of batch) {
        lastRev = ev.kv.modRevision;
        const obj = decode(ev.kv);
        const prev = ev.prevKv ? decode(ev.prevKv) : undefined;
        if (ev.type === 'delete') {
          if (p.match(prev ?? obj)) await send('DELETED', p.render(obj));
          continue;
        }
        const now = p.match(obj), before = prev ? p.match(prev) : false;
        if (now && before) await send('MODIFIED', p.render(obj));
        else if (now) await send('ADDED', p.render(obj));
        else if (before) await send('DELETED', p.render(obj));
      }
    }
  } catch (err) {
    if (isCode(err, 'GONE')) {
      const compacted = await storage.backend.compactRevision().catch(() => 0);
      await send('ERROR', {
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
        message: `too old resource version: ${from} (${compacted})`, reason: 'Expired', code: 410,
      });
    } else if (!ended) {
      await send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: (err as Error).message, reason: 'InternalError', code: 500 });
    }
  } finally {
    end();
  }
}
