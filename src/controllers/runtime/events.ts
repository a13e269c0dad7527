/**
 * Events as Kubernetes' controllers write them (core/v1 Event): one object per (object,
 * reason, message, source); a repeat bumps its count and lastTimestamp instead of making a new
 * object, so a controller retrying in a loop does not flood the store. Writes are
 * fire-and-forget: an event that cannot be written never fails the work it describes.
 */
import { randomBytes } from 'node:crypto';
import type { ApiClient, KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { rfc3339, type Clock } from './clock.js';

/** Normal or Warning, as Kubernetes. */
export type EventType = 'Normal' | 'Warning';

/** Writes Events about objects. */
export interface EventRecorder {
  /** Records `reason`/`message` about `obj`. */
  event(obj: KObject, type: EventType, reason: string, message: string): void;
}

/** A recorder that keeps events in memory (unit tests of logic). */
export class MemoryRecorder implements EventRecorder {
  /** Events recorded, oldest first. */
  readonly events: { kind?: string; name?: string; namespace?: string; type: EventType; reason: string; message: string }[] = [];
  event(obj: KObject, type: EventType, reason: string, message: string): void {
    this.events.push({ kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, type, reason, message });
  }
}

/** Writes Events through the API. */
export class ApiEventRecorder implements EventRecorder {
  private seen = new Map<string, { name: string; namespace: string; count: number }>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly client: ApiClient, private readonly component: string, private readonly clock: Clock, private readonly host?: string) {}

  event(obj: KObject, type: EventType, reason: string, message: string): void {
    const m = obj.metadata;
    const namespace = m.namespace || 'default';
    const key = `${obj.kind}|${namespace}|${m.name}|${m.uid}|${type}|${reason}|${message}`;
    const now = rfc3339(this.clock.now());
    const prev = this.seen.get(key);
    // One write at a time keeps counts ordered and bounds the load a noisy controller makes.
    this.chain = this.chain.then(async () => {
      if (prev) {
        prev.count++;
        await this.client.patch(R.events, prev.namespace, prev.name, { count: prev.count, lastTimestamp: now }, 'merge');
        return;
      }
      const name = `${m.name}.${Date.now().toString(16)}${randomBytes(2).toString('hex')}`;
      const ev = {
        apiVersion: 'v1', kind: 'Event', metadata: { name, namespace },
        involvedObject: { kind: obj.kind, namespace: m.namespace, name: m.name, uid: m.uid, apiVersion: obj.apiVersion, resourceVersion: m.resourceVersion },
        reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now,
        source: { component: this.component, ...(this.host ? { host: this.host } : {}) },
        reportingComponent: this.component, reportingInstance: this.host ?? '',
      };
      await this.client.create(R.events, namespace, ev);
      if (this.seen.size > 4096) this.seen.clear();
      this.seen.set(key, { name, namespace, count: 1 });
    }).catch(() => {});
  }

  /** Resolves when every event so far is written (tests, shutdown). */
  flush(): Promise<void> { return this.chain.then(() => {}); }
}
