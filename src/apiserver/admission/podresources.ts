/**
 * What a pod asks for, as Kubernetes' resource helpers compute it: the pod's effective
 * requests (or limits) are, per resource, the larger of the sum over its regular containers
 * (plus restartable "sidecar" init containers) and the largest single init container, plus
 * the pod overhead.
 */
import { amounts, plus, type Amounts } from './amounts.js';

/** All containers of a pod with their kind, for messages ("container", "init container"). */
export function containersOf(pod: any): { c: any; init: boolean }[] {
  return [
    ...(pod?.spec?.initContainers ?? []).map((c: any) => ({ c, init: true })),
    ...(pod?.spec?.containers ?? []).map((c: any) => ({ c, init: false })),
  ];
}

/** The pod's effective requests or limits. */
export function podTotals(pod: any, which: 'requests' | 'limits'): Amounts {
  let sum: Amounts = {};
  const add = (a: Amounts) => { for (const [k, x] of Object.entries(a)) sum[k] = plus(sum[k], x); };
  for (const c of pod?.spec?.containers ?? []) add(amounts(c?.resources?.[which]));
  const init: Amounts = {};
  for (const c of pod?.spec?.initContainers ?? []) {
    const a = amounts(c?.resources?.[which]);
    if (c?.restartPolicy === 'Always') { add(a); continue; } // sidecars run beside the app
    for (const [k, x] of Object.entries(a)) if (!init[k] || x.v > init[k].v) init[k] = x;
  }
  for (const [k, x] of Object.entries(init)) if (!sum[k] || x.v > sum[k].v) sum[k] = x;
  if (pod?.spec?.overhead) {
    // Limits get overhead only where a limit is set (an unset limit stays unbounded).
    const o = amounts(pod.spec.overhead);
    for (const [k, x] of Object.entries(o)) if (which === 'requests' || sum[k]) sum[k] = plus(sum[k], x);
  }
  return sum;
}

/** True when no container sets any request or limit (QoS BestEffort). */
export function isBestEffort(pod: any): boolean {
  return containersOf(pod).every(({ c }) => !Object.keys(c?.resources?.requests ?? {}).length && !Object.keys(c?.resources?.limits ?? {}).length);
}
