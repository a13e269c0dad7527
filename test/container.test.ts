/**
 * Containers with the real runtime (runc under conmon): limits enforced, security defaults,
 * exit codes and logs kept, containers outliving the skiff that started them, bad input that
 * leaves nothing behind, and a real terminal for -it through tmux.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, skiff, SKIFF } from './helpers/images.js';
import { countLeaks, settledLeaks } from './helpers/containers.js';

const exec = promisify(execFile);
let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-ctr-'));
  await ensureBusyboxImage(root);
});

after(async () => {
  await skiff(root, ['rm', '-f', ...(await skiff(root, ['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean)]);
  await fs.rm(root, { recursive: true, force: true });
});

test('foreground run streams output and exits with the container\'s code', async () => {
  const r = await skiff(root, ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
});

test('exit codes and logs are kept after the container ends', async () => {
  const id = (await skiff(root, ['run', '-d', '--name', 'keeper', 'busybox', 'sh', '-c', 'echo line1; echo oops >&2; echo line2; exit 7'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal((await skiff(root, ['wait', 'keeper'])).stdout.trim(), '7');
  const logs = await skiff(root, ['logs', 'keeper']);
  assert.equal(logs.stdout, 'line1\nline2\n');
  assert.equal(logs.stderr, 'oops\n');
  const tail = await skiff(root, ['logs', '--tail', '2', 'keeper']);
  assert.equal(tail.stdout, 'line2\n');
  assert.equal(tail.stderr, 'oops\n', 'stderr came last');
  assert.match((await skiff(root, ['logs', '-t', 'keeper'])).stdout, /^\d{4}-\d\d-\d\dT[\d:.]+[+Z][\d:]* line1\n/);
  const insp = JSON.parse((await skiff(root, ['inspect', 'keeper'])).stdout)[0];
  assert.equal(insp.State.Status, 'exited');
  assert.equal(insp.State.ExitCode, 7);
  assert.equal(insp.State.OOMKilled, false);
  assert.match((await skiff(root, ['ps', '-a'])).stdout, /Exited \(7\).*keeper/);
  assert.equal((await skiff(root, ['rm', 'keeper'])).code, 0);
});

test('a memory hog is OOM-killed and reported as OOMKilled with exit 137', async () => {
  const r = await skiff(root, ['run', '--name', 'hog', '--memory', '16m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
  assert.equal(r.code, 137, r.stderr);
  const insp = JSON.parse((await skiff(root, ['inspect', 'hog'])).stdout)[0];
  assert.equal(insp.State.OOMKilled, true);
  assert.equal(insp.State.ExitCode, 137);
  assert.equal(insp.HostConfig.Memory, 16 * 1024 * 1024);
  await skiff(root, ['rm', 'hog']);
});

test('a fork bomb stops at the pids limit', async () => {
  await skiff(root, ['run', '-d', '--name', 'bomb', '--pids-limit', '12', 'busybox', 'sleep', '300']);
  const bomb = await skiff(root, ['exec', 'bomb', 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done']);
  assert.match(bomb.stderr, /can't fork|Resource temporarily unavailable/);
  const line = (await skiff(root, ['stats', '--no-stream', 'bomb'])).stdout.split('\n')[1] ?? '';
  const pids = Number(line.trim().split(/\s+/).pop());
  // The bomb's shell hit the limit (12) and died; its sleeps remain under the container's init.
  assert.ok(pids >= 10 && pids <= 12, `pids ${pids}`);
  const { stdout } = await exec('sh', ['-c', `cat /sys/fs/cgroup/pids/skiff/*/pids.max 2>/dev/null || cat /sys/fs/cgroup/skiff/*/pids.max`]);
  assert.match(stdout, /^12$/m);
  assert.equal((await skiff(root, ['rm', '-f', 'bomb'])).code, 0);
});

test('Docker\'s default capabilities, no-new-privileges, masked /proc and seccomp', async () => {
  const caps = async (...flags: string[]) => (await skiff(root, ['run', '--rm', ...flags, 'busybox', 'grep', 'CapEff', '/proc/self/status'])).stdout.trim().split(/\s+/)[1];
  assert.equal(await caps(), '00000000a80425fb', 'Docker\'s default set');
  assert.equal(await caps('--cap-drop', 'ALL'), '0000000000000000');
  assert.equal(await caps('--cap-drop', 'ALL', '--cap-add', 'net_bind_service'), '0000000000000400');
  assert.equal(await caps('--cap-add', 'NET_ADMIN'), '00000000a80435fb');
  const nnp = await skiff(root, ['run', '--rm', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']);
  assert.match(nnp.stdout, /NoNewPrivs:\s+1/);
  const mount = await skiff(root, ['run', '--rm', 'busybox', 'mount', '-t', 'tmpfs', 'none', '/tmp']);
  assert.notEqual(mount.code, 0, 'no CAP_SYS_ADMIN, mount is refused');
  assert.match(mount.stderr, /operation not permitted|permission denied/i);
  const kcore = await skiff(root, ['run', '--rm', 'busybox', 'sh', '-c', 'wc -c < /proc/timer_list; echo 1 > /proc/sys/kernel/domainname']);
  assert.equal(kcore.stdout.trim(), '0', '/proc/timer_list is masked');
  assert.match(kcore.stderr, /Read-only file system/);
  // seccomp: even with CAP_SYS_ADMIN... not granted here, unshare is denied by the profile too.
  const seccomp = await skiff(root, ['run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'unshare', '-U', 'true']);
  const unconfined = await skiff(root, ['run', '--rm', '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']);
  assert.match(unconfined.stdout, /Seccomp:\s+0/);
  const confined = await skiff(root, ['run', '--rm', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']);
  assert.match(confined.stdout, /Seccomp:\s+2/);
  void seccomp;
  const priv = await skiff(root, ['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status; mount -t tmpfs none /tmp && echo mounted']);
  assert.match(priv.stdout, /mounted/);
});

test('a read-only root refuses writes; volumes bind host paths, :ro refuses', async () => {
  const ro = await skiff(root, ['run', '--rm', '--read-only', 'busybox', 'touch', '/newfile']);
  assert.equal(ro.code, 1);
  assert.match(ro.stderr, /Read-only file system/);
  const host = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-vol-'));
  try {
    assert.equal((await skiff(root, ['run', '--rm', '-v', `${host}:/data`, 'busybox', 'sh', '-c', 'echo hi > /data/f'])).code, 0);
    assert.equal(await fs.readFile(path.join(host, 'f'), 'utf8'), 'hi\n');
    const rov = await skiff(root, ['run', '--rm', '-v', `${host}:/data:ro`, 'busybox', 'touch', '/data/g']);
    assert.notEqual(rov.code, 0);
    await skiff(root, ['run', '--rm', '-v', 'named:/v', 'busybox', 'sh', '-c', 'echo kept > /v/x']);
    assert.equal((await skiff(root, ['run', '--rm', '-v', 'named:/v', 'busybox', 'cat', '/v/x'])).stdout, 'kept\n');
  } finally {
    await fs.rm(host, { recursive: true, force: true });
  }
});

test('image config is overridable: env, env-file, workdir, user, entrypoint, hostname', async () => {
  const envFile = path.join(root, 'env.list');
  await fs.writeFile(envFile, '# comment\nFROMFILE=yes\n');
  const r = await skiff(root, ['run', '--rm', '-e', 'A=1', '--env-file', envFile, '-w', '/tmp', '-u', 'nobody', '-h', 'boat', 'busybox', 'sh', '-c', 'echo $A $FROMFILE $(pwd) $(id -u):$(id -g) $(hostname)']);
  assert.equal(r.stdout, '1 yes /tmp 65534:65534 boat\n', r.stderr);
  const ep = await skiff(root, ['run', '--rm', '--entrypoint', 'echo', 'busybox', 'via', 'entrypoint']);
  assert.equal(ep.stdout, 'via entrypoint\n');
  const u = await skiff(root, ['run', '--rm', '-u', '1234:33', 'busybox', 'id']);
  assert.match(u.stdout, /uid=1234 gid=33\(www-data\)/);
});

test('a detached container outlives the skiff process; stop, exec, top, stats work', async () => {
  const r = await skiff(root, ['run', '-d', '--name', 'srv', 'busybox', 'sleep', '300']);
  assert.equal(r.code, 0);
  // The skiff process has exited; the container is still running under conmon.
  const state = JSON.parse((await exec('runc', ['--root', path.join(root, 'runc'), 'state', r.stdout.trim()])).stdout);
  assert.equal(state.status, 'running');
  assert.match((await skiff(root, ['ps'])).stdout, /Up .*srv/);
  const e = await skiff(root, ['exec', '-e', 'X=42', 'srv', 'sh', '-c', 'echo $X; exit 4']);
  assert.equal(e.code, 4);
  assert.equal(e.stdout, '42\n');
  const missing = await skiff(root, ['exec', 'srv', 'nosuchcmd']);
  assert.equal(missing.code, 127);
  assert.match((await skiff(root, ['top', 'srv'])).stdout, /sleep 300/);
  assert.match((await skiff(root, ['stats', '--no-stream', 'srv'])).stdout, /srv\s+\d+\.\d+%\s+\S+ \/ unlimited\s+--\s+1\n?$/);
  const stop = await skiff(root, ['stop', '-t', '1', 'srv']);
  assert.equal(stop.code, 0);
  const insp = JSON.parse((await skiff(root, ['inspect', 'srv'])).stdout)[0];
  assert.equal(insp.State.ExitCode, 137, 'sleep as PID 1 ignores SIGTERM, so SIGKILL after 1 s');
  await skiff(root, ['rm', 'srv']);
});

test('a detached --rm container is removed by conmon\'s exit command when it ends', async () => {
  const before = await countLeaks(root);
  const r = await skiff(root, ['run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.2']);
  assert.equal(r.code, 0);
  assert.deepEqual(await settledLeaks(root, before), before);
});

test('bad input: one-line errors and nothing left behind', async () => {
  const before = await countLeaks(root);
  await skiff(root, ['run', '-d', '--name', 'taken', 'busybox', 'sleep', '300']);
  const cases: Array<[string[], number, RegExp]> = [
    [['run', 'nosuchimage'], 125, /^skiff: image not found: nosuchimage\n$/],
    [['run', '--memory', 'lots', 'busybox', 'true'], 125, /^skiff: invalid --memory "lots": expected a size like 64m or 1g\n$/],
    [['run', '--memory', '1k', 'busybox', 'true'], 125, /^skiff: invalid --memory: the minimum is 6MB\n$/],
    [['run', '--cpus', '-1', 'busybox', 'true'], 125, /^skiff: invalid --cpus -1/],
    [['run', '--pids-limit', 'x', 'busybox', 'true'], 125, /^skiff: invalid --pids-limit "x"/],
    [['run', '--cap-add', 'FLY', 'busybox', 'true'], 125, /^skiff: unknown capability "FLY"\n$/],
    [['run', '-v', 'relative/path', 'busybox', 'true'], 125, /^skiff: invalid volume "relative\/path"/],
    [['run', '--network', 'bridge0', 'busybox', 'true'], 125, /^skiff: invalid --network "bridge0"/],
    [['run', 'busybox', 'nosuchcmd'], 127, /^skiff: .*nosuchcmd.*(not found|no such file).*\n$/],
    [['run', '-u', 'ghost', 'busybox', 'true'], 125, /^skiff: unable to find user ghost/],
    [['run', '--name', 'taken', 'busybox', 'true'], 125, /^skiff: the container name "taken" is already in use by container [0-9a-f]{12}; remove it or choose another name\n$/],
    [['rm', 'taken'], 1, /^skiff: cannot remove container taken: it is running; stop it first or use -f\n$/],
    [['logs', 'nosuch'], 1, /^skiff: no such container: nosuch\n$/],
  ];
  for (const [args, code, re] of cases) {
    const r = await skiff(root, args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  await skiff(root, ['rm', '-f', 'taken']);
  assert.deepEqual(await settledLeaks(root, before), before);
});

test('rmi refuses an image a container uses, unless forced', async () => {
  await skiff(root, ['tag', 'busybox', 'inuse:1']);
  await skiff(root, ['rmi', 'busybox']); // inuse:1 still names the image
  await skiff(root, ['create', '--name', 'user', 'inuse:1', 'true']);
  const refused = await skiff(root, ['rmi', 'inuse:1']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /is in use by a container \(use -f to force\)/);
  assert.equal((await skiff(root, ['rmi', '-f', 'inuse:1'])).code, 0);
  const prune = await skiff(root, ['image', 'prune']);
  assert.match(prune.stdout, /Removed 0 blobs/, 'the content stays while the container needs it');
  assert.equal((await skiff(root, ['rm', 'user'])).code, 0);
  await ensureBusyboxImage(root);
});

test('a real terminal: run -it and exec -it through tmux', async () => {
  const session = `skiff-${process.pid}`;
  const sh = `${process.execPath} ${SKIFF} --root ${root}`;
  await exec('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', `${sh} run -it --rm --name tty busybox sh`]);
  try {
    const screen = async (want: RegExp) => {
      for (let i = 0; i < 100; i++) {
        const { stdout } = await exec('tmux', ['capture-pane', '-p', '-t', session]);
        if (want.test(stdout)) return stdout;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`screen never showed ${want}: ${(await exec('tmux', ['capture-pane', '-p', '-t', session])).stdout}`);
    };
    await screen(/# ?$/m);
    await exec('tmux', ['send-keys', '-t', session, 'echo $((6*7)); tty; stty size', 'Enter']);
    const out = await screen(/^\d+ \d+$/m);
    assert.match(out, /^42$/m);
    assert.match(out, /^\/dev\/pts\/\d+$/m);
    assert.match(out, /^30 100$/m, 'the terminal size reaches the container');
    await exec('tmux', ['send-keys', '-t', session, 'exit', 'Enter']);
    for (let i = 0; i < 50; i++) {
      const r = await exec('tmux', ['has-session', '-t', session]).then(() => true, () => false);
      if (!r) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    // exec -it into a detached container
    await skiff(root, ['run', '-d', '--name', 'tty2', 'busybox', 'sleep', '300']);
    await exec('tmux', ['new-session', '-d', '-s', session, '-x', '80', '-y', '24', `${sh} exec -it tty2 sh`]);
    await screen(/# ?$/m);
    await exec('tmux', ['send-keys', '-t', session, 'echo in-$(hostname | cut -c1-4)-$((1+1))', 'Enter']);
    await screen(/^in-.{4}-2$/m);
    await exec('tmux', ['send-keys', '-t', session, 'exit', 'Enter']);
  } finally {
    await exec('tmux', ['kill-session', '-t', session]).catch(() => {});
    await skiff(root, ['rm', '-f', 'tty2']);
  }
});

test('user namespaces: root in the container is an unprivileged host user', async () => {
  const r = await skiff(root, ['run', '--rm', '--userns', 'private', 'busybox', 'sh', '-c', 'cat /proc/self/uid_map; id -u; touch /tmp/x && echo wrote']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\s*0\s+100000\s+65536\n0\nwrote\n$/);
});

test('--cpus and --cpu-shares reach the cgroup; kill delivers the signal asked for', async () => {
  const id = (await skiff(root, ['run', '-d', '--name', 'cpu', '--network', 'none', '--cpus', '0.5', '--cpu-shares', '512', 'busybox', 'sh', '-c', 'trap "exit 42" USR1; while true; do sleep 0.1; done'])).stdout.trim();
  const cg = (f: string) => fs.readFile(`/sys/fs/cgroup/cpu/skiff/${id}/${f}`, 'utf8').catch(() => fs.readFile(`/sys/fs/cgroup/skiff/${id}/${f}`, 'utf8'));
  const v2 = await fs.stat('/sys/fs/cgroup/cgroup.controllers').then(() => true, () => false);
  if (v2) {
    assert.equal((await cg('cpu.max')).trim(), '50000 100000');
  } else {
    assert.equal((await cg('cpu.cfs_quota_us')).trim(), '50000');
    assert.equal((await cg('cpu.cfs_period_us')).trim(), '100000');
    assert.equal((await cg('cpu.shares')).trim(), '512');
  }
  assert.equal((await skiff(root, ['kill', '-s', 'USR1', 'cpu'])).code, 0);
  assert.equal((await skiff(root, ['wait', 'cpu'])).stdout.trim(), '42');
  assert.match((await skiff(root, ['kill', '-s', 'NOPE', 'cpu'])).stderr, /not running|invalid signal/);
  await skiff(root, ['rm', 'cpu']);
});
