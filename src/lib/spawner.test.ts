import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand, stopSpawner, useSpawner } from './spawner.js';

// The same behaviour here and through the helper process; the file exiting at all shows an
// idle helper does not hold this process.
for (const via of ['this process', 'the helper process'] as const) {
  test(`commands run to completion in ${via}: stdin, env, cwd, exit codes, timeouts, missing binaries`, async () => {
    if (via === 'the helper process') useSpawner(); else stopSpawner();
    try {
      const echo = await runCommand('cat', [], { input: 'hello\n' });
      assert.deepEqual(echo, { code: 0, signal: null, stdout: 'hello\n', stderr: '' });
      const env = await runCommand('sh', ['-c', 'echo "$SKIFF_X"; pwd; echo oops >&2; exit 3'], { env: { PATH: process.env.PATH, SKIFF_X: 'x1' }, cwd: '/tmp' });
      assert.deepEqual(env, { code: 3, signal: null, stdout: 'x1\n/tmp\n', stderr: 'oops\n' });
      const slow = await runCommand('sleep', ['5'], { timeoutMs: 100, killSignal: 'SIGKILL' });
      assert.equal(slow.signal, 'SIGKILL');
      await assert.rejects(runCommand('/nonexistent/skiff-binary', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => runCommand('sh', ['-c', `echo ${i}`])));
      assert.deepEqual(many.map((r) => r.stdout), Array.from({ length: 20 }, (_, i) => `${i}\n`));
      // A sync pipe on fd 3 (as conmon's): answered at the first JSON value while the command runs on.
      const synced = await runCommand('sh', ['-c', 'echo starting >&2; printf \'{"data": \' >&3; printf \'42}\' >&3; exec sleep 3'], { syncPipe: true });
      assert.equal(synced.sync, '{"data": 42}');
      const silent = await runCommand('sh', ['-c', 'echo no message >&2; exit 1'], { syncPipe: true });
      assert.equal(silent.sync, undefined, 'fd 3 closed without a message');
    } finally {
      stopSpawner();
    }
  });
}
