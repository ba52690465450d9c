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

/**
 * A fixed-window counter per user in Redis, shared by every gateway process. A request over the
 * limit is 429 with Retry-After. If Redis cannot answer, requests pass (and are logged): limiting
 * must not take the API down with it.
 */
export function createRateLimiter(
  redis: RedisClient,
  prefix: string,
  settings: RateLimitSettings,
  logger: Logger,
) {
  return async (userId: string): Promise<void> => {
    if (settings.limit <= 0) return;
    const window = Math.floor(Date.now() / settings.windowMs);
    const key = rateLimitKey(prefix, userId, window);
    let count: number;
    try {
      // The window is in the key's name; the expiry only cleans up.
      const replies = await redis
        .multi()
        .incr(key)
        .pexpire(key, settings.windowMs * 2)
        .exec();
      count = Number(replies?.[0]?.[1] ?? 0);
    } catch (error) {
      logger.warn({ err: error }, 'rate limiter unavailable; request allowed');
      return;
    }
    if (count > settings.limit)
      throw new RateLimitedError(secondsUntilNextWindow(window, settings.windowMs));
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
        // One GET per key, in parallel: on a cluster the two counters may live on two nodes.
        counts = await Promise.all(keysOf(attempt, window).map((key) => redis.get(key)));
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
