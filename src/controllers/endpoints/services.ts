/**
 * Which Services a pod change concerns: those of its namespace whose selector matches the
 * pod's labels before or after the change.
 */
import type { KObject } from '../../client/client.js';
import { selectorObjectMatcher } from '../../core/labels.js';
import { keyOf, type Informer } from '../runtime/informer.js';

/** Keys of the Services selecting any of `pods` (old and new versions of one pod). */
export function servicesOfPod(services: Informer, pods: KObject[]): Set<string> {
  const out = new Set<string>();
  for (const pod of pods) {
    for (const svc of services.listNamespace(pod.metadata.namespace!)) {
      if (!svc.spec?.selector) continue;
      if (selectorObjectMatcher({ matchLabels: svc.spec.selector })(pod.metadata.labels ?? {})) out.add(keyOf(svc));
    }
  }
  return out;
}
