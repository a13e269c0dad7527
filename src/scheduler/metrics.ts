/**
 * kube-scheduler's Prometheus metrics, on the registry the composition gives (a private one
 * otherwise): attempts by result and their latency, each pod's end-to-end scheduling latency
 * and attempt count, pending pods by queue (read when scraped), preemption attempts and victims.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../controllers/runtime/clock.js';

const exp = (start: number, factor: number, n: number) => Array.from({ length: n }, (_, i) => start * factor ** i);

/** The profile label: Skiff's scheduler has the default profile only. */
const PROFILE = 'default-scheduler';

/** Where a pod is in its scheduling: when it was queued, first tried, and how often. */
interface PodTrack { queued: number; firstAttempt?: number; attempts: number }

/** The scheduler's metrics. */
export class SchedulerMetrics {
  private readonly attempts: Counter;
  private readonly attemptDuration: Histogram;
  private readonly e2e: Histogram;
  private readonly sli: Histogram;
  private readonly podAttempts: Histogram;
  private readonly preemptions: Counter;
  private readonly victims: Histogram;
  private readonly pods = new Map<string, PodTrack>();

  constructor(registry: Registry | undefined, private readonly clock: Clock, pending: () => { active: number; backoff: number; unschedulable: number }) {
    const registers = [registry ?? new Registry()];
    this.attempts = new Counter({ name: 'scheduler_schedule_attempts_total', help: 'Number of attempts to schedule pods, by the result. \'unschedulable\' means a pod could not be scheduled, while \'error\' means an internal scheduler problem.', labelNames: ['result', 'profile'], registers });
    for (const result of ['scheduled', 'unschedulable', 'error']) this.attempts.inc({ result, profile: PROFILE }, 0);
    this.attemptDuration = new Histogram({ name: 'scheduler_scheduling_attempt_duration_seconds', help: 'Scheduling attempt latency in seconds (scheduling algorithm + binding)', labelNames: ['result', 'profile'], buckets: exp(0.001, 2, 15), registers });
    this.e2e = new Histogram({ name: 'scheduler_pod_scheduling_duration_seconds', help: 'E2e latency for a pod being scheduled which may include multiple scheduling attempts.', labelNames: ['attempts'], buckets: exp(0.01, 2, 20), registers });
    this.sli = new Histogram({ name: 'scheduler_pod_scheduling_sli_duration_seconds', help: 'E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts.', labelNames: ['attempts'], buckets: exp(0.01, 2, 20), registers });
    this.podAttempts = new Histogram({ name: 'scheduler_pod_scheduling_attempts', help: 'Number of attempts to successfully schedule a pod.', buckets: exp(1, 2, 5), registers });
    this.preemptions = new Counter({ name: 'scheduler_preemption_attempts_total', help: 'Total preemption attempts in the cluster till now', registers });
    this.victims = new Histogram({ name: 'scheduler_preemption_victims', help: 'Number of selected preemption victims', buckets: exp(1, 2, 7), registers });
    new Gauge({
      name: 'scheduler_pending_pods', labelNames: ['queue'], registers,
      help: 'Number of pending pods, by the queue type. \'active\' means number of pods in activeQ; \'backoff\' means number of pods in backoffQ; \'unschedulable\' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; \'gated\' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.',
      collect() {
        const s = pending();
        this.set({ queue: 'active' }, s.active);
        this.set({ queue: 'backoff' }, s.backoff);
        this.set({ queue: 'unschedulable' }, s.unschedulable);
        this.set({ queue: 'gated' }, 0);
      },
    });
  }

  /** A pod entered the scheduling queue (kept from its first entry). */
  queued(key: string): void {
    if (!this.pods.has(key)) this.pods.set(key, { queued: this.clock.now(), attempts: 0 });
  }

  /** A scheduling attempt of `key` begins; returns its start time. */
  attempt(key: string): number {
    const now = this.clock.now();
    const t = this.pods.get(key) ?? this.pods.set(key, { queued: now, attempts: 0 }).get(key)!;
    t.firstAttempt ??= now;
    t.attempts++;
    return now;
  }

  /** The attempt that began at `start` found no node (or failed: `error`). */
  failed(start: number, result: 'unschedulable' | 'error'): void {
    this.attempts.inc({ result, profile: PROFILE });
    this.attemptDuration.observe({ result, profile: PROFILE }, (this.clock.now() - start) / 1000);
  }

  /** The attempt that began at `start` bound the pod. */
  scheduled(key: string, start: number): void {
    const now = this.clock.now();
    this.attempts.inc({ result: 'scheduled', profile: PROFILE });
    this.attemptDuration.observe({ result: 'scheduled', profile: PROFILE }, (now - start) / 1000);
    const t = this.pods.get(key);
    if (t) {
      const attempts = String(t.attempts);
      this.e2e.observe({ attempts }, (now - (t.firstAttempt ?? start)) / 1000);
      this.sli.observe({ attempts }, (now - t.queued) / 1000);
      this.podAttempts.observe(t.attempts);
    }
    this.pods.delete(key);
  }

  /** A preemption was tried for an unschedulable pod; `victims` when it chose some. */
  preemption(victims?: number): void {
    this.preemptions.inc();
    if (victims !== undefined) this.victims.observe(victims);
  }

  /** The pod left the queue otherwise (deleted, bound elsewhere). */
  forget(key: string): void { this.pods.delete(key); }
}
