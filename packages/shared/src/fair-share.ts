import type { RedisClient } from './connections.js';
import { fairShareKey } from './redis-keys.js';

/** BullMQ's highest priority number. */
const LOWEST_PRIORITY = 2_097_152;
const KEY_TTL_SECONDS = 24 * 3600;

/**
 * Per-user fairness on the `runs` queue without a queue per user: a job's BullMQ priority is the
 * number of that user's jobs already in line (1 for a user with none). A user with a thousand jobs
 * waiting therefore queues behind everybody else's first job instead of in front of it. The
 * counter is a hint, not an invariant: a crash can leave it off by a few, which skews order
 * slightly and never correctness; it expires a day after its last use.
 */
export class FairShare {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(userId: string): string {
    return fairShareKey(this.prefix, userId);
  }

  /** Takes a place in the user's line and returns the priority for the job. */
  async priorityFor(userId: string): Promise<number> {
    const key = this.key(userId);
    const replies = await this.redis.multi().incr(key).expire(key, KEY_TTL_SECONDS).exec();
    const place = Number(replies?.[0]?.[1] ?? 1);
    return Math.min(Math.max(place, 1), LOWEST_PRIORITY);
  }

  /** Gives the place back when the job is done. */
  async release(userId: string): Promise<void> {
    const key = this.key(userId);
    const left = await this.redis.decr(key);
    if (left < 0) await this.redis.set(key, '0', 'EX', KEY_TTL_SECONDS);
  }
}
