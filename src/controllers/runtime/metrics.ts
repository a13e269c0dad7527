/**
 * client-go's work queue metrics on a prom-client registry, one series per queue name:
 * workqueue_adds_total, workqueue_depth, workqueue_queue_duration_seconds,
 * workqueue_work_duration_seconds, workqueue_retries_total, and (computed when scraped)
 * workqueue_unfinished_work_seconds and workqueue_longest_running_processor_seconds.
 * The registry comes from the composition (src/cmd/controlplane.ts); queues know only the
 * QueueMetrics interface.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from './clock.js';
import type { QueueMetrics } from './queue.js';

/** client-go's buckets: 10 ns to 10 s by tenfold steps. */
const BUCKETS = Array.from({ length: 10 }, (_, i) => 1e-8 * 10 ** i);

interface QueueState { clock: Clock; added: Map<string, number>; started: Map<string, number> }

/** The metrics of every queue of one registry. */
class Family {
  readonly queues = new Map<string, QueueState>();
  readonly adds: Counter;
  readonly depth: Gauge;
  readonly retries: Counter;
  readonly queueDuration: Histogram;
  readonly workDuration: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['name'];
    const queues = this.queues;
    this.adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames, registers });
    this.depth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames, registers });
    this.retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames, registers });
    this.queueDuration = new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested.', labelNames, buckets: BUCKETS, registers });
    this.workDuration = new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes.', labelNames, buckets: BUCKETS, registers });
    new Gauge({
      name: 'workqueue_unfinished_work_seconds', labelNames, registers,
      help: 'How many seconds of work has done that is in progress and hasn\'t been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.',
      collect() {
        for (const [name, q] of queues) {
          const now = q.clock.now();
          this.set({ name }, [...q.started.values()].reduce((s, t) => s + (now - t) / 1000, 0));
        }
      },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds', help: 'How many seconds has the longest running processor for workqueue been running.', labelNames, registers,
      collect() {
        for (const [name, q] of queues) {
          const now = q.clock.now();
          this.set({ name }, q.started.size ? Math.max(...[...q.started.values()].map((t) => (now - t) / 1000)) : 0);
        }
      },
    });
  }
}

const families = new WeakMap<Registry, Family>();

/** The metrics of the queue `name`, registered on `registry` (a queue made again under a name starts over). */
export function workqueueMetrics(registry: Registry, name: string, clock: Clock): QueueMetrics {
  let f = families.get(registry);
  if (!f) families.set(registry, (f = new Family(registry)));
  const fam = f;
  const q: QueueState = { clock, added: new Map(), started: new Map() };
  fam.queues.set(name, q);
  const l = { name };
  fam.depth.set(l, 0);
  fam.adds.inc(l, 0);
  fam.retries.inc(l, 0);
  return {
    add(key) {
      fam.adds.inc(l);
      fam.depth.inc(l);
      if (!q.added.has(key)) q.added.set(key, clock.now());
    },
    get(key) {
      fam.depth.dec(l);
      const at = q.added.get(key);
      if (at !== undefined) fam.queueDuration.observe(l, (clock.now() - at) / 1000);
      q.added.delete(key);
      q.started.set(key, clock.now());
    },
    done(key) {
      const at = q.started.get(key);
      if (at !== undefined) fam.workDuration.observe(l, (clock.now() - at) / 1000);
      q.started.delete(key);
    },
    retry() { fam.retries.inc(l); },
  };
}
