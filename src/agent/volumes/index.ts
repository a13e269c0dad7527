/**
 * The volume manager as the node agent composes it: ConfigMaps, Secrets, claims and volumes
 * read through the API client, tokens from TokenRequest, events through the agent's recorder.
 * Also `cleanupPodVolumes` for `skiff down`: every mount and directory under <root>/pods and
 * the projections' tmpfs.
 */
import path from 'node:path';
import type { ApiClient, KObject } from '../../client/client.js';
import { R } from '../../client/resources.js';
import type { Clock } from '../../controllers/runtime/clock.js';
import type { EventRecorder } from '../../controllers/runtime/events.js';
import { apiSources } from '../env.js';
import { VolumeManager, memoryRoot } from './manager.js';
import { removeDirSafely } from './mounts.js';
import { ServiceAccountTokens } from './tokens.js';

/** What the agent hands over. */
export interface PodVolumesOptions {
  client: ApiClient;
  root: string;
  recorder: EventRecorder;
  clock: Clock;
  log: (msg: string) => void;
  allocatable: () => Record<string, string> | undefined;
  syncMs?: number;
}

/** A VolumeManager reading through `client`. */
export function podVolumes(o: PodVolumesOptions): VolumeManager {
  const tokens = new ServiceAccountTokens(o.client, () => o.clock.now());
  const env = apiSources(o.client);
  return new VolumeManager({
    root: o.root, clock: o.clock, log: o.log, allocatable: o.allocatable, syncMs: o.syncMs,
    sources: { configMap: env.configMap, secret: env.secret, token: (pod, aud, exp) => tokens.token(pod, aud, exp) },
    claims: {
      claim: (ns, name) => o.client.get(R.persistentvolumeclaims, ns, name),
      volume: (name) => o.client.get(R.persistentvolumes, undefined, name),
    },
    event: (pod: KObject, type, reason, message) => {
      const m = pod.metadata;
      o.recorder.event({ apiVersion: 'v1', kind: 'Pod', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }, type, reason, message);
    },
    forget: (uid) => tokens.forget(uid),
  });
}

/** Unmounts and removes every pod volume under `root` (skiff down: no pod runs any more). */
export async function cleanupPodVolumes(root: string): Promise<void> {
  await removeDirSafely(path.join(root, 'pods'));
  await removeDirSafely(memoryRoot(root));
}
