/**
 * ImageLocality: prefer nodes that already hold the pod's images, weighted by image size and
 * by how many nodes have it (an image everywhere says little), as kube-scheduler's.
 */
import { MAX_SCORE, type Plugin } from '../framework.js';

const MB = 1024 * 1024;
const MIN_THRESHOLD = 23 * MB;
const MAX_CONTAINER_THRESHOLD = 1000 * MB;

/** Normalizes an image reference as nodes report it ("busybox" -> "docker.io/library/busybox:latest"). */
export function normalizedImage(name: string): string {
  let n = name;
  if (!/[:@]/.test(n.split('/').pop()!)) n += ':latest';
  const first = n.split('/')[0];
  if (!n.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) n = `docker.io/${n.includes('/') ? n : `library/${n}`}`;
  return n;
}

/** The ImageLocality plugin. */
export const imageLocality: Plugin = {
  name: 'ImageLocality',
  weight: 1,
  preScore: (state, _pod, _nodes, snap) => {
    // How many nodes hold each image: an image present everywhere spreads nothing.
    const spread = new Map<string, number>();
    for (const n of snap.nodes) for (const img of n.images.keys()) spread.set(normalizedImage(img), (spread.get(normalizedImage(img)) ?? 0) + 1);
    state.set('ImageLocality/spread', spread);
    state.set('ImageLocality/total', snap.nodes.length);
  },
  score: (state, pod, node) => {
    const spread = state.get('ImageLocality/spread') as Map<string, number>;
    const total = state.get('ImageLocality/total') as number;
    if (!spread?.size) return 0;
    const have = new Map<string, number>();
    for (const [n, size] of node.images) have.set(normalizedImage(n), size);
    let sum = 0;
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    for (const c of containers) {
      const img = normalizedImage(c.image ?? '');
      const size = have.get(img);
      if (size !== undefined) sum += size * ((spread.get(img) ?? 0) / total);
    }
    const max = MAX_CONTAINER_THRESHOLD * Math.max(1, containers.length);
    const clamped = Math.min(Math.max(sum, MIN_THRESHOLD), max);
    return Math.floor((MAX_SCORE * (clamped - MIN_THRESHOLD)) / (max - MIN_THRESHOLD));
  },
};
