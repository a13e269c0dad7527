/**
 * The default plugin set, in kube-scheduler's order (cheap filters first).
 */
import type { Plugin } from '../framework.js';
import { nodeName, nodeUnschedulable, nodeAffinity } from './nodeaffinity.js';
import { taintToleration } from './taints.js';
import { resourcesFit, balancedAllocation } from './resources.js';
import { interPodAffinity } from './interpod.js';
import { podTopologySpread } from './spread.js';
import { imageLocality } from './images.js';
import { nodePorts } from './nodeports.js';

/** Every plugin the scheduler runs by default. */
export const DEFAULT_PLUGINS: Plugin[] = [
  nodeUnschedulable, nodeName, taintToleration, nodeAffinity, nodePorts, resourcesFit, podTopologySpread, interPodAffinity,
  balancedAllocation, imageLocality,
];
