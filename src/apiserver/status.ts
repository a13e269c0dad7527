/**
 * Kubernetes `Status` errors. Handlers throw ApiError (or a Skiff error class, which is
 * mapped by code); the server turns either into a JSON Status body with the matching HTTP code,
 * worded as the real API server words it, because kubectl prints these messages verbatim.
 */
import { SkiffError } from '../core/errors.js';

/** One field-level cause of an Invalid (422) error. */
export interface Cause {
  reason: string;
  message: string;
  field?: string;
}

/** An error that becomes a Status response. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string; causes?: Cause[]; retryAfterSeconds?: number },
  ) {
    super(message);
  }

  /** The Status object for this error. */
  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: this.message, reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** What a resource is called in messages: `pods`, `deployments.apps`. */
export interface Named { group: string; resource: string }
const qualified = (r: Named) => (r.group ? `${r.resource}.${r.group}` : r.resource);

/** 404 `pods "x" not found`. */
export const notFound = (r: Named, name: string) =>
  new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, group: r.group, kind: r.resource });

/** 409 `pods "x" already exists`. */
export const alreadyExists = (r: Named, name: string) =>
  new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, { name, group: r.group, kind: r.resource });

/** 409 optimistic-concurrency conflict, in the real server's words. */
export const conflict = (r: Named, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, { name, group: r.group, kind: r.resource });

/** 422 with field causes: `Pod "x" is invalid: spec.containers[0].image: Required value` (`Deployment.apps "x"` for a named group). */
export function invalid(kind: string, group: string, name: string, causes: Cause[]): ApiError {
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  // The kind is qualified by its group, as GroupKind.String() prints it: `Deployment.apps "x"`.
  const msg = `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${parts.length > 1 ? `[${parts.join(', ')}]` : parts[0]}`;
  return new ApiError(422, 'Invalid', msg, { name, group, kind, causes });
}

/** 400 BadRequest with a message. */
export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

/** 405 MethodNotAllowed. */
export const methodNotAllowed = (message = 'the server does not allow this method on the requested resource') =>
  new ApiError(405, 'MethodNotAllowed', message);

/** Maps any thrown value to an ApiError (Skiff error classes by code, the rest as 500). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof SkiffError) {
    const map: Record<string, [number, string]> = {
      NOT_FOUND: [404, 'NotFound'], ALREADY_EXISTS: [409, 'AlreadyExists'], CONFLICT: [409, 'Conflict'],
      INVALID_ARGUMENT: [400, 'BadRequest'], FAILED_PRECONDITION: [412, 'Conflict'], UNAVAILABLE: [503, 'ServiceUnavailable'],
      NOT_IMPLEMENTED: [501, 'NotImplemented'], UNAUTHORIZED: [401, 'Unauthorized'], DATA_LOSS: [500, 'InternalError'],
      GONE: [410, 'Expired'],
    };
    const [code, reason] = map[err.code] ?? [500, 'InternalError'];
    return new ApiError(code, reason, err.message);
  }
  return new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`);
}
