/**
 * The HorizontalPodAutoscaler controller (autoscaling/v2): every 15 s it reads the target's
 * scale subresource, the resource metrics of its pods from metrics.k8s.io/v1beta1 (PodMetrics),
 * computes the replicas the metrics ask for (replicas.ts), and writes the scale. Without a
 * metrics API it says so in its conditions (ScalingActive=False, FailedGetResourceMetric) and
 * leaves the target alone, as Kubernetes does.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { parseQuantity } from '../../core/quantity.js';
import { parseLabelSelector, test as matches } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { rfc3339 } from '../runtime/clock.js';
import { canonicalJson, isPodReady } from '../pods.js';
import { replicasForUtilization, stabilize, type PodSample, type Recommendation } from './replicas.js';

/** How often each autoscaler is evaluated (Kubernetes' --horizontal-pod-autoscaler-sync-period). */
export const SYNC_PERIOD_MS = 15_000;

const KIND_PATHS: Record<string, string> = { Deployment: 'deployments', ReplicaSet: 'replicasets', StatefulSet: 'statefulsets', ReplicationController: 'replicationcontrollers' };

/** Scales workloads on resource metrics. */
export class HorizontalPodAutoscalerController extends LoopController {
  private readonly hpas: Informer;
  private readonly pods: Informer;
  private readonly history = new Map<string, Recommendation[]>();

  constructor(ctx: ControllerContext) {
    super('horizontalpodautoscaler', ctx, 2);
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
    if (!hpa) { this.history.delete(key); return; }
    const { namespace } = splitKey(key);
    const now = this.ctx.clock.now();
    const ts = rfc3339(now);
    const spec = hpa.spec ?? {};
    const conds: Record<string, any> = {};
    const cond = (type: string, status: string, reason: string, message: string) => {
      const prev = (hpa.status?.conditions ?? []).find((c: any) => c.type === type);
      conds[type] = { type, status, reason, message, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : ts };
    };
    let scale: any;
    try {
      scale = await this.ctx.client.request('GET', this.scalePath(namespace!, spec.scaleTargetRef ?? {}));
    } catch (err) {
      cond('AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${(err as Error).message}`);
      await this.writeStatus(hpa, { currentReplicas: 0, desiredReplicas: 0 }, conds);
      return { requeueAfterMs: SYNC_PERIOD_MS };
    }
    const current = scale.spec?.replicas ?? 0;
    cond('AbleToScale', 'True', 'SucceededGetScale', 'the HPA controller was able to get the target\'s current scale');
    const min = spec.minReplicas ?? 1, max = spec.maxReplicas ?? 1;
    if (current === 0 && min > 0) {
      // Scaled to zero by hand: autoscaling is off until someone scales it up.
      cond('ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
      await this.writeStatus(hpa, { currentReplicas: 0, desiredReplicas: 0 }, conds);
      return { requeueAfterMs: SYNC_PERIOD_MS };
    }
    const selector = scale.status?.selector ?? '';
    const reqs = parseLabelSelector(selector);
    const pods = this.pods.listNamespace(namespace!).filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded' && matches(reqs, (k) => p.metadata.labels?.[k]));
    let desired = 0;
    const currentMetrics: any[] = [];
    let metricError: string | undefined;
    for (const m of spec.metrics ?? [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]) {
      if (m.type !== 'Resource' || m.resource?.target?.type !== 'Utilization') { metricError ??= `metric type ${m.type} is not supported yet`; continue; }
      const res = m.resource.name;
      let metrics: KObject[];
      try {
        metrics = (await this.ctx.client.list(R.podmetrics, namespace, { labelSelector: selector })).items;
      } catch (err) {
        const why = err instanceof ApiStatusError && err.code === 404 ? 'the server could not find the requested resource (get pods.metrics.k8s.io)' : (err as Error).message;
        metricError = `the HPA was unable to compute the replica count: unable to get metrics for resource ${res}: unable to fetch metrics from resource metrics API: ${why}`;
        break;
      }
      const byPod = new Map(metrics.map((pm) => [pm.metadata.name, pm]));
      const samples: PodSample[] = pods.map((p) => {
        const pm = byPod.get(p.metadata.name);
        const usage = pm ? (pm.containers ?? []).reduce((s: number, c: any) => s + parseQuantity(c.usage?.[res] ?? 0), 0) : undefined;
        const request = (p.spec?.containers ?? []).reduce((s: number, c: any) => s + parseQuantity(c.resources?.requests?.[res] ?? 0), 0);
        return { usage, request, ready: isPodReady(p) };
      });
      if (samples.some((s) => s.request === 0)) { metricError = `the HPA was unable to compute the replica count: failed to get ${res} utilization: missing request for ${res}`; break; }
      const r = replicasForUtilization(current, samples, m.resource.target.averageUtilization);
      if (!r) { metricError = `the HPA was unable to compute the replica count: did not receive metrics for targeted pods (pods might be unready)`; break; }
      desired = Math.max(desired, r.replicas);
      currentMetrics.push({ type: 'Resource', resource: { name: res, current: { averageUtilization: r.utilization } } });
    }
    if (metricError) {
      cond('ScalingActive', 'False', 'FailedGetResourceMetric', metricError);
      this.ctx.recorder.event(hpa, 'Warning', 'FailedGetResourceMetric', metricError);
      await this.writeStatus(hpa, { currentReplicas: current, desiredReplicas: current }, conds);
      return { requeueAfterMs: SYNC_PERIOD_MS };
    }
    cond('ScalingActive', 'True', 'ValidMetricFound', 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)');
    const hist = (this.history.get(key) ?? []).filter((h) => now - h.at <= 300_000);
    const window = (spec.behavior?.scaleDown?.stabilizationWindowSeconds ?? 300) * 1000;
    const { replicas, limited } = stabilize(desired, min, max, hist, now, window);
    hist.push({ at: now, replicas: Math.min(Math.max(desired, min), max) });
    this.history.set(key, hist);
    if (limited) cond('ScalingLimited', 'True', limited, `the desired replica count is ${limited === 'TooFewReplicas' ? 'less than the minimum' : 'more than the maximum'} replica count`);
    else cond('ScalingLimited', 'False', 'DesiredWithinRange', 'the desired count is within the acceptable range');
    let lastScaleTime = hpa.status?.lastScaleTime;
    if (replicas !== current) {
      await this.ctx.client.request('PATCH', this.scalePath(namespace!, spec.scaleTargetRef), { spec: { replicas } }, 'application/merge-patch+json');
      lastScaleTime = ts;
      this.ctx.recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${replicas}; reason: cpu resource utilization (percentage of request) ${replicas > current ? 'above' : 'below'} target`);
    }
    await this.writeStatus(hpa, { currentReplicas: current, desiredReplicas: replicas, currentMetrics, ...(lastScaleTime ? { lastScaleTime } : {}) }, conds);
    return { requeueAfterMs: SYNC_PERIOD_MS };
  }

  private async writeStatus(hpa: KObject, s: any, conds: Record<string, any>): Promise<void> {
    const status = { observedGeneration: hpa.metadata.generation, ...s, conditions: Object.values(conds) };
    if (canonicalJson(hpa.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.horizontalpodautoscalers, hpa.metadata.namespace, { ...hpa, status }, 'status');
  }
}

