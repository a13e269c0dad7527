/**
 * OCI and Docker image manifest formats: media types, the JSON shapes, and platform
 * selection from an image index (or a Docker manifest list).
 */
import { InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import type { Descriptor, Platform } from './content.js';

/** Media types Skiff understands. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** An image manifest (OCI or Docker schema2: the same shape). */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker). */
export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The image configuration (OCI image-spec config.json). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }>;
}

/** True for the media types of a single-image manifest. */
export function isManifestType(mt: string | undefined): boolean {
  return mt === MediaType.OciManifest || mt === MediaType.DockerManifest;
}

/** True for the media types of an index / manifest list. */
export function isIndexType(mt: string | undefined): boolean {
  return mt === MediaType.OciIndex || mt === MediaType.DockerManifestList;
}

/** Layer compressions Skiff can unpack. */
export type Compression = 'none' | 'gzip' | 'zstd';

/** The compression of a layer media type; InvalidArgumentError for anything else. */
export function layerCompression(mt: string): Compression {
  switch (mt) {
    case MediaType.OciLayer:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
      return 'none';
    case MediaType.OciLayerGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
    case MediaType.DockerForeignLayerGzip:
      return 'gzip';
    case MediaType.OciLayerZstd:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd';
    default:
      throw new InvalidArgumentError(`unsupported layer media type "${mt}"`);
  }
}

/** The platform Skiff runs: linux on this machine's architecture, in OCI's words. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

/** Parses `os/arch[/variant]` (as in `--platform linux/amd64`). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) {
    throw new InvalidArgumentError(`invalid platform "${s}": expected os/arch[/variant]`);
  }
  return { os: parts[0], architecture: parts[1], ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** Formats a platform as `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
}

/**
 * Chooses the manifest for `want` from an index: os and architecture must match; a wanted
 * variant must match; otherwise an entry without a variant is preferred. Attestation
 * manifests (platform unknown/unknown) never match.
 */
export function selectManifest(index: Index, want: Platform = hostPlatform()): Descriptor {
  const candidates = index.manifests.filter((m) =>
    isManifestType(m.mediaType) && m.platform &&
    m.platform.os === want.os && m.platform.architecture === want.architecture &&
    (!want.variant || m.platform.variant === want.variant));
  if (!candidates.length) {
    const have = index.manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!)).join(', ');
    throw new NotFoundError(`no image for platform ${formatPlatform(want)} (the index has: ${have || 'none'})`);
  }
  return candidates.find((m) => !m.platform!.variant) ?? candidates[0];
}
