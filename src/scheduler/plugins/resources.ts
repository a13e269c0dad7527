/**
 * NodeResourcesFit (requests of cpu, memory, ephemeral-storage and the pod count against
 * allocatable), with LeastAllocated scoring, and NodeResourcesBalancedAllocation (prefer nodes
 * whose cpu and memory use stay even).
 */
import { OK, unschedulable, MAX_SCORE, type Plugin } from '../framework.js';
import { podRequests, nonZeroRequests, type Resources } from '../nodeinfo.js';
import type { KObject } from '../../client/client.js';

const REQ = 'NodeResourcesFit/req';
const NZ = 'NodeResourcesFit/nonZero';

function req(state: Map<string, unknown>, pod: KObject): Resources {
  let r = state.get(REQ) as Resources | undefined;
  if (!r) { r = podRequests(pod); state.set(REQ, r); }
  return r;
}

// The scoring requests, parsed once per cycle rather than once per node.
function nz(state: Map<string, unknown>, pod: KObject): Resources {
  let r = state.get(NZ) as Resources | undefined;
  if (!r) { r = nonZeroRequests(pod); state.set(NZ, r); }
  return r;
}

/** The reasons a node lacks room for `r` (empty when it fits). */
export function insufficient(alloc: Resources, used: Resources, r: Resources): string[] {
  const out: string[] = [];
  if (used.pods + 1 > alloc.pods) out.push('Too many pods');
  if (r.cpu > 0 && used.cpu + r.cpu > alloc.cpu) out.push('Insufficient cpu');
  if (r.memory > 0 && used.memory + r.memory > alloc.memory) out.push('Insufficient memory');
  if (r.ephemeral > 0 && used.ephemeral + r.ephemeral > alloc.ephemeral) out.push('Insufficient ephemeral-storage');
  return out;
}

/** NodeResourcesFit, scoring by LeastAllocated (free share of cpu and memory after placement). */
export const resourcesFit: Plugin = {
  name: 'NodeResourcesFit',
  weight: 1,
  filter: (state, pod, node) => {
    const reasons = insufficient(node.allocatable, node.requested, req(state, pod));
    return reasons.length ? unschedulable(...reasons) : OK;
  },
  score: (state, pod, node) => {
    const r = nz(state, pod);
    const free = (alloc: number, used: number) => (alloc <= 0 || used > alloc ? 0 : ((alloc - used) * MAX_SCORE) / alloc);
    return Math.floor((free(node.allocatable.cpu, node.nonZeroRequested.cpu + r.cpu) + free(node.allocatable.memory, node.nonZeroRequested.memory + r.memory)) / 2);
  },
};

/** NodeResourcesBalancedAllocation: 100 x (1 - the spread of cpu and memory fractions). */
export const balancedAllocation: Plugin = {
  name: 'NodeResourcesBalancedAllocation',
  weight: 1,
  score: (state, pod, node) => {
    const r = nz(state, pod);
    const frac = (used: number, alloc: number) => (alloc <= 0 ? 1 : Math.min(1, used / alloc));
    const c = frac(node.nonZeroRequested.cpu + r.cpu, node.allocatable.cpu);
    const m = frac(node.nonZeroRequested.memory + r.memory, node.allocatable.memory);
    // The standard deviation of two fractions is half their difference.
    return Math.floor((1 - Math.abs(c - m) / 2) * MAX_SCORE);
  },
};
