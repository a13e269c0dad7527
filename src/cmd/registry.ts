/**
 * The registry subcommands: `skiff pull`, `push`, `login` and `logout`.
 */
import type { Command } from 'commander';
import { action, rootOf } from './context.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseReference, familiarName } from '../engine/image/reference.js';

// The HTTP client (undici) costs ~150 ms to load, the image store and the credentials file
// (locks, atomic writes) more: only the commands that use them load them, when they run.
const registryModules = async () => {
  const [client, progress, pullM, pushM] = await Promise.all([
    import('../engine/image/registry/client.js'), import('../engine/image/registry/progress.js'),
    import('../engine/image/registry/pull.js'), import('../engine/image/registry/push.js'),
  ]);
  return { RegistryClient: client.RegistryClient, progressFor: progress.progressFor, pull: pullM.pull, push: pushM.push, ...(await storeModules()) };
};
const storeModules = async () => {
  const [engine, auth, manifest] = await Promise.all([
    import('./engine.js'), import('../engine/image/registry/auth.js'), import('../engine/image/manifest.js'),
  ]);
  return { openImageStore: engine.openImageStore, loadCredentials: auth.loadCredentials, saveCredentials: auth.saveCredentials, parsePlatform: manifest.parsePlatform };
};

interface TransportOpts { tlsVerify?: boolean; insecureRegistry?: boolean; quiet?: boolean }

/** Registers the registry subcommands. */
export function register(program: Command): void {
  program.command('pull')
    .description('pull an image from a registry')
    .argument('<image>', 'image reference')
    .option('--platform <os/arch>', 'platform to pull from a multi-platform image')
    .option('-q, --quiet', 'print only the image ID')
    .option('--tls-verify <bool>', 'require HTTPS and verify certificates (default true; loopback registries may use HTTP)', parseBool)
    .option('--insecure-registry', 'allow plain HTTP or unverified TLS for this registry')
    .action(action(async (name: string, opts: TransportOpts & { platform?: string }, c: Command) => {
      const { pull, progressFor, openImageStore, loadCredentials, parsePlatform } = await registryModules();
      const root = rootOf(c);
      const ref = parseReference(name);
      const store = openImageStore(root);
      const rec = await pull(store, name, {
        platform: opts.platform ? parsePlatform(opts.platform) : undefined,
        insecure: insecure(opts),
        credentials: await loadCredentials(root, ref.domain),
        progress: progressFor(process.stderr, opts.quiet),
      });
      console.log(opts.quiet ? rec.id : `${familiarName(ref)}${ref.tag ? ':' + ref.tag : '@' + ref.digest}: ${rec.id}`);
    }));

  program.command('push')
    .description('push an image to a registry')
    .argument('<image>', 'local image name or ID')
    .argument('[destination]', 'reference to push to (default: the image name)')
    .option('-q, --quiet', 'print only the manifest digest')
    .option('--tls-verify <bool>', 'require HTTPS and verify certificates', parseBool)
    .option('--insecure-registry', 'allow plain HTTP or unverified TLS for this registry')
    .action(action(async (src: string, dst: string | undefined, opts: TransportOpts, c: Command) => {
      const { push, progressFor, openImageStore, loadCredentials } = await registryModules();
      const root = rootOf(c);
      const store = openImageStore(root);
      const target = parseReference(dst ?? ((await store.get(src)).name || src));
      const res = await push(store, src, dst, {
        insecure: insecure(opts),
        credentials: await loadCredentials(root, target.domain),
        progress: progressFor(process.stderr, opts.quiet),
      });
      console.log(opts.quiet ? res.digest : `${res.reference}: digest: ${res.digest}`);
    }));

  program.command('login')
    .description('log in to a registry (credentials stored in <root>/auth.json, mode 0600)')
    .argument('<registry>', 'registry host[:port]')
    .option('-u, --username <user>')
    .option('-p, --password <password>')
    .option('--password-stdin', 'read the password from stdin')
    .option('--tls-verify <bool>', 'require HTTPS and verify certificates', parseBool)
    .option('--insecure-registry', 'allow plain HTTP or unverified TLS for this registry')
    .action(action(async (host: string, opts: TransportOpts & { username?: string; password?: string; passwordStdin?: boolean }, c: Command) => {
      if (!opts.username) throw new InvalidArgumentError('login needs --username');
      let password = opts.password;
      if (opts.passwordStdin) {
        if (password) throw new InvalidArgumentError('--password and --password-stdin are mutually exclusive');
        const chunks: Buffer[] = [];
        for await (const ch of process.stdin) chunks.push(ch as Buffer);
        password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
      }
      if (!password) throw new InvalidArgumentError('login needs --password or --password-stdin');
      const { RegistryClient, saveCredentials } = await registryModules();
      const creds = { username: opts.username, password };
      const client = new RegistryClient(host, { credentials: creds, insecure: insecure(opts) });
      // /v2/ answers 401 to anonymous requests on a protected registry; with the credentials
      // (Basic, or a token for the empty scope) it must answer 200.
      const res = await client.send('GET', '/v2/');
      await res.body.dump();
      await saveCredentials(rootOf(c), host, creds);
      console.log('Login Succeeded');
    }));

  program.command('logout')
    .description('remove stored credentials for a registry')
    .argument('<registry>')
    .action(action(async (host: string, _o: unknown, c: Command) => {
      const { saveCredentials } = await storeModules();
      const had = await saveCredentials(rootOf(c), host, undefined);
      if (!had) throw new InvalidArgumentError(`not logged in to ${host}`);
      console.log(`Removed login credentials for ${host}`);
    }));
}

function insecure(o: TransportOpts): boolean {
  return o.insecureRegistry === true || o.tlsVerify === false;
}

function parseBool(v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InvalidArgumentError(`invalid boolean "${v}": expected true or false`);
}
