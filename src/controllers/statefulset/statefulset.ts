/**
 * The StatefulSet controller: pods with stable names `<sts>-<ordinal>` (from
 * spec.ordinals.start), their own PersistentVolumeClaims from volumeClaimTemplates, created in
 * order and each waiting for the previous to be Running and Ready (OrderedReady; Parallel
 * does not wait), removed in reverse order; rolling updates from the highest ordinal down to
 * the partition, one pod at a time; OnDelete leaves replacement to the user. Templates are
 * recorded as ControllerRevisions, which `kubectl rollout history|undo sts` use.
 */
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { LoopController, type ControllerContext, type SyncResult } from '../runtime/controller.js';
import { splitKey, type Informer } from '../runtime/informer.js';
import { controllerRef, ownerRefTo } from '../runtime/owners.js';
import { claim } from '../runtime/claim.js';
import { canonicalJson, isPodAvailable, isPodReady, podFromTemplate } from '../pods.js';
import { REVISION_HASH, syncRevision, templateOf, truncateHistory } from '../history.js';

/** The ordinal of a pod named `<sts>-<n>`, or -1. */
export function ordinalOf(sts: string, pod: string): number {
  const m = new RegExp(`^${sts.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`).exec(pod);
  return m ? Number(m[1]) : -1;
}

const running = (p: KObject) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp;
const healthy = (p: KObject) => running(p) && isPodReady(p);

/** Keeps StatefulSets' pods and claims. */
export class StatefulSetController extends LoopController {
  private readonly sets: Informer;
  private readonly pods: Informer;
  private readonly claims: Informer;
  private readonly revisions: Informer;

  constructor(ctx: ControllerContext) {
    super('statefulset', ctx, 2);
    this.sets = ctx.informers.for(R.statefulsets);
    this.pods = ctx.informers.for(R.pods);
    this.claims = ctx.informers.for(R.persistentvolumeclaims);
    this.revisions = ctx.informers.for(R.controllerrevisions);
    this.sets.addIndex('uid', (s) => [s.metadata.uid]);
    this.revisions.addIndex('owner', (r) => { const o = controllerRef(r); return o ? [o.uid] : []; });
    this.sets.on({ add: (s) => this.loop.enqueue(s), update: (_o, s) => this.loop.enqueue(s) });
    const onPod = (p: KObject) => {
      const r = controllerRef(p);
      const s = r?.kind === 'StatefulSet' ? this.sets.byIndex('uid', r.uid)[0] : undefined;
      if (s) this.loop.enqueue(s);
    };
    this.pods.on({ add: onPod, update: (_o, p) => onPod(p), delete: onPod });
  }

  protected async sync(key: string): Promise<SyncResult> {
    const sts = this.sets.get(key);
    if (!sts || sts.metadata.deletionTimestamp) return;
    const { namespace } = splitKey(key);
    const name = sts.metadata.name!;
    const match = selectorObjectMatcher(sts.spec?.selector);
    const history = this.revisions.byIndex('owner', sts.metadata.uid);
    const { update, history: hist } = await syncRevision(this.ctx.client, sts, 'StatefulSet', history);
    const current = hist.find((r) => r.metadata.name === sts.status?.currentRevision) ?? update;
    const pods = (await claim(this.ctx.client, R.pods, sts, 'apps/v1', 'StatefulSet', this.pods.listNamespace(namespace!), (p) => match(p.metadata.labels ?? {}) && ordinalOf(name, p.metadata.name!) >= 0));
    const start = sts.spec?.ordinals?.start ?? 0;
    const replicas = sts.spec?.replicas ?? 1;
    const ordered = (sts.spec?.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
    const byOrdinal = new Map(pods.map((p) => [ordinalOf(name, p.metadata.name!), p]));
    const strategy = sts.spec?.updateStrategy?.type ?? 'RollingUpdate';
    const partition = strategy === 'RollingUpdate' ? (sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
    const revisionFor = (ord: number) => (strategy === 'RollingUpdate' && ord < start + partition ? current : update);
    const done = () => this.writeStatus(sts, pods, current.metadata.name!, update.metadata.name!, hist);

    // Create or repair pods in ordinal order.
    for (let ord = start; ord < start + replicas; ord++) {
      const p = byOrdinal.get(ord);
      if (!p) {
        await this.createPod(sts, ord, revisionFor(ord));
        if (ordered) return done();
        continue;
      }
      if (p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') {
        // A finished pod of a StatefulSet is replaced under the same name.
        if (!p.metadata.deletionTimestamp) await this.deletePod(sts, p);
        if (ordered) return done();
        continue;
      }
      if (ordered && !healthy(p)) return done();
    }
    // Scale down, highest ordinal first, one at a time when ordered.
    const condemned = pods.filter((p) => { const o = ordinalOf(name, p.metadata.name!); return o < start || o >= start + replicas; })
      .sort((a, b) => ordinalOf(name, b.metadata.name!) - ordinalOf(name, a.metadata.name!));
    for (const p of condemned) {
      if (p.metadata.deletionTimestamp) { if (ordered) return done(); continue; }
      if (ordered && pods.some((q) => q !== p && !condemned.includes(q) && !healthy(q))) return done();
      await this.deletePod(sts, p);
      if (sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete') await this.deleteClaims(sts, ordinalOf(name, p.metadata.name!));
      if (ordered) return done();
    }
    // Rolling update: from the top ordinal down to the partition, one unhealthy pod at a time.
    if (strategy === 'RollingUpdate') {
      if (pods.some((p) => !condemned.includes(p) && (!healthy(p)))) return done();
      for (let ord = start + replicas - 1; ord >= start + partition; ord--) {
        const p = byOrdinal.get(ord);
        if (p && p.metadata.labels?.[REVISION_HASH] !== update.metadata.name) {
          await this.deletePod(sts, p);
          break;
        }
      }
    }
    return done();
  }

  private async createPod(sts: KObject, ord: number, rev: KObject): Promise<void> {
    const name = `${sts.metadata.name}-${ord}`;
    const ns = sts.metadata.namespace!;
    const template = templateOf(rev);
    const volumes = [...(template.spec?.volumes ?? [])];
    for (const t of sts.spec?.volumeClaimTemplates ?? []) {
      const claimName = `${t.metadata.name}-${sts.metadata.name}-${ord}`;
      if (!this.claims.get(`${ns}/${claimName}`)) {
        const retainOnDelete = sts.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted !== 'Delete';
        const pvc = {
          apiVersion: 'v1', kind: 'PersistentVolumeClaim',
          metadata: {
            name: claimName, namespace: ns, labels: { ...(t.metadata?.labels ?? {}), ...(sts.spec.selector?.matchLabels ?? {}) },
            ...(retainOnDelete ? {} : { ownerReferences: [{ ...ownerRefTo(sts, 'apps/v1', 'StatefulSet'), controller: false }] }),
          },
          spec: structuredClone(t.spec ?? {}),
        };
        try {
          await this.ctx.client.create(R.persistentvolumeclaims, ns, pvc);
          this.ctx.recorder.event(sts, 'Normal', 'SuccessfulCreate', `create Claim ${claimName} Pod ${name} in StatefulSet ${sts.metadata.name} success`);
        } catch (err) {
          if (!(err instanceof ApiStatusError && err.code === 409)) throw err;
        }
      }
      if (!volumes.some((v: any) => v.name === t.metadata.name)) volumes.push({ name: t.metadata.name, persistentVolumeClaim: { claimName } });
    }
    const pod = podFromTemplate(template, ns, ownerRefTo(sts, 'apps/v1', 'StatefulSet'), { name }, {
      [REVISION_HASH]: rev.metadata.name!, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(ord),
    });
    pod.spec.hostname = name;
    if (sts.spec?.serviceName) pod.spec.subdomain = sts.spec.serviceName;
    if (volumes.length) pod.spec.volumes = volumes;
    try {
      await this.ctx.client.create(R.pods, ns, pod);
      this.ctx.recorder.event(sts, 'Normal', 'SuccessfulCreate', `create Pod ${name} in StatefulSet ${sts.metadata.name} successful`);
    } catch (err) {
      if (err instanceof ApiStatusError && err.code === 409) return; // the cache had not seen it yet
      this.ctx.recorder.event(sts, 'Warning', 'FailedCreate', `create Pod ${name} in StatefulSet ${sts.metadata.name} failed error: ${(err as Error).message}`);
      throw err;
    }
  }

  private async deletePod(sts: KObject, p: KObject): Promise<void> {
    await this.ctx.client.delete(R.pods, p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } }).catch((err) => { if (err?.code !== 404) throw err; });
    this.ctx.recorder.event(sts, 'Normal', 'SuccessfulDelete', `delete Pod ${p.metadata.name} in StatefulSet ${sts.metadata.name} successful`);
  }

  private async deleteClaims(sts: KObject, ord: number): Promise<void> {
    for (const t of sts.spec?.volumeClaimTemplates ?? []) {
      await this.ctx.client.delete(R.persistentvolumeclaims, sts.metadata.namespace, `${t.metadata.name}-${sts.metadata.name}-${ord}`).catch(() => {});
    }
  }

  private async writeStatus(sts: KObject, pods: KObject[], currentRev: string, updateRev: string, hist: KObject[]): Promise<SyncResult> {
    const now = this.ctx.clock.now();
    const live = pods.filter((p) => !p.metadata.deletionTimestamp || running(p));
    const replicas = sts.spec?.replicas ?? 1;
    const updated = live.filter((p) => p.metadata.labels?.[REVISION_HASH] === updateRev).length;
    const ready = live.filter((p) => running(p) && isPodReady(p)).length;
    // Once every replica runs the update revision, it becomes the current one.
    const finished = updated === replicas && live.length === replicas && ready === replicas;
    const cur = finished ? updateRev : currentRev;
    const status: any = {
      observedGeneration: sts.metadata.generation, replicas: live.length,
      readyReplicas: ready,
      availableReplicas: live.filter((p) => running(p) && isPodAvailable(p, sts.spec?.minReadySeconds ?? 0, now)).length,
      currentReplicas: live.filter((p) => p.metadata.labels?.[REVISION_HASH] === cur).length,
      updatedReplicas: updated, currentRevision: cur, updateRevision: updateRev,
      collisionCount: sts.status?.collisionCount ?? 0,
    };
    if (canonicalJson(sts.status ?? {}) !== canonicalJson(status)) await this.ctx.client.update(R.statefulsets, sts.metadata.namespace, { ...sts, status }, 'status');
    const inUse = new Set([cur, updateRev, ...pods.map((p) => p.metadata.labels?.[REVISION_HASH]).filter(Boolean)]);
    await truncateHistory(this.ctx.client, hist, inUse, sts.spec?.revisionHistoryLimit ?? 10);
    return sts.spec?.minReadySeconds && status.readyReplicas !== status.availableReplicas ? { requeueAfterMs: 1000 } : undefined;
  }
}
