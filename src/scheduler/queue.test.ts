import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../controllers/runtime/clock.js';
import { SchedulingQueue } from './queue.js';

test('parked pods return at once when their backoff is over, else after what is left of it', async () => {
  const clock = new FakeClock();
  const q = new SchedulingQueue(clock, { initialBackoffMs: 1000, maxBackoffMs: 10_000, unschedulableMaxMs: 60_000 });
  q.park('old', 0);
  clock.advance(5000);
  q.park('new', 0);
  clock.advance(400);
  q.moveAllToActive();
  assert.deepEqual(q.sizes, { active: 1, backoff: 1, unschedulable: 0 });
  assert.equal(await q.pop(), 'old');
  clock.advance(599);
  assert.equal(q.sizes.active, 0, '600 ms of new\'s 1 s backoff were left');
  clock.advance(1);
  assert.equal(await q.pop(), 'new');
  q.close();
});

test('backoff doubles per failure up to the maximum; binding forgets it', () => {
  const clock = new FakeClock();
  const r = new SchedulingQueue(clock, { initialBackoffMs: 1000, maxBackoffMs: 10_000, unschedulableMaxMs: 60_000 });
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    r.retryLater('p', 0);
    let t = 0;
    while (r.sizes.backoff > 0) { clock.advance(100); t += 100; }
    seen.push(t);
  }
  assert.deepEqual(seen, [1000, 2000, 4000, 8000, 10_000, 10_000]);
  r.forget('p');
  r.retryLater('p', 0);
  let t = 0;
  while (r.sizes.backoff > 0) { clock.advance(100); t += 100; }
  assert.equal(t, 1000, 'after a bind the count starts over');
  r.close();
});

test('an update to a parked pod gives it another try; to an active one, nothing changes', async () => {
  const clock = new FakeClock();
  const q = new SchedulingQueue(clock);
  q.park('p', 0);
  q.update('p', 0);
  assert.deepEqual(q.sizes, { active: 1, backoff: 0, unschedulable: 0 });
  q.update('p', 0);
  assert.equal(q.sizes.active, 1);
  assert.equal(await q.pop(), 'p');
  q.close();
  assert.equal(await q.pop(), undefined, 'closed');
});
