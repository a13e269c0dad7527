/**
 * Unit tests of the work queue metrics: adds, depth, retries, time queued and time worked
 * per queue name, as client-go counts them (a key added while waiting is one add; a key added
 * while being processed counts and waits for done()).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { FakeClock } from './clock.js';
import { WorkQueue } from './queue.js';
import { workqueueMetrics } from './metrics.js';

async function values(reg: Registry, name: string): Promise<Record<string, number>> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const out: Record<string, number> = {};
  for (const v of (m?.values ?? []) as any[]) out[`${v.metricName ?? name}${v.labels.le !== undefined ? `{le=${v.labels.le}}` : ''}{${v.labels.name}}`] = v.value;
  return out;
}

test('workqueue metrics: adds, depth, retries, queue and work durations by queue name', async () => {
  const reg = new Registry();
  const clock = new FakeClock(0);
  const q = new WorkQueue(clock, undefined, workqueueMetrics(reg, 'deployment', clock));
  workqueueMetrics(reg, 'replicaset', clock);
  q.add('a');
  q.add('a'); // waiting already: not an add
  q.add('b');
  assert.deepEqual(await values(reg, 'workqueue_adds_total'), { 'workqueue_adds_total{deployment}': 2, 'workqueue_adds_total{replicaset}': 0 });
  assert.equal((await values(reg, 'workqueue_depth'))['workqueue_depth{deployment}'], 2);
  clock.advance(2000);
  const k = await q.get();
  assert.equal(k, 'a');
  q.add('a'); // being processed: counted, waits for done
  assert.equal((await values(reg, 'workqueue_depth'))['workqueue_depth{deployment}'], 2);
  clock.advance(500);
  assert.equal((await values(reg, 'workqueue_longest_running_processor_seconds'))['workqueue_longest_running_processor_seconds{deployment}'], 0.5);
  q.addRateLimited('a');
  q.done('a');
  const qd = await values(reg, 'workqueue_queue_duration_seconds');
  assert.equal(qd['workqueue_queue_duration_seconds_count{deployment}'], 1);
  assert.equal(qd['workqueue_queue_duration_seconds_sum{deployment}'], 2);
  const wd = await values(reg, 'workqueue_work_duration_seconds');
  assert.equal(wd['workqueue_work_duration_seconds_sum{deployment}'], 0.5);
  assert.equal((await values(reg, 'workqueue_retries_total'))['workqueue_retries_total{deployment}'], 1);
  assert.equal((await values(reg, 'workqueue_unfinished_work_seconds'))['workqueue_unfinished_work_seconds{deployment}'], 0);
  const text = await reg.metrics();
  assert.match(text, /^workqueue_adds_total\{name="deployment"\} 3$/m);
});
