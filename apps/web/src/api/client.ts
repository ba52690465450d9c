import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '@stepwise/client';

/**
 * The app's one API client: typed by the gateway's contract (`paths`), so a contract change fails
 * the app's type check. Same origin, so the session cookie goes along and no CORS is involved.
 */
export const api = createClient<paths>({
  baseUrl: '',
  credentials: 'same-origin',
});

/** The signed-in session's CSRF token, kept here so that every write can send it. */
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** The header a write sent outside openapi-fetch (an upload through XMLHttpRequest) must carry. */
export function csrfHeaders(): Record<string, string> {
  return csrfToken === null ? {} : { 'X-CSRF-Token': csrfToken };
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Every cookie-authenticated write must carry the session's token, or the gateway says 403. */
const csrfMiddleware: Middleware = {
  onRequest({ request }) {
    if (csrfToken !== null && !safeMethods.has(request.method.toUpperCase())) {
      request.headers.set('X-CSRF-Token', csrfToken);
    }
    return request;
  },
};
api.use(csrfMiddleware);

type ErrorEnvelope = components['schemas']['ErrorEnvelope'];

/** One problem the gateway found in a request (the `details` of 400 and 422 answers). */
export interface FieldProblem {
  path: string;
  message: string;
}

/** A refused request: the error envelope, its HTTP status and, when limited, when to retry. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    /** Seconds from Retry-After, when the gateway sent one. */
    readonly retryAfterSeconds: number | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The `[{path, message}]` details, when the answer carries them. */
  get problems(): FieldProblem[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.flatMap((detail: unknown) => {
      if (typeof detail !== 'object' || detail === null) return [];
      const { path, message } = detail as Record<string, unknown>;
      return typeof path === 'string' && typeof message === 'string' ? [{ path, message }] : [];
    });
  }
}

function isEnvelope(body: unknown): body is ErrorEnvelope {
  if (typeof body !== 'object' || body === null) return false;
  const error = (body as { error?: unknown }).error;
  return typeof error === 'object' && error !== null && 'message' in error;
}

/** An ApiError from an openapi-fetch error answer (whatever its body turned out to be). */
export function apiError(response: Response, body: unknown): ApiError {
  const retryAfter = Number(response.headers.get('retry-after'));
  const retry = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
  if (isEnvelope(body)) {
    return new ApiError(
      response.status,
      body.error.code,
      body.error.message,
      body.error.details,
      retry,
    );
  }
  return new ApiError(response.status, 'HTTP_' + response.status, response.statusText, null, retry);
}

/**
 * The body of a successful answer, else an ApiError thrown: what react-query's query and mutation
 * functions want.
 */
export function unwrap<Data>(answer: { data?: Data; error?: unknown; response: Response }): Data {
  // openapi-fetch leaves `data` optional in its type although it is set on every 2xx with a body.
  if (answer.response.ok) return answer.data as Data;
  throw apiError(answer.response, answer.error);
}
