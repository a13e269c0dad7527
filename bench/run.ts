/**
 * Container start benchmark: `skiff run --rm busybox true` against `runc run` of an equivalent
 * bundle (the floor: no image, no supervisor, no records) and `podman run --rm --network none`
 * of the same image (the peer), in one run, medians over N rounds, both ratios printed.
 * CLI timings run with NODE_EXTRA_CA_CERTS unset (see docs/benchmarks.md).
 *
 *   npm run build && node dist/bench/run.js [--rounds 20]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBusyboxImage, SKIFF } from '../test/helpers/images.js';
import { ImageStore } from '../src/engine/image/store.js';

const exec = promisify(execFile);
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 20;
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

async function timed(cmd: string, args: string[]): Promise<number> {
  const t = process.hrtime.bigint();
  await exec(cmd, args, { env });
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-run-'));
  const root = path.join(work, 'skiff');
  const podman = ['--root', path.join(work, 'podman'), '--runroot', path.join(work, 'podman-run'), '--storage-driver', 'overlay', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', '--runtime', 'runc'];
  const bundle = path.join(work, 'bundle');
  try {
    await ensureBusyboxImage(root);
    // The runc bundle: the same image layer as rootfs, runc's default spec running `true`.
    const store = new ImageStore(root);
    const [layer] = await store.unpack(await store.resolve(await store.get('busybox')));
    await fs.mkdir(bundle);
    await exec('cp', ['-a', layer, path.join(bundle, 'rootfs')]);
    await exec('runc', ['spec', '--bundle', bundle]);
    const spec = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['true'];
    await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
    // podman gets the very image skiff has, through an archive.
    await exec(process.execPath, [SKIFF, '--root', root, 'save', '-o', path.join(work, 'bb.tar'), 'busybox']);
    await exec('podman', [...podman, 'load', '-q', '-i', path.join(work, 'bb.tar')]);

    const res: Record<string, number[]> = { 'runc run (floor)': [], 'skiff run --rm --network none': [], 'podman run --rm --network none': [] };
    for (let i = 0; i < rounds; i++) {
      res['runc run (floor)'].push(await timed('runc', ['--root', path.join(work, 'runc'), 'run', '--bundle', bundle, `bench${i}`]));
      res['skiff run --rm --network none'].push(await timed(process.execPath, [SKIFF, '--root', root, 'run', '--rm', '--network', 'none', 'busybox', 'true']));
      res['podman run --rm --network none'].push(await timed('podman', [...podman, 'run', '--rm', '--network', 'none', 'docker.io/library/busybox:latest', 'true']));
    }
    // Where skiff's time goes: the engine's own calls, in-process (no node start, no CLI).
    const { openContainerEngine } = await import('../src/cmd/engine.js');
    const engine = await openContainerEngine(root);
    const phases: Record<string, number[]> = { recover: [], create: [], start: [], 'wait+finalize+remove': [] };
    for (let i = 0; i < rounds; i++) {
      let t = performance.now();
      const lap = (k: string) => { const n = performance.now(); phases[k].push(n - t); t = n; };
      await engine.recover(); lap('recover');
      const rec = await engine.create({ image: 'busybox', cmd: ['true'], network: 'none', autoRemove: true }); lap('create');
      await engine.start(rec.id, { owner: true }); lap('start');
      await engine.wait(rec.id); lap('wait+finalize+remove');
    }
    const floor = median(res['runc run (floor)']);
    const peer = median(res['podman run --rm --network none']);
    console.log(`${'what'.padEnd(32)} ${'median ms'.padStart(10)} ${'x runc'.padStart(8)} ${'x podman'.padStart(9)}   (${rounds} rounds)`);
    for (const [k, v] of Object.entries(res)) {
      const m = median(v);
      console.log(`${k.padEnd(32)} ${m.toFixed(0).padStart(10)} ${(m / floor).toFixed(2).padStart(8)} ${(m / peer).toFixed(2).padStart(9)}`);
    }
    console.log('\nskiff engine phases, in-process (median ms): ' + Object.entries(phases).map(([k, v]) => `${k} ${median(v).toFixed(0)}`).join(', '));
  } finally {
    await exec('podman', [...podman, 'system', 'reset', '-f']).catch(() => {});
    await exec('sh', ['-c', `grep -o ' ${work}[^ ]*' /proc/mounts | xargs -r -n1 umount -l`]).catch(() => {});
    await fs.rm(work, { recursive: true, force: true });
  }
}

await main();
