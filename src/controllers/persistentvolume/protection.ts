/**
 * Storage object in-use protection, as kube-controller-manager's pvc-protection and
 * pv-protection controllers: a claim being deleted keeps its `kubernetes.io/pvc-protection`
 * finalizer (and stays Terminating) while a pod that is not finished uses it; a volume being
 * deleted keeps `kubernetes.io/pv-protection` while it is Bound. The API server's admission
 * adds the finalizers; these controllers remove them once nothing uses the object.
 */
import type { KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { LoopController, type ControllerContext } from '../runtime/controller.js';
import type { Informer } from '../runtime/informer.js';

const PVC_PROTECTION = 'kubernetes.io/pvc-protection';
const PV_PROTECTION = 'kubernetes.io/pv-protection';

/** The claims a pod's volumes name. */
export function claimsOfPod(pod: KObject): string[] {
  return (pod.spec?.volumes ?? []).filter((v: any) => v.persistentVolumeClaim?.claimName).map((v: any) => v.persistentVolumeClaim.claimName);
}

/** Whether a pod still counts as using its claims (not Succeeded or Failed). */
function podActive(pod: KObject): boolean {
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

async function dropFinalizer(ctx: ControllerContext, r: typeof R.pods, obj: KObject, finalizer: string): Promise<void> {
  const out = { ...obj, metadata: { ...obj.metadata, finalizers: (obj.metadata.finalizers ?? []).filter((f: string) => f !== finalizer) } };
  await ctx.client.update(r, obj.metadata.namespace, out);
}

/** Removes kubernetes.io/pvc-protection from deleted claims no pod uses. */
export class PVCProtectionController extends LoopController {
  private readonly claims: Informer;
  private readonly pods: Informer;

  constructor(ctx: ControllerContext) {
    super('pvc-protection', ctx, 1);
    this.claims = ctx.informers.for(R.persistentvolumeclaims);
    this.pods = ctx.informers.for(R.pods);
    const onClaim = (c: KObject) => { if (c.metadata.deletionTimestamp) this.loop.enqueue(c); };
    this.claims.on({ add: onClaim, update: (_o, c) => onClaim(c) });
    const onPod = (p: KObject) => { for (const n of claimsOfPod(p)) this.loop.enqueue(`${p.metadata.namespace}/${n}`); };
    this.pods.on({ update: (_o, p) => { if (!podActive(p)) onPod(p); }, delete: onPod });
  }

  protected async sync(key: string): Promise<void> {
    const pvc = this.claims.get(key);
    if (!pvc?.metadata.deletionTimestamp || !(pvc.metadata.finalizers ?? []).includes(PVC_PROTECTION)) return;
    const used = this.pods.listNamespace(pvc.metadata.namespace!).some((p) => podActive(p) && claimsOfPod(p).includes(pvc.metadata.name!));
    if (!used) await dropFinalizer(this.ctx, R.persistentvolumeclaims, pvc, PVC_PROTECTION);
  }
}

/** Removes kubernetes.io/pv-protection from deleted volumes that are not Bound. */
export class PVProtectionController extends LoopController {
  private readonly volumes: Informer;

  constructor(ctx: ControllerContext) {
    super('pv-protection', ctx, 1);
    this.volumes = ctx.informers.for(R.persistentvolumes);
    const onVolume = (v: KObject) => { if (v.metadata.deletionTimestamp) this.loop.enqueue(v); };
    this.volumes.on({ add: onVolume, update: (_o, v) => onVolume(v) });
  }

  protected async sync(key: string): Promise<void> {
    const pv = this.volumes.get(key);
    if (!pv?.metadata.deletionTimestamp || !(pv.metadata.finalizers ?? []).includes(PV_PROTECTION)) return;
    if (pv.status?.phase !== 'Bound') await dropFinalizer(this.ctx, R.persistentvolumes, pv, PV_PROTECTION);
  }
}
