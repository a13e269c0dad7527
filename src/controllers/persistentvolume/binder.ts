/**
 * The PersistentVolume binder, as kube-controller-manager's persistentvolume-binder: it binds
 * claims to volumes through the two-way pointer (pv.spec.claimRef, then pvc.spec.volumeName,
 * each step idempotent so a crash or a conflict is finished by the next sync) and keeps both
 * phases: Pending, Available, Bound, Released, Lost.
 *
 *   claim without volume ─ matching volume (match.ts) ─────────────► bind
 *                        ─ class with a provisioner, Immediate ─────► volume.kubernetes.io/storage-provisioner
 *                        ─ WaitForFirstConsumer, no selected node ──► event WaitForFirstConsumer, wait
 *                          (the scheduler sets volume.kubernetes.io/selected-node, then as above;
 *                           the external provisioner creates a volume pre-bound to the claim)
 *   volume whose claim is gone ─► Released (a Delete-policy volume of a provisioner is then
 *                                 deleted by that provisioner; Retain keeps it)
 *
 * One worker, as in Kubernetes: two syncs at once could bind one volume to two claims. Keys are
 * "ns/name" for claims and "name" for volumes (cluster-scoped).
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { ApiEventRecorder, type EventRecorder } from '../runtime/events.js';
import { LoopController, type ControllerContext } from '../runtime/controller.js';
import type { Informer } from '../runtime/informer.js';
import { rfc3339 } from '../runtime/clock.js';
import { ANN, claimClass, findBestMatch, isBoundTo } from './match.js';

/** The ExternalProvisioning event's text, as the binder words it. */
export function externalProvisioningMessage(provisioner: string): string {
  return `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that your external provisioner is running and correctly registered.`;
}

/** Binds PersistentVolumeClaims and PersistentVolumes. */
export class PersistentVolumeBinder extends LoopController {
  private readonly claims: Informer;
  private readonly volumes: Informer;
  private readonly classes: Informer;
  private readonly recorder: EventRecorder;

  constructor(ctx: ControllerContext) {
    super('persistentvolume-binder', ctx, 1);
    // Its events name it, as kube-controller-manager's do.
    this.recorder = ctx.recorder instanceof ApiEventRecorder ? new ApiEventRecorder(ctx.client, 'persistentvolume-controller', ctx.clock) : ctx.recorder;
    this.claims = ctx.informers.for(R.persistentvolumeclaims);
    this.volumes = ctx.informers.for(R.persistentvolumes);
    this.classes = ctx.informers.for(R.storageclasses);
    const onClaim = (c: KObject) => this.loop.enqueue(c);
    this.claims.on({ add: onClaim, update: (_o, c) => onClaim(c), delete: (c) => { if (c.spec?.volumeName) this.loop.enqueue(c.spec.volumeName); } });
    const onVolume = (v: KObject) => {
      this.loop.enqueue(v);
      const ref = v.spec?.claimRef;
      if (ref?.namespace && ref.name) this.loop.enqueue(`${ref.namespace}/${ref.name}`);
    };
    this.volumes.on({ add: onVolume, update: (_o, v) => onVolume(v), delete: onVolume });
    // A new volume or class may satisfy waiting claims.
    this.classes.on({ add: () => this.pendingClaims(), update: () => this.pendingClaims() });
  }

  private pendingClaims(): void {
    for (const c of this.claims.list()) if (c.status?.phase !== 'Bound') this.loop.enqueue(c);
  }

  protected async sync(key: string): Promise<void> {
    if (key.includes('/')) {
      const pvc = this.claims.get(key);
      if (pvc) await this.syncClaim(pvc);
    } else {
      const pv = this.volumes.get(key);
      if (pv) await this.syncVolume(pv);
    }
  }

  private async syncClaim(pvc: KObject): Promise<void> {
    const ann = pvc.metadata.annotations ?? {};
    const pv = pvc.spec?.volumeName ? this.volumes.get(pvc.spec.volumeName) : undefined;
    if (ann[ANN.bindCompleted] === undefined) {
      if (!pvc.spec?.volumeName) return this.syncUnboundClaim(pvc);
      if (!pv) return this.claimPhase(pvc, 'Pending');
      if (!pv.spec?.claimRef || isBoundTo(pv, pvc)) return this.bind(pv, pvc);
      return this.claimPhase(pvc, 'Pending'); // asked for a volume someone else holds
    }
    if (!pvc.spec?.volumeName) {
      this.event(pvc, 'Warning', 'ClaimLost', 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      return this.claimPhase(pvc, 'Lost');
    }
    if (!pv) {
      this.event(pvc, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      return this.claimPhase(pvc, 'Lost');
    }
    if (!pv.spec?.claimRef || isBoundTo(pv, pvc)) return this.bind(pv, pvc);
    this.event(pvc, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
    return this.claimPhase(pvc, 'Lost');
  }

  private async syncUnboundClaim(pvc: KObject): Promise<void> {
    const className = claimClass(pvc);
    const sc = className ? this.classes.get(className) : undefined;
    const delay = sc?.volumeBindingMode === 'WaitForFirstConsumer';
    const pv = findBestMatch(pvc, this.volumes.list(), { delayBinding: delay });
    if (pv) return this.bind(pv, pvc);
    if (!className) {
      this.event(pvc, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      return this.claimPhase(pvc, 'Pending');
    }
    if (!sc) {
      this.event(pvc, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`);
      return this.claimPhase(pvc, 'Pending');
    }
    const ann = pvc.metadata.annotations ?? {};
    if (delay && !ann[ANN.selectedNode]) {
      this.event(pvc, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      return this.claimPhase(pvc, 'Pending');
    }
    if (ann[ANN.storageProvisioner] !== sc.provisioner) {
      await this.ctx.client.patch(R.persistentvolumeclaims, pvc.metadata.namespace, pvc.metadata.name!, {
        metadata: { annotations: { [ANN.storageProvisioner]: sc.provisioner, [ANN.betaStorageProvisioner]: sc.provisioner } },
      }, 'merge');
    }
    this.event(pvc, 'Normal', 'ExternalProvisioning', externalProvisioningMessage(sc.provisioner));
    await this.claimPhase(pvc, 'Pending');
  }

  /** Completes whatever part of the binding is missing: volume claimRef, volume phase, claim volumeName, claim status. */
  private async bind(pv: KObject, pvc: KObject): Promise<void> {
    const ref = pv.spec?.claimRef;
    if (!ref || ref.uid !== pvc.metadata.uid) {
      const out = structuredClone(pv);
      out.spec.claimRef = { kind: 'PersistentVolumeClaim', namespace: pvc.metadata.namespace, name: pvc.metadata.name, uid: pvc.metadata.uid, apiVersion: 'v1', resourceVersion: pvc.metadata.resourceVersion };
      if (!ref) out.metadata.annotations = { ...out.metadata.annotations, [ANN.boundByController]: 'yes' };
      pv = await this.ctx.client.update(R.persistentvolumes, undefined, out);
    }
    if (pv.status?.phase !== 'Bound') pv = await this.volumePhase(pv, 'Bound');
    const ann = pvc.metadata.annotations ?? {};
    if (pvc.spec?.volumeName !== pv.metadata.name || ann[ANN.bindCompleted] === undefined) {
      const out = structuredClone(pvc);
      const byController = !pvc.spec?.volumeName;
      out.spec.volumeName = pv.metadata.name;
      out.metadata.annotations = { ...ann, [ANN.bindCompleted]: 'yes', ...(byController ? { [ANN.boundByController]: 'yes' } : {}) };
      pvc = await this.ctx.client.update(R.persistentvolumeclaims, pvc.metadata.namespace, out);
    }
    const st = pvc.status ?? {};
    if (st.phase !== 'Bound' || JSON.stringify(st.capacity) !== JSON.stringify(pv.spec?.capacity) || JSON.stringify(st.accessModes) !== JSON.stringify(pv.spec?.accessModes)) {
      await this.ctx.client.update(R.persistentvolumeclaims, pvc.metadata.namespace, { ...pvc, status: { ...st, phase: 'Bound', accessModes: pv.spec?.accessModes, capacity: pv.spec?.capacity } }, 'status');
    }
  }

  private async syncVolume(pv: KObject): Promise<void> {
    const ref = pv.spec?.claimRef;
    if (!ref || !ref.uid) {
      // Free, or pre-bound by its creator to a claim that will come.
      if (pv.status?.phase !== 'Available') await this.volumePhase(pv, 'Available');
      return;
    }
    let pvc = this.claims.get(`${ref.namespace}/${ref.name}`);
    if (pvc && pvc.metadata.uid !== ref.uid) pvc = undefined; // a new claim of the same name
    if (!pvc) {
      if (pv.status?.phase === 'Released' || pv.status?.phase === 'Failed') return;
      if (pv.spec?.persistentVolumeReclaimPolicy === 'Recycle') {
        this.event(pv, 'Warning', 'VolumeFailedRecycle', 'Recycle is not supported');
        await this.volumePhase(pv, 'Failed', 'Recycle is not supported');
        return;
      }
      // Released; a provisioner deletes its Delete-policy volumes from here (Retain stays).
      await this.volumePhase(pv, 'Released');
      return;
    }
    if (!pvc.spec?.volumeName) {
      // The binding is under way (claimRef first, volumeName next): the claim's sync finishes it.
      this.loop.enqueue(pvc);
      return;
    }
    if (pvc.spec.volumeName === pv.metadata.name) {
      if (pv.status?.phase !== 'Bound') await this.volumePhase(pv, 'Bound');
      return;
    }
    // The claim went to another volume: a binding the controller made is undone.
    if (pv.metadata.annotations?.[ANN.boundByController] !== undefined) {
      const out = structuredClone(pv);
      delete out.spec.claimRef;
      delete out.metadata.annotations[ANN.boundByController];
      await this.volumePhase(await this.ctx.client.update(R.persistentvolumes, undefined, out), 'Available');
    }
  }

  private async volumePhase(pv: KObject, phase: string, message?: string): Promise<KObject> {
    const status = { ...(pv.status ?? {}), phase, lastPhaseTransitionTime: rfc3339(this.ctx.clock.now()), ...(message ? { message } : {}) };
    if (!message) delete status.message;
    return this.ctx.client.update(R.persistentvolumes, undefined, { ...pv, status }, 'status');
  }

  private async claimPhase(pvc: KObject, phase: string): Promise<void> {
    if (pvc.status?.phase === phase) return;
    await this.ctx.client.update(R.persistentvolumeclaims, pvc.metadata.namespace, { ...pvc, status: { ...(pvc.status ?? {}), phase } }, 'status');
  }

  private event(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const kind = obj.metadata.namespace ? 'PersistentVolumeClaim' : 'PersistentVolume';
    this.recorder.event({ apiVersion: 'v1', kind, metadata: obj.metadata }, type, reason, message);
  }
}
