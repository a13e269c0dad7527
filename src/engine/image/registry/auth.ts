/**
 * Registry credentials and authentication, per the Docker token specification and RFC 7617:
 * credentials are kept in `<root>/auth.json` in Docker's config.json format (mode 0600,
 * written atomically); a 401 answer's WWW-Authenticate challenge says whether to send Basic
 * credentials or to fetch a Bearer token from the realm for the scope at hand.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import { readJsonIfExists, writeJsonAtomic } from '../../../lib/atomic.js';
import { withLock } from '../../../lib/lock.js';

/** A username and password (or identity token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths: Record<string, { auth?: string }>;
}

/** The credentials file of a data root. */
export function authFile(root: string): string {
  return path.join(root, 'auth.json');
}

/** Reads the stored credentials for `host`, if any. */
export async function loadCredentials(root: string, host: string): Promise<Credentials | undefined> {
  const f = await readJsonIfExists<AuthFile>(authFile(root));
  const entry = f?.auths?.[host];
  if (!entry?.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** Stores (or with `undefined`, removes) the credentials for `host`; the file is 0600. */
export async function saveCredentials(root: string, host: string, creds: Credentials | undefined): Promise<boolean> {
  const file = authFile(root);
  await fs.mkdir(root, { recursive: true });
  return withLock(file, async () => {
    const f = (await readJsonIfExists<AuthFile>(file)) ?? { auths: {} };
    f.auths ??= {};
    const had = host in f.auths;
    if (creds) f.auths[host] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    else delete f.auths[host];
    await writeJsonAtomic(file, f, 0o600);
    return had;
  });
}

/** A parsed WWW-Authenticate challenge. */
export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p;
  while ((p = re.exec(m[2]))) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme, params };
}

/** The Basic authorization header value for credentials. */
export function basicAuth(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}
