/**
 * Where a node's agent (kubelet) listens, as the API server and metrics-server find it: the
 * node's InternalIP (else its Hostname address) and status.daemonEndpoints.kubeletEndpoint.Port.
 */

/** The agent endpoint of a Node object; undefined while it reports none. */
export function kubeletEndpoint(node: any): { host: string; port: number } | undefined {
  const port = node?.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  const addrs: any[] = node?.status?.addresses ?? [];
  const host = (addrs.find((a) => a.type === 'InternalIP') ?? addrs.find((a) => a.type === 'Hostname'))?.address;
  return port && host ? { host, port } : undefined;
}
