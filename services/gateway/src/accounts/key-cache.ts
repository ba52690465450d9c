import { randomBytes } from 'node:crypto';
import { authEpochKey } from '@stepwise/shared';
import type { RedisClient } from '@stepwise/shared/node';

/**
 * What this gateway process remembers of an API key, by the sha256 of its secret.
 *
 * A key's owner never changes and a revocation is final, so `userId`, `keyId` and `revoked` can be
 * kept as long as memory allows. Whether a live key is still live can change at any moment on any
 * gateway; that is `validAtEpoch`: the user's revocation epoch as read from Redis *before* the
 * MongoDB read that found the key unrevoked. A revocation writes MongoDB first and then replaces
 * the epoch, so a copy validated before a revocation always carries an older epoch than the one
 * any request after the revocation reads, and goes back to MongoDB.
 */
export interface KeyCacheEntry {
  userId: string;
  keyId: string;
  revoked: boolean;
  /** The epoch this entry was confirmed under, or null when it has not been (yet). */
  validAtEpoch: string | null;
  /** When MongoDB last confirmed the key (ms); older than KEY_RECHECK_MS is read again. */
  confirmedAt: number;
  /** The key's `last_used_at` as this process knows it (ms), for the once-a-minute write. */
  lastUsedAt: number | null;
}

/**
 * Even with a matching epoch a kept key is read from MongoDB again after this long. It bounds what
 * a lost epoch write could cost (a Redis failover that drops the replacement brings back the old
 * epoch; docs/security.md) and refreshes `last_used_at`, which moves at that resolution anyway.
 */
export const KEY_RECHECK_MS = 60_000;

/** Keys kept per process; the least recently used go first. */
const DEFAULT_CAPACITY = 10_000;

/** A bounded, least-recently-used map of keys this process has seen. */
export class KeyCache {
  private readonly entries = new Map<string, KeyCacheEntry>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  get(keyHash: string): KeyCacheEntry | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    this.entries.delete(keyHash);
    this.entries.set(keyHash, entry);
    return entry;
  }

  set(keyHash: string, entry: KeyCacheEntry): void {
    if (this.capacity <= 0) return;
    this.entries.delete(keyHash);
    this.entries.set(keyHash, entry);
    if (this.entries.size > this.capacity)
      this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}

function newEpoch(): string {
  return randomBytes(12).toString('base64url');
}

/** The per-user revocation epochs in Redis (`authEpochKey`, in the user's hash tag). */
export class AuthEpochs {
  constructor(
    private readonly redis: RedisClient,
    private readonly queuePrefix: string,
  ) {}

  key(userId: string): string {
    return authEpochKey(this.queuePrefix, userId);
  }

  /**
   * Replaces the user's epoch after one of their keys was revoked in MongoDB; the revocation is
   * answered only after this succeeds, so "revoked" means refused on every gateway from then on.
   * A replacement, not an increment: a counter that a failover set back would meet copies made
   * under its old values again.
   */
  async replace(userId: string): Promise<void> {
    await this.redis.set(this.key(userId), newEpoch());
  }

  /**
   * A user without an epoch (none revoked yet, or Redis lost it) gets one, but only if still
   * without: the answer is the epoch that entries confirmed by a MongoDB read made *before* this
   * call may carry, or null when another writer (a revocation) got there first.
   */
  async establish(userId: string): Promise<string | null> {
    const epoch = newEpoch();
    const set = await this.redis.set(this.key(userId), epoch, 'NX');
    return set === 'OK' ? epoch : null;
  }
}
