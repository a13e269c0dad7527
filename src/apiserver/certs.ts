/**
 * First-start credentials for the API server: a CA, a serving certificate, an admin client
 * certificate (CN=admin, O=system:masters), an admin bearer token and an admin kubeconfig.
 * Node's crypto cannot write X.509, so certificates come from the `openssl` binary. Every file
 * is written 0600 and atomically; an existing set is reused, so restarts keep client trust.
 *
 *   <root>/server/ca.crt ca.key serving.crt serving.key admin.crt admin.key token
 *   <root>/kubeconfig.yaml
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes, X509Certificate } from 'node:crypto';
import YAML from 'yaml';
import { writeFileAtomic } from '../lib/atomic.js';
import { withLock } from '../lib/lock.js';
import { UnavailableError } from '../core/errors.js';
import { KUBERNETES_SERVICE_IP } from './kubernetes-service.js';

const run = promisify(execFile);

/** The PEM material and token the server and its admin client use. */
export interface Credentials {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  token: string;
  /** Where the admin kubeconfig was written. */
  kubeconfig: string;
}

const FILES = ['ca.crt', 'ca.key', 'serving.crt', 'serving.key', 'admin.crt', 'admin.key', 'token'] as const;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    throw new UnavailableError(`openssl ${args[0]} failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

/** Signs a fresh P-256 key for `subj` with the CA in `dir`, with the given extensions. */
async function issue(dir: string, name: string, subj: string, ext: string): Promise<void> {
  await fs.writeFile(path.join(dir, `${name}.ext`), ext);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial',
    '0x' + randomBytes(12).toString('hex'), '-days', '3650', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
}

/**
 * Loads the credentials under `root`, creating whatever is missing on first start.
 * `server` is the URL written into the kubeconfig; `addresses` are IPs or names the serving
 * certificate must also cover (the advertised address): a certificate made without one of
 * them is re-issued from the same CA, as k3s' dynamic listener does, so clients keep trust.
 */
export async function ensureCredentials(root: string, server: string, addresses: string[] = []): Promise<Credentials> {
  const dir = path.join(root, 'server');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  return withLock(path.join(dir, 'credentials'), async () => {
    const have = await Promise.all(FILES.map((f) => fs.access(path.join(dir, f)).then(() => true, () => false)));
    if (!have.every(Boolean)) await generate(dir, addresses);
    else await coverSans(dir, addresses);
    const read = (f: string) => fs.readFile(path.join(dir, f), 'utf8');
    const [caCert, caKey, servingCert, servingKey, adminCert, adminKey, token] = await Promise.all(FILES.map(read));
    const creds: Credentials = {
      caCert, caKey, servingCert, servingKey, adminCert, adminKey, token: token.trim(),
      kubeconfig: path.join(root, 'kubeconfig.yaml'),
    };
    await writeFileAtomic(creds.kubeconfig, kubeconfigYaml(creds, server), 0o600);
    return creds;
  });
}

/**
 * The serving certificate's names: loopback, the host name, the names and the cluster IP of
 * the `kubernetes` Service (what in-cluster clients dial), and `addresses`.
 */
function servingSans(addresses: string[]): string[] {
  const host = os.hostname();
  const sans = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', 'DNS:kubernetes', 'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', `IP:${KUBERNETES_SERVICE_IP}`,
    ...(host && host !== 'localhost' ? [`DNS:${host}`] : []),
    ...addresses.map((a) => (/^[\d.]+$|:/.test(a) ? `IP:${a}` : `DNS:${a}`))];
  return [...new Set(sans)];
}

function issueServing(dir: string, addresses: string[]): Promise<void> {
  return issue(dir, 'serving', '/CN=skiff-apiserver',
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${servingSans(addresses).join(',')}\n`);
}

/** Re-issues the serving certificate from the existing CA when it lacks a wanted name. */
async function coverSans(dir: string, addresses: string[]): Promise<void> {
  const have = new X509Certificate(await fs.readFile(path.join(dir, 'serving.crt'))).subjectAltName ?? '';
  // Node prints "DNS:x, IP Address:1.2.3.4"; IPv6 addresses in full form.
  const got = new Set(have.split(', ').map((x) => x.replace(/^IP Address:/, 'IP:')));
  const missing = servingSans(addresses).filter((s) => !got.has(s) && !(s.startsWith('IP:') && s.includes(':', 3)));
  if (!missing.length) return;
  const tmp = await fs.mkdtemp(path.join(dir, '.gen-'));
  try {
    for (const f of ['ca.crt', 'ca.key']) await fs.copyFile(path.join(dir, f), path.join(tmp, f));
    await issueServing(tmp, addresses);
    for (const f of ['serving.key', 'serving.crt']) await writeFileAtomic(path.join(dir, f), await fs.readFile(path.join(tmp, f)), 0o600);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function generate(dir: string, addresses: string[]): Promise<void> {
  // Work in a private scratch folder, then move files in: a crash leaves no half set.
  const tmp = await fs.mkdtemp(path.join(dir, '.gen-'));
  try {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-sha256', '-subj', '/CN=skiff-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], tmp);
    await issueServing(tmp, addresses);
    await issue(tmp, 'admin', '/O=system:masters/CN=admin',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
    await fs.writeFile(path.join(tmp, 'token'), randomBytes(32).toString('hex') + '\n');
    for (const f of FILES) {
      const data = await fs.readFile(path.join(tmp, f));
      await writeFileAtomic(path.join(dir, f), data, 0o600);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** The admin kubeconfig: embedded CA and client certificate, context `skiff`. */
export function kubeconfigYaml(c: Pick<Credentials, 'caCert' | 'adminCert' | 'adminKey'>, server: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'skiff', cluster: { server, 'certificate-authority-data': b64(c.caCert) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': b64(c.adminCert), 'client-key-data': b64(c.adminKey) } }],
    contexts: [{ name: 'skiff', context: { cluster: 'skiff', user: 'admin', namespace: 'default' } }],
    'current-context': 'skiff',
    preferences: {},
  });
}
