/**
 * The node agent on its own thread, for `skiff up`: a worker thread with its own event loop
 * (and so its own core), which reaches the control plane over HTTPS like any node agent, with
 * the admin kubeconfig. Why: in one event loop, every pod start the agent drives (record
 * writes, spawns, status updates) delayed the API server and the scheduler, and theirs delayed
 * it; with 30 pods starting at once that loop was busy ~90% of the time.
 *
 * The main thread calls `startAgentThread()`; the worker runs this module's `main()`.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/** What the worker needs to build its NodeAgent (plain data: it crosses threads). */
export interface AgentThreadOptions {
  kubeconfig: string;
  nodeName: string;
  root: string;
  nodeIP?: string;
  clusterDNS?: string[];
  logLevel: string;
  /** The agent's volume refresh period (--sync-frequency). */
  volumeSyncMs?: number;
  /** The agent's --streaming-connection-idle-timeout. */
  streamIdleTimeoutMs?: number;
}

type Msg = { type: 'started' } | { type: 'stopped' } | { type: 'error'; message: string };

/** The agent running on its worker thread. */
export interface AgentThread {
  /** Stops the agent (containers keep running), then the thread. */
  stop(): Promise<void>;
}

/** Starts the node agent on a worker thread; resolves once it has started (registered its node). */
export function startAgentThread(o: AgentThreadOptions): Promise<AgentThread> {
  const worker = new Worker(new URL(import.meta.url), { workerData: o });
  return new Promise((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`node agent thread exited (${code}) before it started`));
    worker.once('exit', onExit);
    worker.once('error', reject);
    worker.on('message', (m: Msg) => {
      if (m.type === 'error') reject(new Error(m.message));
      if (m.type !== 'started') return;
      worker.off('exit', onExit);
      resolve({
        stop: () => new Promise<void>((done) => {
          const timer = setTimeout(() => void worker.terminate().then(() => done()), 30_000);
          worker.on('message', (x: Msg) => { if (x.type === 'stopped') { clearTimeout(timer); void worker.terminate().then(() => done()); } });
          worker.once('exit', () => { clearTimeout(timer); done(); });
          worker.postMessage('stop');
        }),
      });
    });
  });
}

async function main(o: AgentThreadOptions): Promise<void> {
  const { ApiClient } = await import('../client/client.js');
  const { NodeAgent } = await import('../agent/agent.js');
  const { useSpawner, stopSpawner } = await import('../lib/spawner.js');
  const { default: pino } = await import('pino');
  const log = pino({ level: o.logLevel, base: undefined }, pino.destination(2));
  // Spawns from this thread go through the helper process too (see spawner.ts).
  useSpawner();
  const client = await ApiClient.fromKubeconfig(o.kubeconfig);
  const agent = new NodeAgent({ client, nodeName: o.nodeName, root: o.root, nodeIP: o.nodeIP, clusterDNS: o.clusterDNS, volumeSyncMs: o.volumeSyncMs, streamIdleTimeoutMs: o.streamIdleTimeoutMs, log: (m) => log.info(m) });
  try {
    await agent.start();
  } catch (err) {
    parentPort!.postMessage({ type: 'error', message: (err as Error).message } satisfies Msg);
    return;
  }
  parentPort!.on('message', (m) => {
    if (m !== 'stop') return;
    void agent.stop().catch(() => {}).then(() => {
      stopSpawner();
      client.close();
      parentPort!.postMessage({ type: 'stopped' } satisfies Msg);
    });
  });
  parentPort!.postMessage({ type: 'started' } satisfies Msg);
}

if (!isMainThread && (workerData as AgentThreadOptions | undefined)?.kubeconfig) void main(workerData as AgentThreadOptions);
