/**
 * The delay before a Job re-creates pods after failures, as kube-controller-manager's pod
 * failure backoff: 10 s after the first failure since the last success, doubling with each
 * further one, capped (Kubernetes' MaxJobPodFailureBackOff, 10 min in the controller's code
 * since 1.27; older docs say 6 min). A success after the failures resets it.
 *
 * Kubernetes measures from the pod's finish time; here the delay runs from the moment the
 * controller counted the failure, read from ctx.clock, so a test's FakeClock governs it while
 * simulated pods report real-clock finish times. Finish times still order a success against
 * failures that finished in the same sync.
 */

/** The first delay after a failure. */
export const POD_FAILURE_BACKOFF_MS = 10_000;
/** The longest delay. */
export const MAX_POD_FAILURE_BACKOFF_MS = 10 * 60_000;

/** What the controller remembers about a Job's recent failures. */
export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  /** ctx.clock time the last counted failure was seen (ms). */
  lastFailureTime?: number;
}

/**
 * The record after newly finished pods are counted. `succeeded` and `failed` are the finish
 * times (any consistent clock) of the pods counted in this sync; `now` is ctx.clock's time.
 */
export function nextBackoffRecord(prev: BackoffRecord | undefined, succeeded: number[], failed: number[], now: number): BackoffRecord {
  const rec: BackoffRecord = prev ? { ...prev } : { failuresAfterLastSuccess: 0 };
  if (!succeeded.length) {
    if (!failed.length) return rec;
    return { failuresAfterLastSuccess: rec.failuresAfterLastSuccess + failed.length, lastFailureTime: now };
  }
  // A success resets the count; failures that finished after it start a new one.
  const lastSuccess = Math.max(...succeeded);
  const after = failed.filter((t) => t > lastSuccess).length;
  return after ? { failuresAfterLastSuccess: after, lastFailureTime: now } : { failuresAfterLastSuccess: 0 };
}

/** The delay for `failures` consecutive failures: base × 2^(failures-1), at most `max`. */
export function backoffDelay(failures: number, base = POD_FAILURE_BACKOFF_MS, max = MAX_POD_FAILURE_BACKOFF_MS): number {
  if (failures <= 0) return 0;
  let d = base;
  for (let i = 1; i < failures && d < max; i++) d *= 2;
  return Math.min(d, max);
}

/** How long pod creation must still wait at `now` (0: go ahead). */
export function remainingBackoff(rec: BackoffRecord | undefined, now: number): number {
  if (!rec || !rec.failuresAfterLastSuccess || rec.lastFailureTime === undefined) return 0;
  return Math.max(0, backoffDelay(rec.failuresAfterLastSuccess) - (now - rec.lastFailureTime));
}
