/**
 * The Job controller's writes to pods, as Kubernetes' PodControl does them for Jobs: pods
 * made from the template (with the tracking finalizer, and for Indexed Jobs the completion
 * index as annotation, label, hostname and JOB_COMPLETION_INDEX), created in slow-start
 * batches; deletions; and the removal of the tracking finalizer once a pod is counted.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import type { ControllerContext } from '../runtime/controller.js';
import { ownerRefTo } from '../runtime/owners.js';
import { podFromTemplate } from '../pods.js';
import { COMPLETION_INDEX } from './indexes.js';
import { hasTrackingFinalizer, TRACKING_FINALIZER } from './util.js';

/** Longest generateName prefix: a DNS label (63) less the 5 random characters. */
const MAX_PREFIX = 58;

/** The generateName of a Job's pods: "<job>-", or "<job>-<index>-" for Indexed Jobs. */
export function podGenerateName(jobName: string, index?: number): string {
  const suffix = index === undefined ? '-' : `-${index}-`;
  return jobName.slice(0, MAX_PREFIX - suffix.length) + suffix;
}

/** The pod a Job creates (for completion index `index` when Indexed). */
export function jobPod(job: KObject, index?: number): KObject {
  const extraLabels: Record<string, string> = index === undefined ? {} : { [COMPLETION_INDEX]: String(index) };
  const pod = podFromTemplate(job.spec.template, job.metadata.namespace!, ownerRefTo(job, 'batch/v1', 'Job'), { generateName: podGenerateName(job.metadata.name!, index) }, extraLabels);
  const fins: string[] = pod.metadata.finalizers ?? [];
  if (!fins.includes(TRACKING_FINALIZER)) pod.metadata.finalizers = [...fins, TRACKING_FINALIZER];
  if (index !== undefined) {
    pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [COMPLETION_INDEX]: String(index) };
    pod.spec.hostname = `${job.metadata.name}-${index}`;
    // The workload learns its index from the downward API, as on Kubernetes.
    const env = { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } };
    for (const c of [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])]) {
      if (!(c.env ?? []).some((e: any) => e.name === env.name)) c.env = [...(c.env ?? []), structuredClone(env)];
    }
  }
  return pod;
}

/** Writes pods on behalf of the Job controller, recording Kubernetes' events. */
export class JobPodControl {
  constructor(private readonly ctx: ControllerContext) {}

  /**
   * Creates one pod per entry of `indexes` (undefined entries: non-indexed) in batches of
   * 1, 2, 4 …; a batch with a failure stops the rest (a quota or admission error would fail
   * them all). Returns how many were created and the first error.
   */
  async create(job: KObject, indexes: (number | undefined)[], onSkipped: (n: number) => void): Promise<{ created: number; err?: unknown }> {
    let created = 0, err: unknown, i = 0;
    for (let batch = 1; i < indexes.length; batch *= 2) {
      const slice = indexes.slice(i, i + batch);
      i += slice.length;
      const results = await Promise.allSettled(slice.map((ix) => this.ctx.client.create(R.pods, job.metadata.namespace, jobPod(job, ix))));
      let failed = false;
      for (const r of results) {
        if (r.status === 'fulfilled') {
          created++;
          this.ctx.recorder.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`);
        } else {
          failed = true;
          err ??= r.reason;
          onSkipped(1);
          this.ctx.recorder.event(job, 'Warning', 'FailedCreate', `Error creating: ${(r.reason as Error)?.message ?? r.reason}`);
        }
      }
      if (failed) { onSkipped(indexes.length - i); break; }
    }
    return { created, err };
  }

  /** Deletes a pod (keeping its finalizer: it will be counted as failed). False if it failed. */
  async delete(job: KObject, pod: KObject): Promise<boolean> {
    try {
      await this.ctx.client.delete(R.pods, pod.metadata.namespace, pod.metadata.name!);
      this.ctx.recorder.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
      return true;
    } catch (err) {
      if (err instanceof ApiStatusError && err.code === 404) return true;
      this.ctx.recorder.event(job, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
      return false;
    }
  }

  /** Removes the tracking finalizer (a no-op without it). False if the write failed. */
  async removeFinalizer(pod: KObject): Promise<boolean> {
    if (!hasTrackingFinalizer(pod)) return true;
    try {
      await this.ctx.client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, { metadata: { [`$deleteFromPrimitiveList/finalizers`]: [TRACKING_FINALIZER] } }, 'strategic');
      return true;
    } catch (err) {
      return err instanceof ApiStatusError && err.code === 404;
    }
  }
}
