/**
 * In-process watch fan-out for a single-writer backend: the writer publishes each committed
 * batch of events (in revision order) right after its commit, in the same synchronous step,
 * so a watcher registered at revision R sees every later event live and reads events up to
 * R from the table (history replay) without gaps or duplicates.
 */
import { GoneError } from '../core/errors.js';
import type { Watch, WatchEvent } from './types.js';

/** Reads history for a replaying watcher: events with lo < revision <= hi under `prefix`. */
export type HistoryReader = (prefix: string, lo: number, hi: number) => WatchEvent[];

/** What the hub needs from its backend. */
export interface HubSource {
  /** The latest committed revision. */
  revision(): number;
  /** The oldest readable revision. */
  compacted(): number;
  /** Reads history (synchronously; the caller bounds each window). */
  history: HistoryReader;
}

/** Revisions read from the table per synchronous step of a replay (bounds event-loop stalls). */
const REPLAY_WINDOW = 2000;
/** Live events a watcher may have queued before it is cut off as too slow (like etcd's slow watchers). */
const MAX_QUEUED = 100_000;

/** The etcd-like error for a revision that compaction removed. */
export function compactedError(revision: number, compacted: number): GoneError {
  return new GoneError(`mvcc: required revision has been compacted (asked for ${revision}, oldest is ${compacted})`);
}

interface Watcher {
  prefix: string;
  after: number;
  queue: WatchEvent[][];
  queued: number;
  overflow: boolean;
  wake?: () => void;
}

/** Fans committed events out to the backend's watchers. */
export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  constructor(private readonly src: HubSource) {}

  /** Delivers a committed batch (revision order) to every watcher whose prefix matches. */
  publish(events: WatchEvent[]): void {
    for (const w of this.watchers) {
      const mine = events.filter((e) => e.kv.modRevision > w.after && e.kv.key.startsWith(w.prefix));
      if (!mine.length) continue;
      w.queue.push(mine);
      w.queued += mine.length;
      if (w.queued > MAX_QUEUED) w.overflow = true;
      w.wake?.();
    }
  }

  /** Ends every watch (on close). */
  closeAll(): void {
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      w.wake?.();
    }
  }

  /** Opens a watch on `prefix` for revisions after `afterRevision`. */
  watch(prefix: string, afterRevision: number): Watch {
    const src = this.src;
    const w: Watcher = { prefix, after: afterRevision, queue: [], queued: 0, overflow: false };
    // Everything up to `replayUntil` comes from the table; later events arrive live.
    const replayUntil = Math.max(src.revision(), afterRevision);
    const goneAtStart = afterRevision < src.compacted();
    if (!goneAtStart) this.watchers.add(w);
    let closed = goneAtStart;
    const close = () => {
      closed = true;
      this.watchers.delete(w);
      w.wake?.();
    };
    const hub = this;
    return {
      close,
      async *[Symbol.asyncIterator]() {
        if (goneAtStart) throw compactedError(afterRevision, src.compacted());
        try {
          let pos = afterRevision;
          while (!closed && pos < replayUntil) {
            if (pos < src.compacted()) throw compactedError(pos, src.compacted());
            const hi = Math.min(pos + REPLAY_WINDOW, replayUntil);
            const events = src.history(prefix, pos, hi);
            pos = hi;
            if (events.length) yield events;
            else await new Promise<void>((r) => setImmediate(r)); // let others run between empty windows
          }
          while (!closed && hub.watchers.has(w)) {
            if (w.overflow) throw new GoneError('watcher fell too far behind and was cancelled; re-list and watch again');
            if (w.queue.length) {
              const batch = w.queue.length === 1 ? w.queue[0] : w.queue.flat();
              w.queue = [];
              w.queued = 0;
              yield batch;
              continue;
            }
            await new Promise<void>((r) => (w.wake = r));
            w.wake = undefined;
          }
        } finally {
          close();
        }
      },
    };
  }
}
