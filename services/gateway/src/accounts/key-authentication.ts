import type { AccessKeyRecord, UserRecord } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import type { RateLimitedError, UserRequestGate } from '../http/rate-limit.js';
import type { UserReader } from './accounts.js';
import { KEY_RECHECK_MS, KeyCache, type AuthEpochs, type KeyCacheEntry } from './key-cache.js';
import { hashKeySecret } from './keys.js';

/** `last_used_at` is written at most once a minute per key, not once per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface KeyAuthentication {
  /** The key's user and id, or null when the secret is unknown or revoked. */
  found: { user: UserRecord; keyId: string } | null;
  /** Set when the request is over its user's rate limit; thrown once the key is known valid. */
  limited: RateLimitedError | null;
}

export interface KeyAuthenticatorDependencies {
  models: Pick<Models, 'users' | 'accessKeys'>;
  readUser: UserReader;
  epochs: AuthEpochs;
  /** The user's rate-limit count and epoch read, one round trip in the user's hash tag. */
  gate: UserRequestGate;
  cache?: KeyCache;
}

export type KeyAuthenticator = (secret: string, now?: Date) => Promise<KeyAuthentication>;

/**
 * API keys without a MongoDB read per request, revocation still immediate on every gateway.
 *
 * A key this process has confirmed is accepted on the strength of the user's revocation epoch,
 * read in the same Redis round trip as the rate-limit count; a different epoch (one of the user's
 * keys was revoked since), no epoch, or a confirmation older than KEY_RECHECK_MS sends the request
 * to MongoDB, as does a key this process has not seen. The epoch an entry is stamped with is always
 * one read before the MongoDB read that confirmed it, never after (see `KeyCacheEntry`).
 */
export function createKeyAuthenticator(deps: KeyAuthenticatorDependencies): KeyAuthenticator {
  const { models, readUser, epochs, gate } = deps;
  const cache = deps.cache ?? new KeyCache();

  const readKey = (keyHash: string) =>
    // By the unique hash alone (checked for revocation in code): a filter on `revoked_at: null` as
    // well makes the MongoDB stand-in scan every key instead of using the index.
    models.accessKeys.findOne({ key_hash: keyHash }).lean<AccessKeyRecord>();

  /** Writes `last_used_at` when this process's copy of it is a minute old or more. */
  const touch = async (entry: KeyCacheEntry, now: Date): Promise<void> => {
    if (entry.lastUsedAt !== null && now.getTime() - entry.lastUsedAt <= LAST_USED_RESOLUTION_MS)
      return;
    await models.accessKeys.updateOne({ key_id: entry.keyId }, { $set: { last_used_at: now } });
    entry.lastUsedAt = now.getTime();
  };

  const entryOf = (key: AccessKeyRecord, validAtEpoch: string | null, now: Date) => ({
    userId: key.user_id,
    keyId: key.key_id,
    revoked: key.revoked_at !== null && key.revoked_at !== undefined,
    validAtEpoch,
    confirmedAt: now.getTime(),
    lastUsedAt: key.last_used_at?.getTime() ?? null,
  });

  /** A kept key whose epoch did not vouch for it: read it again, stamped with `epochRead`. */
  const reconfirm = async (
    keyHash: string,
    kept: KeyCacheEntry,
    epochRead: string | null,
    now: Date,
  ): Promise<KeyCacheEntry | null> => {
    const key = await readKey(keyHash);
    if (!key) {
      // Deleted (a user whose creation failed takes its key with it): as final as a revocation.
      cache.set(keyHash, { ...kept, revoked: true });
      return null;
    }
    let epoch = epochRead;
    // No epoch yet: set one now. If that works, no revocation has replaced it since our read of
    // the key (a revocation replaces the epoch after writing MongoDB), so the key may carry it.
    if (epoch === null && !key.revoked_at)
      epoch = await epochs.establish(kept.userId).catch(() => null);
    const entry = entryOf(key, epoch, now);
    cache.set(keyHash, entry);
    return entry;
  };

  return async (secret, now = new Date()) => {
    const keyHash = hashKeySecret(secret);
    const kept = cache.get(keyHash);
    if (kept?.revoked) return { found: null, limited: null };

    let entry: KeyCacheEntry | null;
    let limited: RateLimitedError | null;
    if (kept) {
      const check = await gate(kept.userId, epochs.key(kept.userId));
      limited = check.limited;
      const vouched =
        kept.validAtEpoch !== null &&
        check.epoch === kept.validAtEpoch &&
        now.getTime() - kept.confirmedAt < KEY_RECHECK_MS;
      entry = vouched ? kept : await reconfirm(keyHash, kept, check.epoch, now);
    } else {
      const key = await readKey(keyHash);
      if (!key) return { found: null, limited: null };
      // Remembered without an epoch: the epoch read after this key read could already be a
      // revocation's, so the next request confirms it under an epoch read first.
      entry = entryOf(key, null, now);
      cache.set(keyHash, entry);
      limited = entry.revoked ? null : (await gate(entry.userId, null)).limited;
    }
    if (!entry || entry.revoked) return { found: null, limited: null };
    const user = await readUser(entry.userId);
    if (!user) return { found: null, limited: null };
    await touch(entry, now);
    return { found: { user, keyId: entry.keyId }, limited };
  };
}
