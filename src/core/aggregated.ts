/**
 * An API group served by a component other than the API server's storage, as kube-aggregator
 * lets an APIService (metrics-server's metrics.k8s.io) be served: the API server lists its
 * resources in discovery, authenticates requests under /apis/<group>/<version>/ and hands
 * them over; the component answers with a status code and a body (an object, a list, a
 * meta.k8s.io Table or a Status).
 */

/** A resource of an aggregated group-version, as discovery lists it. */
export interface AggregatedResource {
  /** Plural, the URL segment. */
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  singularName?: string;
}

/** A request handed to an aggregated API (already authenticated). */
export interface AggregatedRequest {
  method: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
  /** The client asked for a meta.k8s.io Table of this version (kubectl get). */
  table?: string;
}

/** What an aggregated API answers. */
export interface AggregatedResponse {
  code: number;
  body: unknown;
}

/** A group-version served by a component. */
export interface AggregatedApi {
  group: string;
  version: string;
  resources: AggregatedResource[];
  serve(req: AggregatedRequest): Promise<AggregatedResponse>;
}
