/**
 * The scheduling framework, after kube-scheduler's: plugins hook into extension points
 * (preFilter, filter, preScore, score + normalize) and answer with a Status whose code says
 * what happens next: Unschedulable (preemption may help), UnschedulableAndUnresolvable (it
 * cannot), Error. A cycle is synchronous over the scheduler's cache, so everything a plugin
 * sees is one consistent snapshot.
 */
import type { ApiClient, KObject } from '../client/client.js';
import type { NodeInfo } from './nodeinfo.js';

/** What a plugin's verdict means. */
export type Code = 'Success' | 'Unschedulable' | 'UnschedulableAndUnresolvable' | 'Error';

/** A plugin's verdict, with the reasons shown in "0/N nodes are available: ...". */
export interface Status { code: Code; reasons: string[] }

/** Success. */
export const OK: Status = Object.freeze({ code: 'Success', reasons: [] }) as Status;

/** A failure preemption might fix. */
export function unschedulable(...reasons: string[]): Status { return { code: 'Unschedulable', reasons }; }

/** A failure preemption cannot fix. */
export function unresolvable(...reasons: string[]): Status { return { code: 'UnschedulableAndUnresolvable', reasons }; }

/** The cluster as one cycle sees it. */
export interface Snapshot {
  nodes: NodeInfo[];
  get(name: string): NodeInfo | undefined;
  /** Nodes holding pods with inter-pod affinity terms (for the symmetric anti-affinity check). */
  havePodsWithAffinity: NodeInfo[];
}

/** Per-cycle scratch space plugins share between their extension points. */
export type CycleState = Map<string, unknown>;

/**
 * What a PostFilter plugin proposes when no node fits: a node to nominate and the pods to
 * evict there (the scheduler carries it out), or why it cannot help (`message`, shown after
 * the filter reasons, e.g. "preemption: 0/3 nodes are available: ...").
 */
export interface PostFilterResult {
  code: Code;
  nominatedNode?: string;
  victims?: KObject[];
  message?: string;
  /** The pod's current nomination stands (its victims are still terminating). */
  keepNomination?: boolean;
}

/**
 * A plugin: any subset of the extension points. The points a scheduling cycle runs, in order:
 * preFilter, filter (every node), postFilter (only when no node fits), preScore, score,
 * normalize (feasible nodes), reserve (the chosen node; unreserve undoes it when a later step
 * fails), then preBind and bind (asynchronously, the first bind plugin that does not skip).
 */
export interface Plugin {
  name: string;
  /** Once per pod before filtering (compute what filter needs); a failure rejects every node. */
  preFilter?(state: CycleState, pod: KObject, snap: Snapshot): Status;
  /** Can the pod run on this node? */
  filter?(state: CycleState, pod: KObject, node: NodeInfo, snap: Snapshot): Status;
  /** Once per pod before scoring, with the feasible nodes. */
  preScore?(state: CycleState, pod: KObject, nodes: NodeInfo[], snap: Snapshot): void;
  /** A raw score of the node for this pod. */
  score?(state: CycleState, pod: KObject, node: NodeInfo, snap: Snapshot): number;
  /** Maps raw scores onto 0..100 (in place). */
  normalize?(state: CycleState, pod: KObject, scores: Map<string, number>): void;
  /** Weight of this plugin's score. */
  weight?: number;
  /** No node fits: may make room (preemption). The first result that is not Unschedulable wins. */
  postFilter?(state: CycleState, pod: KObject, snap: Snapshot, statuses: Map<string, Status>): PostFilterResult;
  /** The pod is assumed on `node`: claim what the plugin tracks; a failure abandons the placement. */
  reserve?(state: CycleState, pod: KObject, node: string): Status;
  /** Undoes reserve (a later reserve or the binding failed). Must be idempotent. */
  unreserve?(state: CycleState, pod: KObject, node: string): void;
  /** Before binding (asynchronously): what must exist first, e.g. bound volumes; a failure retries the pod. */
  preBind?(state: CycleState, pod: KObject, node: string, client: ApiClient): Promise<Status>;
  /** Binds the pod to `node` through the API; undefined skips to the next bind plugin. Throws on failure. */
  bind?(pod: KObject, node: string, client: ApiClient): Promise<Status | undefined>;
}

/** The most a normalized score is worth. */
export const MAX_SCORE = 100;

/** Scales scores onto 0..MAX_SCORE by the largest (reverse: lower raw is better). */
export function defaultNormalize(scores: Map<string, number>, reverse = false): void {
  let max = 0;
  for (const v of scores.values()) max = Math.max(max, v);
  for (const [k, v] of scores) {
    // All zero: every node scores 0, or MAX_SCORE when reversed (kube-scheduler's DefaultNormalizeScore).
    const s = max === 0 ? 0 : Math.floor((v * MAX_SCORE) / max);
    scores.set(k, reverse ? MAX_SCORE - s : s);
  }
}
