import type { z } from 'zod';
import type { ErrorCode } from '@stepwise/shared';

/**
 * What a route may answer, declared next to the route: every success status with its body, and the
 * error codes particular to it. The route builder sends only declared statuses and the OpenAPI
 * document is generated from exactly these declarations, so a generated client types every answer
 * it can get.
 */

/** Headers a response may carry, documented once and referred to by name. */
export const responseHeaders = {
  'X-Request-Id':
    'The request id (the client’s own X-Request-Id when well formed); on every answer',
  'Retry-After': 'Seconds to wait before trying again',
  'WWW-Authenticate': 'The authentication scheme the route expects (Bearer)',
  ETag: 'The strong validator of the bytes: their sha256, quoted',
  'Cache-Control': 'How long and by whom the answer may be cached',
  'Content-Length': 'The size of the body in bytes',
  'Content-Disposition': 'The file name to save the bytes under',
  'Accept-Ranges': '`bytes`: the route answers a single-range `Range` request with 206',
  'Content-Range':
    'Which bytes a 206 holds (`bytes first-last/size`), or the size a 416 refers to (`bytes */size`)',
  'Set-Cookie':
    'The session cookie `stepwise_session` (HttpOnly, SameSite=Lax, Secure over https), or its removal',
} as const;
export type ResponseHeaderName = keyof typeof responseHeaders;

interface ResponseBase {
  description: string;
  /** Headers beyond X-Request-Id and Cache-Control (which every answer carries). */
  headers?: readonly ResponseHeaderName[];
}

/** A JSON body, checked against `body`'s type at compile time. */
export interface JsonResponse<Z extends z.ZodType = z.ZodType> extends ResponseBase {
  kind: 'json';
  body: Z;
  /** A JSON example of the body for the document. */
  example?: unknown;
}

/** No body (204, 304). */
export interface EmptyResponse extends ResponseBase {
  kind: 'empty';
}

/**
 * A body the handler writes itself (a stream, bytes, Prometheus text): declared by its media type
 * and a JSON Schema of the content (`{type: 'string', format: 'binary'}` for bytes).
 */
export interface RawResponse extends ResponseBase {
  kind: 'raw';
  mediaType: string;
  schema: Record<string, unknown>;
}

export type ResponseSpec = JsonResponse | EmptyResponse | RawResponse;

/** A route's successful answers (2xx and 304) by status. */
export type ResponsesSpec = { readonly [status: number]: ResponseSpec };

export function json<Z extends z.ZodType>(
  body: Z,
  description: string,
  options: { headers?: readonly ResponseHeaderName[]; example?: z.infer<Z> } = {},
): JsonResponse<Z> {
  return { kind: 'json', body, description, ...options };
}

export function empty(description: string, headers?: readonly ResponseHeaderName[]): EmptyResponse {
  return { kind: 'empty', description, ...(headers ? { headers } : {}) };
}

export function raw(
  mediaType: string,
  schema: Record<string, unknown>,
  description: string,
  headers?: readonly ResponseHeaderName[],
): RawResponse {
  return { kind: 'raw', mediaType, schema, description, ...(headers ? { headers } : {}) };
}

type ReplyFor<S extends number, R> =
  R extends JsonResponse<infer Z>
    ? { status: S; body: z.infer<Z>; headers?: Readonly<Record<string, string>> }
    : R extends RawResponse
      ? { status: S; sent: true }
      : { status: S; headers?: Readonly<Record<string, string>> };

/**
 * What a handler returns: one of its declared statuses with a body of that status's type. A raw
 * answer has been written by the handler already (`sent: true`); the builder checks its status.
 */
export type Reply<R extends ResponsesSpec> = {
  [S in keyof R & number]: ReplyFor<S, R[S]>;
}[keyof R & number];

/** Any reply, as the builder sees it at run time. */
export interface AnyReply {
  status: number;
  body?: unknown;
  sent?: true;
  headers?: Readonly<Record<string, string>>;
}

/**
 * The error codes a route can answer because of what it is, whatever it does: any route refuses a
 * malformed request (400), an oversized (413) or mistyped (415) body; authenticated routes add
 * 401 and 429 (admin routes 403), and reach the stores (503). A user route that changes something
 * adds 403 too: a write made with a session cookie from another origin, or without the session's
 * CSRF token, is refused. Routes add their own on top.
 */
export function impliedErrorCodes(
  auth: 'none' | 'user' | 'admin',
  method: 'get' | 'post' | 'put' | 'patch' | 'delete',
): ErrorCode[] {
  const always: ErrorCode[] = ['BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];
  if (auth === 'none') return always;
  const forbidden = auth === 'admin' || method !== 'get';
  return [
    ...always,
    'UNAUTHENTICATED',
    ...(forbidden ? (['FORBIDDEN'] as const) : []),
    'RATE_LIMITED',
    'UNAVAILABLE',
  ];
}
