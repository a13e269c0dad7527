/**
 * A request's authorization attributes, as k8s.io/apiserver's RequestInfoFactory derives them:
 * /api/v1/... and /apis/GROUP/VERSION/... are resource requests (verb from the method: GET is
 * get on a name, list or watch on a collection; DELETE on a collection is deletecollection;
 * the legacy /watch/ segment and a `metadata.name=` field selector are honoured); every other
 * path (/api, /apis/GROUP/VERSION, /version, /openapi/v3, /metrics …) is a non-resource
 * request whose verb is the lower-cased method.
 */
import type { Attributes, UserInfo } from './rules.js';

const VERB_OF: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** The attributes of a request by `user` for `method` on `pathname` with `query`. */
export function requestAttributes(user: UserInfo, method: string, pathname: string, query: URLSearchParams): Attributes {
  const nonResource: Attributes = { user, verb: method.toLowerCase(), resourceRequest: false, path: pathname, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  let parts: string[];
  try {
    parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return nonResource;
  }
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return nonResource;
  let apiGroup = '';
  parts = parts.slice(1);
  if (pathname.startsWith('/apis/')) {
    if (parts.length < 3) return nonResource;
    apiGroup = parts[0];
    parts = parts.slice(1);
  }
  const apiVersion = parts[0];
  parts = parts.slice(1);
  let verb: string;
  let special = false;
  if ((parts[0] === 'watch' || parts[0] === 'proxy') && parts.length >= 2) {
    verb = parts[0];
    special = true;
    parts = parts.slice(1);
  } else verb = VERB_OF[method] ?? '';
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1];
    // namespaces/NAME/status|finalize are the namespace's own subresources.
    if (parts.length > 2 && parts[2] !== 'status' && parts[2] !== 'finalize') parts = parts.slice(2);
  }
  const resource = parts[0] ?? '';
  let name = parts[1] ?? '';
  const subresource = parts.length >= 3 && !special ? parts[2] : '';
  if (!name && verb === 'get') verb = query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list';
  if (!name && verb === 'delete') verb = 'deletecollection';
  if (verb === 'list' || verb === 'watch') {
    // A list or watch of one object by field selector is authorized as that object.
    const m = /(?:^|,)metadata\.name==?([^,]+)(?:,|$)/.exec(query.get('fieldSelector') ?? '');
    if (m) name = m[1];
  }
  return { user, verb, resourceRequest: true, path: pathname, apiGroup, apiVersion, resource, subresource, namespace, name };
}

/**
 * The subresources whose WebSocket handshake (a GET) must also be allowed `create`, as SPDY's
 * POST is (kube-apiserver's AuthorizePodWebsocketUpgradeCreatePermission): otherwise `get`
 * on pods/exec would be enough to run commands.
 */
export const CREATE_ON_UPGRADE = new Set(['exec', 'attach', 'portforward']);
