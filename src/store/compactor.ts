/**
 * The periodic compactor, like the Kubernetes API server's etcd compaction: every interval
 * (5 minutes by default) compact to the revision seen one interval ago, so about one
 * interval of history stays readable for watches and paginated lists, but never closer than
 * `keepRevisions` to the current revision.
 */
import type { Backend } from './types.js';

/** Compaction policy. */
export interface CompactorOptions {
  /** Milliseconds between compactions; 0 turns the compactor off (default 300000). */
  compactIntervalMs?: number;
  /** Revisions always kept behind the current one (default 1000). */
  keepRevisions?: number;
}

/** Runs `backend.compact` on a timer; `stop()` ends it. */
export class Compactor {
  private timer?: NodeJS.Timeout;
  private seen = 0;
  private running = false;
  private readonly keep: number;

  constructor(private readonly backend: Pick<Backend, 'currentRevision' | 'compactRevision' | 'compact'>, opts: CompactorOptions = {}) {
    const interval = opts.compactIntervalMs ?? 300_000;
    this.keep = opts.keepRevisions ?? 1000;
    if (interval > 0) {
      this.timer = setInterval(() => void this.tick().catch(() => {}), interval);
      this.timer.unref(); // the store never keeps a process alive on its own
    }
  }

  /** One round: compact to the revision seen at the previous round, minus the kept window. */
  async tick(): Promise<number | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const cur = await this.backend.currentRevision();
      const target = Math.min(this.seen, cur - this.keep);
      this.seen = cur;
      if (target <= (await this.backend.compactRevision())) return undefined;
      await this.backend.compact(target);
      return target;
    } finally {
      this.running = false;
    }
  }

  /** Stops the timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
