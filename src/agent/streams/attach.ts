/**
 * `kubectl attach` (and `kubectl run -it`), driven by any transport's `ExecIO`: the session
 * joins the stdio of a pod's running container through conmon (the engine's `attach`): its
 * output from the moment of attaching, the client's input to its stdin or terminal (when the
 * pod spec has `stdin`/`tty`), terminal sizes to its terminal. It ends when the container
 * exits or the client leaves; the kubelet then reports Success (attach has no exit code).
 */
import type { ContainerEngine } from '../../engine/container/engine.js';
import { internalError, type ExecIO } from './remotecommand.js';
import { stdioOf } from './exec.js';

/** Attaches the client's streams to container `id` until one side ends, then reports on `io`. */
export async function runAttach(engine: ContainerEngine, id: string, io: ExecIO): Promise<void> {
  try {
    await engine.attach(id, stdioOf(io), { tty: io.tty });
    io.finish({ status: 'Success' });
  } catch (err) {
    io.finish(internalError(`error attaching to container: ${(err as Error).message}`));
  }
}
