/**
 * The spawn helper process (see spawner.ts): runs each requested command and sends back how it
 * ended. It leaves when its parent does (the IPC channel closes).
 */
import { runLocal, type SpawnReply, type SpawnRequest } from './spawner.js';

const reply = (m: SpawnReply) => { if (process.connected) process.send!(m); };

process.on('message', (req: SpawnRequest) => {
  const { id, cmd, args, ...o } = req;
  runLocal(cmd, args, o).then(
    (result) => reply({ id, result }),
    (err: NodeJS.ErrnoException) => reply({ id, error: { message: err.message, code: err.code } }),
  );
});
process.on('disconnect', () => process.exit(0));
