/**
 * Reads the credentials a kubeconfig names for its current context: server URL, CA, and a
 * client certificate or bearer token (inline `-data` fields or file paths).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { InvalidArgumentError } from '../core/errors.js';

/** Where and how to reach an API server. */
export interface Credentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  /** Namespace of the current context (default "default"). */
  namespace: string;
}

async function pick(dir: string, data: string | undefined, file: string | undefined): Promise<Buffer | undefined> {
  if (data) return Buffer.from(data, 'base64');
  if (file) return fs.readFile(path.resolve(dir, file));
  return undefined;
}

/** Loads a kubeconfig file; `context` overrides its current-context. */
export async function loadKubeconfig(file: string, context?: string): Promise<Credentials> {
  const cfg = YAML.parse(await fs.readFile(file, 'utf8')) ?? {};
  const dir = path.dirname(file);
  const ctxName = context ?? cfg['current-context'];
  const ctx = (cfg.contexts ?? []).find((c: any) => c.name === ctxName)?.context;
  if (!ctx) throw new InvalidArgumentError(`kubeconfig ${file}: context ${JSON.stringify(ctxName)} not found`);
  const cluster = (cfg.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new InvalidArgumentError(`kubeconfig ${file}: cluster ${JSON.stringify(ctx.cluster)} has no server`);
  const user = (cfg.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  return {
    server: String(cluster.server).replace(/\/+$/, ''),
    ca: await pick(dir, cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: await pick(dir, user['client-certificate-data'], user['client-certificate']),
    key: await pick(dir, user['client-key-data'], user['client-key']),
    token: user.token ?? (user.tokenFile ? (await fs.readFile(path.resolve(dir, user.tokenFile), 'utf8')).trim() : undefined),
    namespace: ctx.namespace ?? 'default',
  };
}
