import {
  StepwiseError,
  UnavailableError,
  errorCatalog,
  isStepwiseError,
  type ErrorEnvelope,
} from '@stepwise/shared';

/** Errors that mean "a backing store is unreachable" rather than "this request is wrong". */
const unavailableErrorNames = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MaxRetriesPerRequestError',
]);

function isUnavailableError(error: Error): boolean {
  if (unavailableErrorNames.has(error.name)) return true;
  // ioredis, with its offline queue disabled, refuses commands while disconnected with this text;
  // on a Redis Cluster a failover answers MOVED, CLUSTERDOWN, TRYAGAIN or READONLY until the
  // client has the new slot map, and the client gives up with "Too many Cluster redirections".
  // Anchored: these open the message of Redis's own reply (or of ioredis giving up), and a
  // message that merely mentions them (one echoing a client's input) is not one.
  return (
    /enableOfflineQueue|Connection is closed|ECONNREFUSED/.test(error.message) ||
    /^(Too many Cluster redirections|CLUSTERDOWN |TRYAGAIN |READONLY |MOVED \d)/.test(error.message)
  );
}

/** body-parser and raw-body report failures as errors carrying a `type` and a 4xx `status`. */
function fromBodyParserError(error: { type?: unknown; status?: unknown; message: string }) {
  switch (error.type) {
    case 'entity.too.large':
      return new StepwiseError('PAYLOAD_TOO_LARGE', 'request body is larger than allowed');
    case 'entity.parse.failed':
      return new StepwiseError('BAD_REQUEST', `malformed JSON body: ${error.message}`, [
        { path: 'body', message: error.message },
      ]);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new StepwiseError('UNSUPPORTED_MEDIA_TYPE', error.message);
    default:
      // Express's own refusal of a path it cannot percent-decode: a path problem, not a body one.
      if (error.status === 400 && error.message.startsWith('Failed to decode param')) {
        return new StepwiseError('BAD_REQUEST', error.message, [
          { path: 'params', message: error.message },
        ]);
      }
      if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
        return new StepwiseError('BAD_REQUEST', error.message, [
          { path: 'body', message: error.message },
        ]);
      }
      return null;
  }
}

export interface MappedError {
  status: number;
  envelope: ErrorEnvelope;
  /** True for failures we did not anticipate; they are logged with their stack. */
  unexpected: boolean;
}

export function mapError(error: unknown): MappedError {
  let known: StepwiseError | null = null;
  if (isStepwiseError(error)) {
    known =
      error instanceof StepwiseError
        ? error
        : new StepwiseError(error.code, error.message, error.details);
  } else if (error instanceof Error) {
    known =
      fromBodyParserError(error) ??
      (isUnavailableError(error)
        ? new UnavailableError('a backing service is unavailable; retry later')
        : null);
  }
  if (known) {
    return {
      status: errorCatalog[known.code].status,
      envelope: known.toEnvelope(),
      unexpected: false,
    };
  }
  return {
    status: 500,
    envelope: { error: { code: 'INTERNAL', message: 'internal error' } },
    unexpected: true,
  };
}
