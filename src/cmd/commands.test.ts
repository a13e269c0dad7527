import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commands, registerFor, rootProgram, subcommandOf } from './commands.js';

// The name table decides which module a command line loads: a name missing from it would make
// that command unknown whenever it is run directly, so it must list exactly what each registers.
test('each module registers exactly the top-level names the table gives it', async () => {
  for (const m of commands) {
    const program = rootProgram();
    (await m.load()).register(program);
    assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...m.names].sort());
    assert.deepEqual(program.commands.flatMap((c) => c.aliases()), [], 'top-level aliases would need a table entry too');
  }
});

test('the subcommand is found past the root options', () => {
  assert.equal(subcommandOf(['--root', '/r', 'run', '--rm', 'busybox']), 'run');
  assert.equal(subcommandOf(['--root=/r', 'pod', 'create']), 'pod');
  assert.equal(subcommandOf(['--version']), undefined);
  assert.equal(subcommandOf([]), undefined);
});

test('a command line registers its own module; help, unknown names and no command register all', async () => {
  const names = async (args: string[]) => {
    const program = rootProgram();
    await registerFor(program, args);
    return program.commands.map((c) => c.name());
  };
  const all = commands.flatMap((m) => m.names);
  assert.deepEqual((await names(['--root', '/r', 'run', 'busybox'])).sort(), [...commands.find((m) => m.names.includes('run'))!.names].sort());
  assert.deepEqual(await names(['--version']), []);
  assert.deepEqual(await names(['--help']), all);
  assert.deepEqual(await names(['--version', '--help']), all);
  assert.deepEqual(await names(['rnu']), all);
  assert.deepEqual(await names([]), all);
});
