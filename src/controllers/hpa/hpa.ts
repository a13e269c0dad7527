/**
 * The HorizontalPodAutoscaler controller (autoscaling/v2), as kube-controller-manager's: every
 * 15 s it reads the target's scale subresource, asks each Resource/ContainerResource metric for
 * a replica count (replicas.ts, from the samples a MetricsReader gives: by default the
 * metrics.k8s.io/v1beta1 API), takes the largest, normalizes it (behavior.ts: stabilization,
 * rate policies, min/max) and writes the scale. Status carries currentReplicas,
 * desiredReplicas, currentMetrics, lastScaleTime and the AbleToScale / ScalingActive /
 * ScalingLimited conditions; Events are SuccessfulRescale, FailedRescale, FailedGetScale,
 * FailedGet<Type>Metric and FailedComputeMetricsReplicas. Without a metrics API it says so
 * (ScalingActive=False, FailedGetResourceMetric) and leaves the target alone.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { formatMilli, milli } from '../../core/quantity.js';
import { parseLabelSelector, test as matches } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { rfc3339 } from '../runtime/clock.js';
import { canonicalJson } from '../pods.js';
import { resourceReplicas, type PodInfo, type Target } from './replicas.js';
import { normalize, normalizeLegacy, recordScale, withDefaults, type Memory } from './behavior.js';
import { ApiMetricsReader, type MetricsReader } from './metrics.js';

/** How often each autoscaler is evaluated (Kubernetes' --horizontal-pod-autoscaler-sync-period). */
export const SYNC_PERIOD_MS = 15_000;

/** Options of the controller (the control plane passes its tuning object). */
export interface HpaOptions {
  /** Where samples come from (default: the metrics.k8s.io API through the client). */
  metrics?: MetricsReader;
  /** --horizontal-pod-autoscaler-sync-period (ms). */
  hpaSyncPeriodMs?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (ms), for HPAs without spec.behavior. */
  hpaDownscaleStabilizationMs?: number;
}

const KIND_PATHS: Record<string, string> = { Deployment: 'deployments', ReplicaSet: 'replicasets', StatefulSet: 'statefulsets', ReplicationController: 'replicationcontrollers' };
const DEFAULT_METRICS = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];

/** What the calculator needs of a pod, for one resource (and container). */
export function podInfo(p: KObject, resource: string, container?: string): PodInfo {
  const ready = (p.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
  let request: number | undefined = 0, missingRequestIn: string | undefined;
  for (const c of p.spec?.containers ?? []) {
    if (container && c.name !== container) continue;
    const q = c.resources?.requests?.[resource];
    if (q === undefined) { request = undefined; missingRequestIn = c.name; break; }
    request += milli(q);
  }
  return {
    name: p.metadata.name!, phase: p.status?.phase, deleting: !!p.metadata.deletionTimestamp,
    ready: ready ? { status: ready.status, since: Date.parse(ready.lastTransitionTime ?? '') || 0 } : undefined,
    startTime: p.status?.startTime ? Date.parse(p.status.startTime) : undefined,
    request, missingRequestIn,
  };
}

/** Scales workloads on resource metrics. */
export class HorizontalPodAutoscalerController extends LoopController {
  private readonly hpas: Informer;
  private readonly pods: Informer;
  private readonly memory = new Map<string, Memory>();
  private readonly metrics: MetricsReader;
  private readonly period: number;
  private readonly downWindowMs: number;

  constructor(ctx: ControllerContext, opts: HpaOptions = {}) {
    super('horizontalpodautoscaler', ctx, 2);
    this.metrics = opts.metrics ?? new ApiMetricsReader(ctx.client);
    this.period = opts.hpaSyncPeriodMs ?? SYNC_PERIOD_MS;
    this.downWindowMs = opts.hpaDownscaleStabilizationMs ?? 300_000;
    this.hpas = ctx.informers.for(R.horizontalpodautoscalers);
    this.pods = ctx.informers.for(R.pods);
    this.hpas.on({ add: (h) => this.loop.enqueue(h), update: (o, h) => { if (o.metadata.generation !== h.metadata.generation) this.loop.enqueue(h); } });
  }

  private scalePath(ns: string, ref: any): string {
    const [group, version] = String(ref.apiVersion ?? 'apps/v1').includes('/') ? String(ref.apiVersion).split('/') : ['', ref.apiVersion ?? 'v1'];
    const plural = KIND_PATHS[ref.kind] ?? `${String(ref.kind).toLowerCase()}s`;
    return `${group ? `/apis/${group}/${version}` : `/api/${version}`}/namespaces/${ns}/${plural}/${ref.name}/scale`;
  }

  protected async sync(key: string): Promise<SyncResult> {
    const hpa = this.hpas.get(key);
    if (!hpa) { this.memory.delete(key); return; }
    const { namespace } = splitKey(key);
    const now = this.ctx.clock.now();
    const ts = rfc3339(now);
    const spec = hpa.spec ?? {};
    const conds = new Map<string, any>((hpa.status?.conditions ?? []).map((c: any) => [c.type, c]));
    const cond = (type: string, status: string, reason: string, message: string) => {
      const prev = conds.get(type);
      conds.set(type, { type, status, reason, message, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : ts });
    };
    const write = (s: any) => this.writeStatus(hpa, s, ['AbleToScale', 'ScalingActive', 'ScalingLimited'].map((t) => conds.get(t)).filter(Boolean));
    const again = { requeueAfterMs: this.period };
    const ref = spec.scaleTargetRef ?? {};
    const reference = `${ref.kind}/${ref.name}`;
    let scale: any;
    try {
      scale = await this.ctx.client.request('GET', this.scalePath(namespace!, ref));
    } catch (err) {
      const msg = (err as Error).message;
      cond('AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${msg}`);
      this.ctx.recorder.event(hpa, 'Warning', 'FailedGetScale', msg);
      await write({ currentReplicas: hpa.status?.currentReplicas ?? 0, desiredReplicas: hpa.status?.desiredReplicas ?? 0 });
      return again;
    }
    cond('AbleToScale', 'True', 'SucceededGetScale', 'the HPA controller was able to get the target\'s current scale');
    const current: number = scale.spec?.replicas ?? 0;
    const min = spec.minReplicas ?? 1, max = spec.maxReplicas ?? 1;
    const metricSpecs: any[] = spec.metrics?.length ? spec.metrics : DEFAULT_METRICS;
    let desired = 0, reason = '', statuses: any[] = [];
    if (current === 0 && min !== 0) {
      cond('ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
      await write({ currentReplicas: current, desiredReplicas: 0, currentMetrics: hpa.status?.currentMetrics });
      return again;
    } else if (current > max) {
      [desired, reason] = [max, 'Current number of replicas above Spec.MaxReplicas'];
    } else if (current < min) {
      [desired, reason] = [min, 'Current number of replicas below Spec.MinReplicas'];
    } else {
      const selector: string = scale.status?.selector ?? '';
      if (!selector) {
        this.ctx.recorder.event(hpa, 'Warning', 'SelectorRequired', 'selector is required');
        cond('ScalingActive', 'False', 'InvalidSelector', 'the HPA target\'s scale is missing a selector');
        await write({ currentReplicas: current, desiredReplicas: hpa.status?.desiredReplicas ?? current });
        return again;
      }
      const reqs = parseLabelSelector(selector);
      const pods = this.pods.listNamespace(namespace!).filter((p) => matches(reqs, (k) => p.metadata.labels?.[k]));
      const r = await this.compute(hpa, metricSpecs, current, namespace!, selector, pods, now);
      statuses = r.statuses;
      if (r.error) {
        cond(r.error.condition.type, 'False', r.error.condition.reason, r.error.condition.message);
        this.ctx.recorder.event(hpa, 'Warning', 'FailedComputeMetricsReplicas', r.error.message);
        await write({ currentReplicas: current, desiredReplicas: hpa.status?.desiredReplicas ?? current, currentMetrics: statuses });
        return again;
      }
      cond('ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${r.metric}`);
      desired = r.replicas;
      if (desired > current) reason = `${r.metric} above target`;
      if (desired < current) reason = 'All metrics below target';
      const mem = this.memory.get(key) ?? { recommendations: [], ups: [], downs: [] };
      this.memory.set(key, mem);
      const n = spec.behavior ? normalize(mem, current, desired, min, max, withDefaults(spec.behavior, this.downWindowMs / 1000), now)
        : normalizeLegacy(mem, current, desired, min, max, this.downWindowMs, now);
      cond('AbleToScale', 'True', n.stabilized.reason, n.stabilized.message);
      cond('ScalingLimited', n.limited.status, n.limited.reason, n.limited.message);
      desired = n.replicas;
    }
    let lastScaleTime = hpa.status?.lastScaleTime;
    if (desired !== current) {
      try {
        await this.ctx.client.request('PATCH', this.scalePath(namespace!, ref), { spec: { replicas: desired } }, 'application/merge-patch+json');
      } catch (err) {
        const msg = (err as Error).message;
        this.ctx.recorder.event(hpa, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${reason}; error: ${msg}`);
        cond('AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${msg}`);
        await write({ currentReplicas: current, desiredReplicas: hpa.status?.desiredReplicas ?? current, currentMetrics: statuses });
        throw new Error(`failed to rescale ${reference}: ${msg}`);
      }
      cond('AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
      this.ctx.recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${reason}`);
      const mem = this.memory.get(key) ?? { recommendations: [], ups: [], downs: [] };
      this.memory.set(key, mem);
      recordScale(mem, withDefaults(spec.behavior, this.downWindowMs / 1000), current, desired, now);
      lastScaleTime = ts;
    }
    await write({ currentReplicas: current, desiredReplicas: desired, currentMetrics: statuses, ...(lastScaleTime ? { lastScaleTime } : {}) });
    return again;
  }

  /** computeReplicasForMetrics: the largest proposal, or the first metric's error. */
  private async compute(hpa: KObject, specs: any[], current: number, ns: string, selector: string, pods: KObject[], now: number) {
    const statuses: any[] = specs.map(() => ({ type: '' }));
    let replicas = 0, metric = '', invalid = 0;
    let first: { condition: { type: string; reason: string; message: string }; error: string } | undefined;
    for (const [i, m] of specs.entries()) {
      const container = m.type === 'ContainerResource' ? m.containerResource?.container : undefined;
      const src = m.type === 'ContainerResource' ? m.containerResource : m.resource;
      const failedReason = `FailedGet${m.type}Metric`;
      const fail = (inner: string, outer: string) => {
        this.ctx.recorder.event(hpa, 'Warning', failedReason, inner);
        invalid++;
        first ??= { condition: { type: 'ScalingActive', reason: failedReason, message: `the HPA was unable to compute the replica count: ${inner}` }, error: outer };
      };
      if ((m.type !== 'Resource' && m.type !== 'ContainerResource') || !src?.name) {
        fail(`unable to get metric ${m.type}: metric type ${m.type} is not served here (no custom or external metrics API)`, `failed to get ${m.type} metric: the custom metrics API is not available`);
        continue;
      }
      const res: string = src.name;
      const t = src.target ?? {};
      const target: Target = t.type === 'AverageValue' ? { averageValue: milli(t.averageValue) } : { utilization: t.averageUtilization ?? 80 };
      const what = 'utilization' in target ? `${res} utilization` : `${res} usage`;
      try {
        let samples;
        try {
          samples = await this.metrics.podMetrics(ns, selector, res, container);
        } catch (err) {
          throw new Error(`unable to get metrics for resource ${res}: ${(err as Error).message}`);
        }
        const p = resourceReplicas(current, pods.map((x) => podInfo(x, res, container)), samples, res, target, now);
        const name = 'utilization' in target ? `${res} ${container ? 'container ' : ''}resource utilization (percentage of request)` : `${res} ${container ? 'container ' : ''}resource`;
        const cur = 'utilization' in target ? { averageUtilization: p.utilization, averageValue: formatMilli(p.averageValue) } : { averageValue: formatMilli(p.averageValue) };
        statuses[i] = m.type === 'ContainerResource' ? { type: m.type, containerResource: { name: res, container, current: cur } } : { type: 'Resource', resource: { name: res, current: cur } };
        if (p.replicas > replicas) { replicas = p.replicas; metric = name; }
      } catch (err) {
        const inner = (err as Error).message;
        fail(inner, `failed to get ${res} resource metric value: failed to get ${what}: ${inner}`);
      }
    }
    // All metrics failed, or some failed while the others would scale down: do nothing.
    if (first && (invalid >= specs.length || replicas < current)) {
      return { statuses, replicas: -1, metric, error: { condition: first.condition, message: `invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${first.error}` } };
    }
    return { statuses, replicas, metric };
  }

  private async writeStatus(hpa: KObject, s: any, conditions: any[]): Promise<void> {
    const status = { observedGeneration: hpa.metadata.generation, ...s, conditions };
    if (status.currentMetrics === undefined) delete status.currentMetrics;
    if (canonicalJson(hpa.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.horizontalpodautoscalers, hpa.metadata.namespace, { ...hpa, status }, 'status');
  }
}
