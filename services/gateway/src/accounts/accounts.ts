import {
  ConflictError,
  NotFoundError,
  newId,
  type AccessKeyRecord,
  type CreateUserBody,
  type UserRecord,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import type { AuthEpochs } from './key-cache.js';
import { generateKeySecret, hashKeySecret, keyPrefix } from './keys.js';

export interface IssuedKey {
  key_id: string;
  api_key: string;
}

type AccountModels = Pick<Models, 'users' | 'accessKeys'>;

function isDuplicateKeyError(error: unknown): error is { code: 11000; keyPattern?: object } {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000
  );
}

async function insertKey(models: AccountModels, userId: string, now: Date): Promise<IssuedKey> {
  const secret = generateKeySecret();
  const record: AccessKeyRecord = {
    key_id: newId('accessKey'),
    user_id: userId,
    key_hash: hashKeySecret(secret),
    prefix: keyPrefix(secret),
    created_at: now,
    last_used_at: null,
    revoked_at: null,
  };
  await models.accessKeys.create(record);
  return { key_id: record.key_id, api_key: secret };
}

/**
 * Creates a user with a first key. The key is written first and removed again if the user cannot
 * be (a taken username or email), so a refused request leaves nothing behind; without
 * transactions, a crash between the two writes leaves at most a key that matches no user and
 * therefore authenticates nobody.
 */
export async function createUser(
  models: AccountModels,
  input: CreateUserBody,
  now = new Date(),
): Promise<{ user: UserRecord; key: IssuedKey }> {
  const user: UserRecord = {
    user_id: newId('user'),
    username: input.username,
    email: input.email.toLowerCase(),
    created_at: now,
    updated_at: now,
  };
  const key = await insertKey(models, user.user_id, now);
  try {
    await models.users.create(user);
  } catch (error) {
    await models.accessKeys.deleteOne({ key_id: key.key_id });
    if (isDuplicateKeyError(error)) {
      const field = Object.keys(error.keyPattern ?? {})[0] ?? 'username';
      throw new ConflictError(`a user with this ${field} already exists`, [
        { path: field, message: 'already taken' },
      ]);
    }
    throw error;
  }
  return { user, key };
}

export function issueKey(
  models: AccountModels,
  userId: string,
  now = new Date(),
): Promise<IssuedKey> {
  return insertKey(models, userId, now);
}

export async function listKeys(models: AccountModels, userId: string): Promise<AccessKeyRecord[]> {
  return models.accessKeys.find({ user_id: userId }).sort({ created_at: 1 }).lean();
}

/**
 * Revokes one of the user's keys; revoking twice is allowed, another user's key is not found.
 * MongoDB first, then the user's revocation epoch (which every gateway's kept keys are checked
 * against), and only then the answer: a revocation that could not replace the epoch fails and is
 * repeated by the client, which replaces it then, even though the key is already marked.
 */
export async function revokeKey(
  models: AccountModels,
  epochs: AuthEpochs,
  userId: string,
  keyId: string,
  now = new Date(),
): Promise<void> {
  const revoked = await models.accessKeys.updateOne(
    { key_id: keyId, user_id: userId, revoked_at: null },
    { $set: { revoked_at: now } },
  );
  if (revoked.matchedCount !== 1) {
    const found = await models.accessKeys.exists({ key_id: keyId, user_id: userId });
    if (!found) throw new NotFoundError('key', keyId);
  }
  await epochs.replace(userId);
}

export type UserReader = (userId: string) => Promise<UserRecord | null>;

/**
 * Reads users by id, keeping the most recently used ones. A user record never changes once
 * created, so a kept copy cannot go stale (keys, which can be revoked, are kept only under the
 * user's revocation epoch: key-authentication.ts).
 */
export function createUserReader(models: AccountModels, capacity = 10_000): UserReader {
  const kept = new Map<string, UserRecord>();
  return async (userId) => {
    const hit = kept.get(userId);
    if (hit) {
      kept.delete(userId);
      kept.set(userId, hit);
      return hit;
    }
    const user = await models.users.findOne({ user_id: userId }).lean<UserRecord>();
    if (!user) return null;
    kept.set(userId, user);
    if (kept.size > capacity) kept.delete(kept.keys().next().value as string);
    return user;
  };
}
