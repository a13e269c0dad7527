/**
 * The image subcommands: `skiff images`, `tag`, `rmi` and the `skiff image …` group
 * (import, load, save, ls, inspect, history, tag, rm, prune).
 */
import type { Command } from 'commander';
import { action, rootOf } from './context.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseReference, familiarName } from '../engine/image/reference.js';
import type { ImageRecord, ImageStore } from '../engine/image/store.js';
import { formatTable, humanSize, timeAgo } from './format.js';

/**
 * The image store of the command's data root. Imported when an image command runs, not at
 * start-up: every other `skiff` command would pay for loading it.
 */
async function storeOf(c: Command): Promise<ImageStore> {
  const { openImageStore } = await import('./engine.js');
  return openImageStore(rootOf(c));
}

/** Registers the image subcommands. */
export function register(program: Command): void {
  const image = program.command('image').description('manage images');

  const ls = (cmd: Command) => cmd
    .option('-q, --quiet', 'only show image IDs')
    .option('-a, --all', 'show dangling images too')
    .option('--digests', 'show digests')
    .option('--no-trunc', 'do not truncate IDs')
    .action(action(async (opts: { quiet?: boolean; all?: boolean; digests?: boolean; trunc?: boolean }, c: Command) => {
      await listImages(await storeOf(c), opts);
    }));
  ls(program.command('images').description('list images'));
  ls(image.command('ls').alias('list').description('list images'));

  const tag = (cmd: Command) => cmd
    .argument('<source>', 'image name or ID')
    .argument('<target>', 'new name')
    .action(action(async (src: string, dst: string, _o: unknown, c: Command) => {
      const store = await storeOf(c);
      const rec = await store.get(src);
      await store.tag(dst, rec.target);
    }));
  tag(program.command('tag').description('give an image another name'));
  tag(image.command('tag').description('give an image another name'));

  const rmi = (cmd: Command) => cmd
    .argument('<image...>', 'image names or IDs')
    .option('-f, --force', 'remove even when a container uses it')
    .action(action(async (names: string[], opts: { force?: boolean }, c: Command) => {
      const store = await storeOf(c);
      let failed = 0;
      for (const n of names) {
        try {
          for (const line of await store.remove(n, { force: opts.force })) console.log(line);
        } catch (err) {
          process.stderr.write(`skiff: ${(err as Error).message}\n`);
          failed++;
        }
      }
      return failed ? 1 : 0;
    }));
  rmi(program.command('rmi').description('remove images'));
  rmi(image.command('rm').alias('remove').description('remove images'));

  image.command('import')
    .description('create an image from a root filesystem (directory or tarball)')
    .argument('<source>', 'directory or tarball (plain, gzip or zstd)')
    .argument('<name>', 'image name')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL)', collect, [])
    .option('-m, --message <text>', 'history comment')
    .action(action(async (src: string, name: string, opts: { change: string[]; message?: string }, c: Command) => {
      parseReference(name);
      const { importRootfs } = await import('../engine/image/import.js');
      const rec = await importRootfs(await storeOf(c), src, name, { changes: opts.change, message: opts.message });
      console.log(rec.id);
    }));

  // One definition for `skiff image load` and `skiff load`, as for save below.
  const load = (cmd: Command) => cmd
    .option('-i, --input <path>', 'tar file or OCI layout directory (default: stdin)')
    .option('-q, --quiet', 'print nothing')
    .action(action(async (opts: { input?: string; quiet?: boolean }, c: Command) => {
      if (!opts.input && process.stdin.isTTY) throw new InvalidArgumentError('no input: use -i FILE or pipe a tar to stdin');
      const { loadImages } = await import('../engine/image/archive.js');
      const res = await loadImages(await storeOf(c), opts.input ?? process.stdin);
      if (opts.quiet) return;
      for (const r of res.tagged) console.log(`Loaded image: ${displayName(r)}`);
      for (const id of res.untagged) console.log(`Loaded image ID: ${id}`);
    }));
  load(image.command('load').description('load images from an OCI layout or a docker-save tarball'));
  load(program.command('load').description('load images (same as image load)'));

  const save = (cmd: Command) => cmd
    .argument('<image...>', 'images to save')
    .option('-o, --output <path>', 'write to this file (default: stdout)')
    .option('--format <format>', 'tar (OCI layout + docker-archive in one) or oci-dir', 'tar')
    .action(action(async (names: string[], opts: { output?: string; format: string }, c: Command) => {
      if (opts.format !== 'tar' && opts.format !== 'oci-dir') throw new InvalidArgumentError(`invalid --format "${opts.format}": expected tar or oci-dir`);
      if (opts.format === 'oci-dir' && !opts.output) throw new InvalidArgumentError('--format oci-dir needs -o DIR');
      if (!opts.output && process.stdout.isTTY) throw new InvalidArgumentError('refusing to write an archive to a terminal: use -o FILE');
      const { saveImages } = await import('../engine/image/archive.js');
      await saveImages(await storeOf(c), names, opts.output ?? process.stdout, { directory: opts.format === 'oci-dir' });
    }));
  save(image.command('save').description('save images to a tar archive'));
  save(program.command('save').description('save images (same as image save)'));

  image.command('inspect')
    .description('show images in detail (JSON)')
    .argument('<image...>')
    .action(action(async (names: string[], _o: unknown, c: Command) => {
      const store = await storeOf(c);
      const out = [];
      for (const n of names) out.push(await inspect(store, n));
      console.log(JSON.stringify(out, null, 2));
    }));

  image.command('history')
    .description('show the history of an image')
    .argument('<image>')
    .option('--no-trunc', 'do not truncate output')
    .action(action(async (name: string, opts: { trunc?: boolean }, c: Command) => {
      const store = await storeOf(c);
      const img = await store.resolve(await store.get(name));
      const { shortId } = await import('../engine/image/store.js');
      const hist = [...(img.config.history ?? [])].reverse();
      const layers = [...img.manifest.layers].reverse();
      let li = 0;
      const rows = hist.map((h, i) => {
        const size = h.empty_layer ? 0 : (layers[li++]?.size ?? 0);
        const by = h.created_by ?? '';
        return [i === 0 ? shortId(img.id) : '<missing>', h.created ? timeAgo(h.created) : '', opts.trunc === false ? by : by.slice(0, 45), humanSize(size), h.comment ?? ''];
      });
      console.log(formatTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows));
    }));

  image.command('prune').alias('gc')
    .description('remove unreferenced blobs, snapshots and dangling images')
    .action(action(async (_o: unknown, c: Command) => {
      const r = await (await storeOf(c)).gc();
      console.log(`Removed ${r.blobs} blobs and ${r.snapshots} snapshots; reclaimed ${humanSize(r.bytes)}`);
    }));
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function displayName(r: ImageRecord): string {
  const ref = parseReference(r.name);
  return `${familiarName(ref)}${ref.tag ? ':' + ref.tag : '@' + ref.digest}`;
}

async function listImages(store: ImageStore, opts: { quiet?: boolean; all?: boolean; digests?: boolean; trunc?: boolean }): Promise<void> {
  const { shortId } = await import('../engine/image/store.js');
  const recs = (await store.list()).filter((r) => opts.all || r.name !== '');
  if (opts.quiet) {
    const seen = new Set<string>();
    for (const r of recs) if (!seen.has(r.id)) { seen.add(r.id); console.log(opts.trunc === false ? r.id : shortId(r.id)); }
    return;
  }
  const rows: string[][] = [];
  for (const r of recs) {
    const img = await store.resolve(r).catch(() => undefined);
    const ref = r.name ? parseReference(r.name) : undefined;
    const row = [ref ? familiarName(ref) : '<none>', ref?.tag ?? '<none>'];
    if (opts.digests) row.push(r.target.digest);
    row.push(opts.trunc === false ? r.id : shortId(r.id), img?.config.created ? timeAgo(img.config.created) : 'N/A', img ? humanSize(store.imageSize(img)) : 'N/A');
    rows.push(row);
  }
  const head = ['REPOSITORY', 'TAG', ...(opts.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
  console.log(formatTable(head, rows));
}

async function inspect(store: ImageStore, name: string): Promise<unknown> {
  const rec = await store.get(name);
  const img = await store.resolve(rec);
  const all = (await store.list()).filter((r) => r.id === img.id && r.name);
  return {
    Id: img.id,
    RepoTags: all.map((r) => displayName(r)),
    RepoDigests: all.map((r) => `${familiarName(parseReference(r.name))}@${r.target.digest}`),
    Created: img.config.created,
    Author: img.config.author ?? '',
    Architecture: img.config.architecture,
    Os: img.config.os,
    Variant: img.config.variant,
    Size: store.imageSize(img),
    Config: img.config.config ?? {},
    RootFS: { Type: 'layers', Layers: img.config.rootfs.diff_ids },
    Manifest: { Digest: img.manifestDigest, MediaType: img.manifest.mediaType, Layers: img.manifest.layers },
  };
}
