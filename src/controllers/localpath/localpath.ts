/**
 * The local-path provisioner, as k3s ships Rancher's: a StorageClass `local-path` (the
 * default; provisioner rancher.io/local-path, WaitForFirstConsumer, reclaimPolicy Delete) and
 * an external provisioner that gives each claim a directory on the node its pod was
 * scheduled to, as a hostPath PersistentVolume pinned to that node.
 *
 *   claim with volume.kubernetes.io/storage-provisioner = rancher.io/local-path and
 *   selected-node = this node ─► mkdir <dir>/pvc-<uid>_<ns>_<claim> (0777)
 *                              ─► PV pvc-<uid>: hostPath DirectoryOrCreate, nodeAffinity
 *                                 kubernetes.io/hostname In [node], claimRef = the claim
 *                                 (the binder completes the binding)
 *   PV Released, reclaimPolicy Delete, provisioned by us ─► rm -r the directory ─► delete PV
 *
 * Unlike Rancher's, which runs helper pods on the node to make and remove directories, this
 * one runs in the node's own process (`skiff up`) and acts on the filesystem directly; it
 * serves the claims of its node only. Only ReadWriteOnce and ReadWriteOncePod claims without
 * a selector are provisioned, as Rancher's.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { KObject } from '../../client/client.js';
import { ApiStatusError } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { LoopController, type ControllerContext } from '../runtime/controller.js';
import type { Informer } from '../runtime/informer.js';
import { ANN, claimClass } from '../persistentvolume/match.js';

/** The provisioner's name. */
export const PROVISIONER = 'rancher.io/local-path';
/** The StorageClass k3s installs. */
export const STORAGE_CLASS = {
  apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
  metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
  provisioner: PROVISIONER, volumeBindingMode: 'WaitForFirstConsumer', reclaimPolicy: 'Delete',
};
/** The annotation recording the node a volume was made on. */
const NODE_ANNOTATION = 'local.path.provisioner/selected-node';

/** Options of the provisioner. */
export interface LocalPathOptions {
  /** Where volumes are made (k3s: /var/lib/rancher/k3s/storage; skiff: <root>/storage). */
  dir: string;
  /** The node whose claims this provisioner serves. */
  nodeName: string;
}

/** The directory of a claim's volume: `<pv>_<namespace>_<claim>`, as Rancher's default pattern. */
export function volumeDir(dir: string, pvName: string, pvc: KObject): string {
  return path.join(dir, `${pvName}_${pvc.metadata.namespace}_${pvc.metadata.name}`);
}

/** Why a claim cannot be provisioned, in Rancher's words, or undefined. */
export function unsupported(pvc: KObject): string | undefined {
  if (pvc.spec?.selector) return 'claim.Spec.Selector is not supported';
  for (const m of pvc.spec?.accessModes ?? []) {
    if (m !== 'ReadWriteOnce' && m !== 'ReadWriteOncePod') return 'NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes';
  }
  if (!pvc.spec?.resources?.requests?.storage) return 'claim.Spec.Resources.Requests[storage] is required';
  return undefined;
}

/** The PersistentVolume for a claim on `node` at `hostPath`. */
export function provisionedVolume(pvc: KObject, sc: KObject, node: string, hostPath: string): KObject {
  return {
    apiVersion: 'v1', kind: 'PersistentVolume',
    metadata: { name: `pvc-${pvc.metadata.uid}`, annotations: { [ANN.provisionedBy]: PROVISIONER, [NODE_ANNOTATION]: node } },
    spec: {
      accessModes: pvc.spec.accessModes,
      capacity: { storage: pvc.spec.resources.requests.storage },
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: pvc.metadata.namespace, name: pvc.metadata.name, uid: pvc.metadata.uid, resourceVersion: pvc.metadata.resourceVersion },
      hostPath: { path: hostPath, type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
      storageClassName: sc.metadata.name,
      volumeMode: 'Filesystem',
    },
  };
}

/** The local-path provisioner of one node. */
export class LocalPathProvisioner extends LoopController {
  private readonly claims: Informer;
  private readonly volumes: Informer;
  private readonly classes: Informer;
  /** Volumes created, until the cache shows them (no second Provisioning event meanwhile). */
  private readonly made = new Set<string>();

  constructor(ctx: ControllerContext, private readonly o: LocalPathOptions) {
    super('local-path-provisioner', ctx, 1);
    this.claims = ctx.informers.for(R.persistentvolumeclaims);
    this.volumes = ctx.informers.for(R.persistentvolumes);
    this.classes = ctx.informers.for(R.storageclasses);
    this.claims.on({ add: (c) => this.loop.enqueue(c), update: (_o, c) => this.loop.enqueue(c) });
    this.volumes.on({ add: (v) => this.loop.enqueue(v), update: (_o, v) => this.loop.enqueue(v) });
  }

  /** Installs the StorageClass (once: an edited one is left as it is) and starts. */
  override run(): this {
    void this.ctx.client.create(R.storageclasses, undefined, structuredClone(STORAGE_CLASS)).catch((err) => {
      if (!(err instanceof ApiStatusError && err.code === 409)) this.ctx.log.warn({ err: String(err) }, 'local-path: cannot create the StorageClass');
    });
    return super.run();
  }

  protected async sync(key: string): Promise<void> {
    if (key.includes('/')) {
      const pvc = this.claims.get(key);
      if (pvc) await this.provision(pvc);
    } else {
      const pv = this.volumes.get(key);
      if (pv) await this.reclaim(pv);
    }
  }

  private mine(pvc: KObject): KObject | undefined {
    const ann = pvc.metadata.annotations ?? {};
    if ((ann[ANN.storageProvisioner] ?? ann[ANN.betaStorageProvisioner]) !== PROVISIONER) return undefined;
    if (pvc.spec?.volumeName || pvc.metadata.deletionTimestamp) return undefined;
    const sc = this.classes.get(claimClass(pvc));
    if (sc?.provisioner !== PROVISIONER) return undefined;
    // WaitForFirstConsumer: the scheduler names the node; an Immediate claim lands here.
    const node = ann[ANN.selectedNode] ?? (sc.volumeBindingMode === 'WaitForFirstConsumer' ? undefined : this.o.nodeName);
    return node === this.o.nodeName ? sc : undefined;
  }

  private async provision(pvc: KObject): Promise<void> {
    const sc = this.mine(pvc);
    if (!sc) return;
    const name = `pvc-${pvc.metadata.uid}`;
    if (this.volumes.get(name) || this.made.has(name)) return; // made already; the binder binds it
    const ref = `${pvc.metadata.namespace}/${pvc.metadata.name}`;
    this.event(pvc, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${ref}"`);
    const why = unsupported(pvc);
    if (why) {
      this.event(pvc, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${sc.metadata.name}": ${why}`);
      return;
    }
    const dir = volumeDir(this.o.dir, name, pvc);
    try {
      await fs.mkdir(dir, { recursive: true });
      await fs.chmod(dir, 0o777); // as Rancher's helper: mkdir -m 0777
    } catch (err) {
      this.event(pvc, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${sc.metadata.name}": ${(err as Error).message}`);
      throw err;
    }
    try {
      await this.ctx.client.create(R.persistentvolumes, undefined, provisionedVolume(pvc, sc, this.o.nodeName, dir));
    } catch (err) {
      if (!(err instanceof ApiStatusError && err.code === 409)) throw err;
    }
    this.made.add(name);
    this.event(pvc, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${name}`);
  }

  /** A released volume of ours with reclaimPolicy Delete: its directory, then the object. */
  private async reclaim(pv: KObject): Promise<void> {
    if (pv.status?.phase !== 'Released' || pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') return;
    if (pv.metadata.annotations?.[ANN.provisionedBy] !== PROVISIONER || pv.metadata.annotations?.[NODE_ANNOTATION] !== this.o.nodeName) return;
    const p = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
    // Only a directory of our own making is ever removed: a direct child of the storage directory.
    if (p && path.dirname(path.resolve(p)) === path.resolve(this.o.dir) && path.basename(p).startsWith(`${pv.metadata.name}_`)) {
      await fs.rm(p, { recursive: true, force: true });
    } else if (p) {
      this.event(pv, 'Warning', 'VolumeFailedDelete', `path ${p} is not under ${this.o.dir}: not deleted`);
      return;
    }
    await this.ctx.client.delete(R.persistentvolumes, undefined, pv.metadata.name!).catch((err) => {
      if (!(err instanceof ApiStatusError && err.code === 404)) throw err;
    });
    this.made.delete(pv.metadata.name!);
  }

  private event(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.ctx.recorder.event({ apiVersion: 'v1', kind: obj.metadata.namespace ? 'PersistentVolumeClaim' : 'PersistentVolume', metadata: obj.metadata }, type, reason, message);
  }
}
