/**
 * Skiff's error vocabulary, after containerd's errdefs: a handful of classes, each with a
 * stable `code`, that every layer throws and every edge (CLI, API server) translates.
 * The CLI prints `err.message` as one line; the API server maps `code` to an HTTP status.
 */

/** Stable codes for the error classes below; documented in docs/errors.md. */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'NOT_IMPLEMENTED'
  | 'UNAUTHORIZED'
  | 'DATA_LOSS'
  | 'GONE';

/** Base class of every error Skiff throws on purpose. */
export class SkiffError extends Error {
  /** The machine-readable kind of failure. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Something asked for by name or digest does not exist. */
export class NotFoundError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options);
  }
}

/** Creating something whose name or key is already taken. */
export class AlreadyExistsError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ALREADY_EXISTS', message, options);
  }
}

/** A write lost a race (stale revision) or the object is in use. */
export class ConflictError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, options);
  }
}

/** The caller's input is malformed; retrying the same input will fail again. */
export class InvalidArgumentError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** The system is not in a state that allows the operation (e.g. image in use). */
export class FailedPreconditionError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FAILED_PRECONDITION', message, options);
  }
}

/** A dependency (registry, runtime, store) could not be reached; retrying may help. */
export class UnavailableError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

/** A documented capability this build or machine does not offer. */
export class NotImplementedError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_IMPLEMENTED', message, options);
  }
}

/** Credentials are missing or were refused. */
export class UnauthorizedError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAUTHORIZED', message, options);
  }
}

/** Content does not match what was promised (digest or size mismatch, corrupt data). */
export class DataLossError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_LOSS', message, options);
  }
}

/** A revision was asked for that has been compacted away (HTTP 410). */
export class GoneError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GONE', message, options);
  }
}

/** True when `err` is a SkiffError with the given code. */
export function isCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof SkiffError && err.code === code;
}

/** True for Node's ENOENT, which most lookups turn into NotFoundError. */
export function isENOENT(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
