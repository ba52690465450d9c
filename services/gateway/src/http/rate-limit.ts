import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { StepwiseError, authFailureKey, rateLimitKey } from '@stepwise/shared';
import type { Logger, RedisClient } from '@stepwise/shared/node';

export interface RateLimitSettings {
  /** Requests one user may make per window; 0 turns limiting off. */
  limit: number;
  windowMs: number;
}

export class RateLimitedError extends StepwiseError {
  constructor(
    readonly retryAfterSeconds: number,
    reason = 'too many requests',
  ) {
    super('RATE_LIMITED', `${reason}; retry in ${retryAfterSeconds} s`, [
      { path: 'Retry-After', message: String(retryAfterSeconds) },
    ]);
  }
}

function secondsUntilNextWindow(window: number, windowMs: number): number {
  return Math.max(1, Math.ceil(((window + 1) * windowMs - Date.now()) / 1000));
}

/** What one request's round trip in the user's hash tag found. */
export interface UserRequestCheck {
  /** Set when the request is over the user's limit (thrown once the caller is known to be valid). */
  limited: RateLimitedError | null;
  /** The user's key-revocation epoch when it was asked for and could be read, else null. */
  epoch: string | null;
}

/** Counts a request against its user and, when given `epochKey`, reads that key alongside. */
export type UserRequestGate = (
  userId: string,
  epochKey: string | null,
) => Promise<UserRequestCheck>;

/**
 * A fixed-window counter per user in Redis, shared by every gateway process, in one MULTI with the
 * read of the user's key-revocation epoch (both in the user's hash tag, so one round trip on a
 * cluster too). A request over the limit is 429 with Retry-After. If Redis cannot answer, requests
 * pass (and are logged): limiting must not take the API down with it; the epoch is then unknown,
 * which only sends the key check to MongoDB.
 */
export function createRateLimiter(
  redis: RedisClient,
  prefix: string,
  settings: RateLimitSettings,
  logger: Logger,
): UserRequestGate {
  return async (userId, epochKey) => {
    const limiting = settings.limit > 0;
    if (!limiting && epochKey === null) return { limited: null, epoch: null };
    // Without limiting the epoch alone is read, without the MULTI around it (three commands).
    if (!limiting && epochKey !== null)
      return {
        limited: null,
        epoch: await redis.get(epochKey).catch((error: unknown) => {
          logger.warn({ err: error }, 'revocation epoch unavailable; key checked in MongoDB');
          return null;
        }),
      };
    const window = Math.floor(Date.now() / settings.windowMs);
    const key = rateLimitKey(prefix, userId, window);
    const transaction = redis.multi();
    // The window is in the key's name; the expiry only cleans up.
    if (limiting) transaction.incr(key).pexpire(key, settings.windowMs * 2);
    if (epochKey !== null) transaction.get(epochKey);
    let replies: [error: Error | null, result: unknown][] | null;
    try {
      replies = await transaction.exec();
    } catch (error) {
      logger.warn({ err: error }, 'rate limiter unavailable; request allowed');
      return { limited: null, epoch: null };
    }
    const count = limiting ? Number(replies?.[0]?.[1] ?? 0) : 0;
    const epochReply = epochKey === null ? undefined : replies?.[limiting ? 2 : 0];
    const epoch =
      epochReply && !epochReply[0] && typeof epochReply[1] === 'string' ? epochReply[1] : null;
    const limited =
      count > settings.limit && limiting
        ? new RateLimitedError(secondsUntilNextWindow(window, settings.windowMs))
        : null;
    return { limited, epoch };
  };
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  return [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right];
}

/**
 * What failed authentications are counted against: the peer's IPv4 address, or the /64 an IPv6
 * peer sits in (one host usually holds a whole /64, and could otherwise pick a fresh address per
 * attempt). The socket's address, never X-Forwarded-For: the gateway does not know of a proxy it
 * could trust, and a forged header must not let a client choose whose counter it bumps. Behind a
 * reverse proxy every client shares the proxy's address, so the per-address limit then throttles
 * all of them together; see AUTH_FAILURES_PER_WINDOW.
 */
export function clientAddressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  const bare = address.split('%')[0] ?? address;
  if (!isIPv6(bare)) return address;
  const groups = expandIPv6(bare.toLowerCase()).slice(0, 4);
  return `${groups.map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Who is trying: the client's address and the credential it presented. */
export interface AuthAttempt {
  address: string;
  credential: string;
}

export interface AuthFailureLimitSettings extends RateLimitSettings {
  /**
   * Client addresses (as configured; compared by `clientAddressKey`, so an IPv6 one covers its
   * /64) that are never limited and whose failures are not counted, neither against the address
   * nor against the presented key's prefix: a trusted test client, such as the contract fuzzer,
   * that sends wrong credentials on purpose, must neither be blocked nor block anyone else.
   */
  exemptAddresses?: readonly string[];
}

export interface AuthFailureLimiter {
  /** Throws RateLimitedError while the address, or the credential's prefix, is over the limit. */
  check(attempt: AuthAttempt): Promise<void>;
  /** Counts a presented credential that matched nothing. */
  recordFailure(attempt: AuthAttempt): Promise<void>;
}

/**
 * Fixed-window counters of failed authentications in Redis, so that every gateway process sees
 * the same counts: one per client address and one per presented credential prefix (its first ten
 * characters, as `keyPrefix` shows them; that catches guesses at one key spread over many
 * addresses). Past the limit every further attempt is 429, a correct credential included: were a
 * correct guess let through, the 429s would only mean "wrong", and guessing would go on at full
 * speed. Clients at other addresses presenting other keys are not affected.
 *
 * The check is a read before the credential is verified and a failure is an increment after, so
 * concurrent attempts can overshoot the limit by the number in flight; the bound is per window,
 * not per request. Redis failing opens the gate (logged), as for the per-user limiter.
 */
export function createAuthFailureLimiter(
  redis: RedisClient,
  prefix: string,
  settings: AuthFailureLimitSettings,
  logger: Logger,
): AuthFailureLimiter {
  const exempt = new Set((settings.exemptAddresses ?? []).map(clientAddressKey));
  const keysOf = (attempt: AuthAttempt, window: number) => {
    // Hashed: a mistyped secret (say, the admin token sent to a user route) must not end up in
    // a Redis key name.
    const credential = createHash('sha256')
      .update(attempt.credential.slice(0, 10), 'utf8')
      .digest('hex')
      .slice(0, 32);
    return [
      authFailureKey(prefix, 'address', attempt.address, window),
      authFailureKey(prefix, 'credential', credential, window),
    ] as const;
  };
  return {
    async check(attempt) {
      if (settings.limit <= 0 || exempt.has(attempt.address)) return;
      const window = Math.floor(Date.now() / settings.windowMs);
      let counts: (string | null)[];
      try {
        const keys = keysOf(attempt, window);
        // One MGET on a single Redis; on a cluster the two keys may live on two nodes.
        counts = redis.isCluster
          ? await Promise.all(keys.map((key) => redis.get(key)))
          : await redis.mget(...keys);
      } catch (error) {
        logger.warn({ err: error }, 'authentication failure limiter unavailable; attempt allowed');
        return;
      }
      if (counts.some((count) => Number(count ?? 0) >= settings.limit)) {
        throw new RateLimitedError(
          secondsUntilNextWindow(window, settings.windowMs),
          'too many failed authentications from this client',
        );
      }
    },
    async recordFailure(attempt) {
      if (settings.limit <= 0 || exempt.has(attempt.address)) return;
      const window = Math.floor(Date.now() / settings.windowMs);
      const [byAddress, byCredential] = keysOf(attempt, window);
      try {
        await Promise.all(
          [byAddress, byCredential].map((key) =>
            redis
              .multi()
              .incr(key)
              .pexpire(key, settings.windowMs * 2)
              .exec(),
          ),
        );
      } catch (error) {
        logger.warn({ err: error }, 'authentication failure limiter unavailable; not counted');
      }
    },
  };
}
