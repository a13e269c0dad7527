/**
 * Image references parsed by the grammar of the distribution project
 * (`[domain[:port]/]path[:tag][@digest]`), normalised as Docker does: a missing domain means
 * docker.io, a single-component path on docker.io gains `library/`, and a reference with
 * neither tag nor digest means `:latest`.
 */
import { InvalidArgumentError } from '../../core/errors.js';

/** The registry that short names refer to. */
export const DEFAULT_DOMAIN = 'docker.io';
/** The host serving DEFAULT_DOMAIN's API. */
export const DEFAULT_REGISTRY_HOST = 'registry-1.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const MAX_NAME = 255;

/** A parsed, normalised image reference. */
export interface Reference {
  /** Registry domain, possibly with a port: `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  path: string;
  /** Tag, if given or defaulted (`latest` when neither tag nor digest was given). */
  tag?: string;
  /** Digest (`sha256:...`), if given. */
  digest?: string;
}

/**
 * Parses and normalises `s`. Throws InvalidArgumentError with a one-line reason for anything
 * the distribution grammar refuses.
 */
export function parseReference(s: string, opts: { defaultTag?: boolean } = {}): Reference {
  const defaultTag = opts.defaultTag ?? true;
  const bad = (why: string) => new InvalidArgumentError(`invalid reference format "${s}": ${why}`);
  if (!s) throw bad('empty');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('invalid digest');
    if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw bad('sha256 digests are 64 lowercase hex characters');
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad('invalid tag');
  }
  if (!rest) throw bad('missing repository name');

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(domain)) throw bad('invalid registry host');
    }
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (path !== path.toLowerCase()) throw bad('repository name must be lowercase');
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) throw bad(`invalid repository name component "${c}"`);
  }
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (domain.length + 1 + path.length > MAX_NAME) throw bad(`repository name longer than ${MAX_NAME} characters`);
  if (!tag && !digest && defaultTag) tag = 'latest';
  return { domain, path, tag, digest };
}

/** The repository's full name: `docker.io/library/busybox`. */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical string of a reference: `docker.io/library/busybox:latest[@sha256:...]`. */
export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/**
 * The short form users type and `skiff images` shows: docker.io and library/ dropped, as the
 * Docker CLI does (`busybox:latest`, `127.0.0.1:5000/app:v1`).
 */
export function familiarName(ref: Reference): string {
  let name = repositoryName(ref);
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
  }
  return name;
}

/** The host to contact for a reference's domain (docker.io maps to its API host). */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DEFAULT_REGISTRY_HOST : domain;
}

/** True when a registry host is on loopback, where plain HTTP is allowed by default. */
export function isLoopbackHost(domain: string): boolean {
  const host = domain.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
