/**
 * The ServiceAccount admission plugin, as kube-apiserver's: a pod runs as its namespace's
 * `default` service account unless it names one, which must exist (403 `error looking up
 * service account NS/NAME: serviceaccount "NAME" not found`); it inherits the account's
 * imagePullSecrets when it has none; and unless the pod or the account sets
 * automountServiceAccountToken to false, it gets the `kube-api-access-xxxxx` projected volume
 * (a bound token from the TokenRequest API, the cluster CA from the kube-root-ca.crt
 * ConfigMap, the namespace) mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount
 * in every container that has nothing mounted there. Mirror pods are left alone.
 */
import { randomInt } from 'node:crypto';
import type { Storage } from '../storage.js';
import { BUILTIN } from '../resources.js';
import { ApiError } from '../status.js';
import { forbidden } from './pods.js';

const SERVICEACCOUNTS = BUILTIN.find((r) => r.resource === 'serviceaccounts')!;

/** Where Kubernetes mounts the service account's credentials. */
export const SA_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The token lifetime the volume asks for (the kubelet's 3607 s, extended by the server). */
const TOKEN_SECONDS = 3607;
/** utilrand.String's alphabet: no vowels, no look-alikes. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The projected volume Kubernetes adds for the token, CA and namespace. */
export function kubeApiAccessVolume(name: string): any {
  return {
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: TOKEN_SECONDS, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

/** Admits a pod being created (mutates it). */
export async function admitServiceAccount(storage: Storage, pod: any): Promise<void> {
  if (pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined) return;
  const spec = pod.spec ?? {};
  spec.serviceAccountName ||= spec.serviceAccount || 'default';
  spec.serviceAccount = spec.serviceAccountName;
  const ns = pod.metadata?.namespace;
  let sa: any;
  try {
    sa = (await storage.get(SERVICEACCOUNTS, ns, spec.serviceAccountName)).obj;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) {
      throw forbidden('pods', pod.metadata?.name ?? '', `error looking up service account ${ns}/${spec.serviceAccountName}: serviceaccount "${spec.serviceAccountName}" not found`);
    }
    throw err;
  }
  if (!spec.imagePullSecrets?.length && sa.imagePullSecrets?.length) spec.imagePullSecrets = sa.imagePullSecrets.map((s: any) => ({ name: s.name }));
  const automount = spec.automountServiceAccountToken ?? sa.automountServiceAccountToken ?? true;
  if (!automount) return;
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const needs = containers.filter((c: any) => !(c.volumeMounts ?? []).some((m: any) => m.mountPath === SA_MOUNT_PATH));
  if (!needs.length) return;
  const volumes: any[] = spec.volumes ?? [];
  let name = '';
  do name = `kube-api-access-${Array.from({ length: 5 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('')}`;
  while (volumes.some((v) => v.name === name));
  spec.volumes = [...volumes, kubeApiAccessVolume(name)];
  for (const c of needs) c.volumeMounts = [...(c.volumeMounts ?? []), { name, readOnly: true, mountPath: SA_MOUNT_PATH }];
}
