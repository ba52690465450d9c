import type { Redis } from 'ioredis';
import { StepwiseError } from '@stepwise/shared';
import type { Logger } from '@stepwise/shared/node';

export interface RateLimitSettings {
  /** Requests one user may make per window; 0 turns limiting off. */
  limit: number;
  windowMs: number;
}

export class RateLimitedError extends StepwiseError {
  constructor(readonly retryAfterSeconds: number) {
    super('RATE_LIMITED', `too many requests; retry in ${retryAfterSeconds} s`, [
      { path: 'Retry-After', message: String(retryAfterSeconds) },
    ]);
  }
}

/**
 * A fixed-window counter per user in Redis, shared by every gateway process. A request over the
 * limit is 429 with Retry-After. If Redis cannot answer, requests pass (and are logged): limiting
 * must not take the API down with it.
 */
export function createRateLimiter(
  redis: Redis,
  prefix: string,
  settings: RateLimitSettings,
  logger: Logger,
) {
  return async (userId: string): Promise<void> => {
    if (settings.limit <= 0) return;
    const window = Math.floor(Date.now() / settings.windowMs);
    const key = `${prefix}:rate:${userId}:${window}`;
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
    if (count > settings.limit) {
      const untilNextWindow = (window + 1) * settings.windowMs - Date.now();
      throw new RateLimitedError(Math.max(1, Math.ceil(untilNextWindow / 1000)));
    }
  };
}
