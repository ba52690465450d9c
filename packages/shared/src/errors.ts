import { z } from 'zod';

/**
 * The one table of error codes: their HTTP status and what they mean. Domain code throws by code;
 * only the gateway turns a code into a status, by reading this table.
 */
export const errorCatalog = {
  BAD_REQUEST: { status: 400, meaning: 'Malformed JSON, wrong types or unknown fields' },
  INVALID_ZIP: { status: 400, meaning: 'The upload is not a readable zip archive' },
  RUN_ARCHIVE_INVALID: {
    status: 400,
    meaning:
      'The run archive is malformed, was altered (an entry differs from its manifest hash), or its log does not verify',
  },
  UNAUTHENTICATED: { status: 401, meaning: 'Missing, unknown or revoked credentials' },
  FORBIDDEN: { status: 403, meaning: 'The credentials do not allow this route' },
  NOT_FOUND: { status: 404, meaning: "No such resource (also for another tenant's ids)" },
  INVITATION_INVALID: {
    status: 410,
    meaning: 'The invitation link is unknown, already used or expired; ask for a new one',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    meaning: 'The path exists but not with this method; the Allow header lists its methods',
  },
  VERSION_MISMATCH: { status: 409, meaning: 'The submitted workflow differs from the run version' },
  INTERACTION_NOT_PENDING: { status: 409, meaning: 'The interaction is no longer pending' },
  POSITION_NOT_IN_VERSION: {
    status: 409,
    meaning: "The run's current position does not exist in the new version",
  },
  RUN_FINISHED: { status: 409, meaning: 'The run has completed or was cancelled' },
  CONFLICT: { status: 409, meaning: 'The request conflicts with existing state' },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    meaning: 'Body, uploaded file, zip entries, uncompressed size or ratio over the limit',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning:
      'The content type is not accepted here (for an uploaded file: its type as read from its bytes)',
  },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    meaning: 'The Range starts past the end of the bytes; Content-Range gives their size',
  },
  WORKFLOW_INVALID: { status: 422, meaning: 'The workflow fails validation or $ref resolution' },
  INTERACTION_INVALID: { status: 422, meaning: 'The response does not fit the interaction' },
  RATE_LIMITED: { status: 429, meaning: 'Too many requests for this user' },
  INTERNAL: { status: 500, meaning: 'An unexpected server error; nothing was half-written' },
  NOT_CONFIGURED: {
    status: 501,
    meaning: 'The server lacks a setting this needs (the message names it)',
  },
  UNAVAILABLE: { status: 503, meaning: 'MongoDB or Redis is unreachable; retry later' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export const errorCodes = Object.keys(errorCatalog) as [ErrorCode, ...ErrorCode[]];
export const errorCodeSchema = z.enum(errorCodes);

export const errorDetailSchema = z.object({ path: z.string(), message: z.string() });
export type ErrorDetail = z.infer<typeof errorDetailSchema>;

export const errorEnvelopeSchema = z.object({
  error: z.object({
    code: errorCodeSchema,
    message: z.string(),
    /** A list of `{path, message}` for validation errors; an object for VERSION_MISMATCH. */
    details: z.unknown().optional(),
  }),
});
export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

export function httpStatusOf(code: ErrorCode): number {
  return errorCatalog[code].status;
}

/**
 * A failure the caller can act on. Recognised by `name` and `code` rather than `instanceof`, since
 * errors that crossed a queue as job results come back as plain objects.
 */
export class StepwiseError extends Error {
  override readonly name = 'StepwiseError';
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }

  toEnvelope(): ErrorEnvelope {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export class NotFoundError extends StepwiseError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} '${id}' not found`);
  }
}

export class ConflictError extends StepwiseError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('CONFLICT', message, details);
  }
}

export class BadRequestError extends StepwiseError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('BAD_REQUEST', message, details);
  }
}

export class UnavailableError extends StepwiseError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('UNAVAILABLE', message, details);
  }
}

/** What survives of a StepwiseError after a trip through JSON (e.g. a failed job's result). */
export interface StepwiseErrorLike {
  name: 'StepwiseError';
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export function isStepwiseError(value: unknown): value is StepwiseErrorLike {
  if (value instanceof StepwiseError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown; message?: unknown };
  return (
    candidate.name === 'StepwiseError' &&
    typeof candidate.message === 'string' &&
    errorCodeSchema.safeParse(candidate.code).success
  );
}

/** `steps[2].modules[0].module_id` from zod's `['steps', 2, 'modules', 0, 'module_id']`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    const name = String(segment);
    return text === '' ? name : `${text}.${name}`;
  }, '');
}

/** One detail per problem; an unknown field is reported at its own path, so typos are easy to find. */
export function detailsFromZodError(error: z.ZodError): ErrorDetail[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: formatIssuePath([...issue.path, key]),
          message: `unknown field '${key}'`,
        }))
      : [{ path: formatIssuePath(issue.path), message: issue.message }],
  );
}

/** One line naming every failing path, for the envelope's `message`. */
export function summarizeDetails(details: readonly ErrorDetail[]): string {
  return details.map((d) => (d.path === '' ? d.message : `${d.path}: ${d.message}`)).join('; ');
}
