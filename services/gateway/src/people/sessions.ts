import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '@stepwise/shared/node';
import { z } from 'zod';
import { idSchema, newId, sessionKey, userSessionsKey } from '@stepwise/shared';

export interface SessionSettings {
  /** A session ends after this long without a request. */
  idleMs: number;
  /** A session ends this long after sign-in, however active. */
  maxMs: number;
}

const storedSessionSchema = z.object({
  session_id: z.string(),
  user_id: z.string(),
  csrf_token: z.string(),
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime(),
});
export type StoredSession = z.infer<typeof storedSessionSchema>;

/**
 * The secret the cookie carries: the user's id, a dot, and 256 random bits. Redis keys hold only
 * its sha256. The id (not secret: it is in every API answer about the user) tells which user's
 * hash tag the session lives under, so a session and the user's session set share one Redis
 * Cluster slot and change together in one MULTI.
 */
function newSecret(userId: string): string {
  return `${userId}.${randomBytes(32).toString('base64url')}`;
}

const userIdSchema = idSchema('user');

/** The user a cookie's secret names; null for a malformed secret (or one from before the id). */
function userOfSecret(secret: string): string | null {
  const dot = secret.indexOf('.');
  if (dot <= 0) return null;
  const parsed = userIdSchema.safeParse(secret.slice(0, dot));
  return parsed.success ? parsed.data : null;
}

function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Signed-in sessions in Redis, shared by every gateway process. The cookie holds a random secret;
 * Redis holds the session under the secret's hash (a copy of Redis hands out no working cookie),
 * with the idle timeout as the key's expiry, renewed on use. The absolute lifetime is checked
 * against `expires_at`. A per-user set lists a user's sessions, so a password change ends them
 * all. The public `session_id` (in events' `actor`, in logs) is not the secret. Keys live under
 * the user's hash tag (`redis-keys.ts`).
 */
export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly settings: SessionSettings,
  ) {}

  private sessionKey(userId: string, hash: string): string {
    return sessionKey(this.prefix, userId, hash);
  }

  private userKey(userId: string): string {
    return userSessionsKey(this.prefix, userId);
  }

  /** Starts a session for the user; answers the cookie's secret and the session. */
  async create(
    userId: string,
    now = new Date(),
  ): Promise<{ secret: string; session: StoredSession }> {
    const secret = newSecret(userId);
    const hash = digest(secret);
    const session: StoredSession = {
      session_id: newId('session'),
      user_id: userId,
      csrf_token: randomBytes(24).toString('base64url'),
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + this.settings.maxMs).toISOString(),
    };
    await this.redis
      .multi()
      .set(
        this.sessionKey(userId, hash),
        JSON.stringify(session),
        'PX',
        Math.min(this.settings.idleMs, this.settings.maxMs),
      )
      .sadd(this.userKey(userId), hash)
      .pexpire(this.userKey(userId), this.settings.maxMs)
      .exec();
    return { secret, session };
  }

  /** The live session behind a cookie's secret, its idle timeout renewed; null when none. */
  async find(secret: string, now = new Date()): Promise<StoredSession | null> {
    const userId = userOfSecret(secret);
    if (userId === null) return null;
    const key = this.sessionKey(userId, digest(secret));
    const stored = await this.redis.get(key);
    if (stored === null) return null;
    const parsed = storedSessionSchema.safeParse(JSON.parse(stored));
    if (!parsed.success || parsed.data.user_id !== userId) return null;
    const session = parsed.data;
    const left = Date.parse(session.expires_at) - now.getTime();
    if (left <= 0) {
      await this.end(secret, session.user_id);
      return null;
    }
    await this.redis.pexpire(key, Math.min(this.settings.idleMs, left));
    return session;
  }

  /** Ends the session behind this secret (sign-out). */
  async end(secret: string, userId: string): Promise<void> {
    const hash = digest(secret);
    await this.redis
      .multi()
      .del(this.sessionKey(userId, hash))
      .srem(this.userKey(userId), hash)
      .exec();
  }

  /** Ends every session of the user except `keepSecret`'s (a password change). */
  async endAllOf(userId: string, keepSecret?: string): Promise<void> {
    const keep = keepSecret === undefined ? undefined : digest(keepSecret);
    const hashes = await this.redis.smembers(this.userKey(userId));
    const ending = hashes.filter((hash) => hash !== keep);
    if (ending.length === 0) return;
    await this.redis
      .multi()
      .del(...ending.map((hash) => this.sessionKey(userId, hash)))
      .srem(this.userKey(userId), ...ending)
      .exec();
  }
}
