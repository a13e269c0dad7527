/**
 * DefaultBinder: binds a pod through the pods/binding subresource (POST
 * /api/v1/namespaces/NS/pods/NAME/binding with a Binding object), as kube-scheduler's; the API
 * server sets spec.nodeName and the PodScheduled=True condition.
 */
import { resourcePath } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { OK, type Plugin } from '../framework.js';

/** The DefaultBinder plugin. */
export const defaultBinder: Plugin = {
  name: 'DefaultBinder',
  bind: async (pod, node, client) => {
    const { namespace, name, uid } = pod.metadata;
    await client.request('POST', resourcePath(R.pods, namespace, name, 'binding'), {
      apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid }, target: { apiVersion: 'v1', kind: 'Node', name: node },
    });
    return OK;
  },
};
