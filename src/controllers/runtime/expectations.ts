/**
 * Controller expectations, as kube-controller-manager's: after a sync creates or deletes N
 * pods it must not act again on its (not yet updated) cache until the informer has seen those
 * N changes, or it would create duplicates. Expectations expire after five minutes so a lost
 * event cannot wedge a controller forever.
 */
import type { Clock } from './clock.js';

const TTL_MS = 5 * 60_000;

/** Outstanding creates and deletes per controller key. */
export class Expectations {
  private map = new Map<string, { add: number; del: number; at: number }>();

  constructor(private readonly clock: Clock) {}

  /** Expect `add` creations and `del` deletions for `key`. */
  expect(key: string, add: number, del: number): void {
    this.map.set(key, { add, del, at: this.clock.now() });
  }

  /** A creation for `key` was observed (or failed, so will never be). */
  creationObserved(key: string): void { const e = this.map.get(key); if (e) e.add--; }

  /** A deletion for `key` was observed (or failed). */
  deletionObserved(key: string): void { const e = this.map.get(key); if (e) e.del--; }

  /** True when the cache can be trusted for `key`. */
  satisfied(key: string): boolean {
    const e = this.map.get(key);
    return !e || (e.add <= 0 && e.del <= 0) || this.clock.now() - e.at > TTL_MS;
  }

  /** Forgets `key` (its object is gone). */
  delete(key: string): void { this.map.delete(key); }
}
