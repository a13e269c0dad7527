/**
 * The list+watch source informers consume (the shape src/controllers/runtime expects):
 * `list()` reads every page (limit 500, one snapshot) and returns the list's resourceVersion;
 * `watch(rv)` streams events from there with bookmarks. A 410 Expired (compacted history) ends
 * the watch with GoneError, the signal to re-list; other ERROR events end it with an
 * ApiStatusError.
 */
import { GoneError } from '../core/errors.js';
import { ApiStatusError, type ApiClient, type KObject, type ResourceRef, type WatchEvent } from './client.js';

/** A source of objects for an informer. */
export interface ListWatchSource<T = KObject> {
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  watch(resourceVersion: string): AsyncIterable<WatchEvent<T>> & { close(): void };
}

/** A list+watch source over one resource (in one namespace, or all), with optional selectors. */
export function listWatch<T extends KObject = KObject>(client: ApiClient, r: ResourceRef, namespace?: string,
  sel: { labelSelector?: string; fieldSelector?: string; timeoutSeconds?: number } = {}): ListWatchSource<T> {
  return {
    async list() {
      const items: T[] = [];
      let cont: string | undefined;
      let rv = '';
      do {
        const page = await client.list<T>(r, namespace, { ...sel, limit: 500, continue: cont });
        items.push(...page.items);
        rv ||= page.metadata.resourceVersion;
        cont = page.metadata.continue;
      } while (cont);
      return { items, resourceVersion: rv };
    },
    watch(resourceVersion: string) {
      const w = client.watch<T>(r, namespace, { ...sel, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: sel.timeoutSeconds ?? 300 });
      return {
        close: () => w.close(),
        async *[Symbol.asyncIterator]() {
          for await (const e of w) {
            if (e.type === 'ERROR') {
              const s = e.object as any;
              if (s?.code === 410) throw new GoneError(s.message ?? 'resource version too old');
              throw new ApiStatusError(s?.code ?? 500, s?.reason ?? 'Unknown', s?.message ?? 'watch error', s);
            }
            yield e;
          }
        },
      };
    },
  };
}
