import type { Models } from '../models/index.js';
import type { UserSecretRecord } from '../models/secrets.js';
import { SealBrokenError, aadOf, openSealed, sealWithKey } from './envelope.js';
import { newDataKey, unwrapDataKey, wrapDataKey, type SecretKeyring } from './keyring.js';

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown }).code === 11000;
}

/** A stored secret as the API shows it: never its value. */
export interface SecretSummary {
  name: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * A secret that exists but cannot be opened: its data key is under a master key this process
 * lacks, or the stored bytes were altered. Says which, never anything of the value.
 */
export class SecretUnreadableError extends Error {
  override readonly name = 'SecretUnreadableError';
}

/**
 * Per-user secrets under envelope encryption. Every method takes the owner's id and touches only
 * that user's documents; a value is plaintext only in memory, on its way in or out.
 */
export class SecretStore {
  constructor(
    private readonly models: Models,
    private readonly keyring: SecretKeyring,
  ) {}

  /** The user's data key, created (wrapped under the current master key) on first use. */
  private async dataKeyOf(userId: string, create: boolean): Promise<Buffer | null> {
    for (;;) {
      const record = await this.models.userDataKeys.findOne({ user_id: userId }).lean();
      if (record) {
        const master = this.keyring.keyFor(record.master_key_id);
        if (!master)
          throw new SecretUnreadableError(
            `the secrets of user ${userId} are under master key ${record.master_key_id}, which this process does not have`,
          );
        try {
          return unwrapDataKey(master, userId, record);
        } catch (error) {
          if (error instanceof SealBrokenError)
            throw new SecretUnreadableError(`the data key of user ${userId} does not open`);
          throw error;
        }
      }
      if (!create) return null;
      const dataKey = newDataKey();
      const now = new Date();
      try {
        await this.models.userDataKeys.create({
          user_id: userId,
          ...wrapDataKey(this.keyring.current, userId, dataKey),
          created_at: now,
          rewrapped_at: now,
        });
        return dataKey;
      } catch (error) {
        // Two first secrets of one user at once: the other's data key won; use it.
        if (!isDuplicateKey(error)) throw error;
      }
    }
  }

  /** Stores (or replaces) a secret; `created` tells which. */
  async put(
    userId: string,
    name: string,
    value: string,
  ): Promise<{ secret: SecretSummary; created: boolean }> {
    const dataKey = await this.dataKeyOf(userId, true);
    if (!dataKey) throw new Error('a data key was not created');
    const sealed = sealWithKey(dataKey, Buffer.from(value, 'utf8'), aadOf.secret(userId, name));
    const now = new Date();
    for (let attempt = 0; ; attempt += 1) {
      try {
        const result = await this.models.userSecrets.findOneAndUpdate(
          { user_id: userId, name },
          {
            $set: { ...sealed, updated_at: now },
            $setOnInsert: { user_id: userId, name, created_at: now },
          },
          { upsert: true, returnDocument: 'after', lean: true, includeResultMetadata: true },
        );
        const record = result.value;
        if (!record) throw new Error('the secret was not stored');
        return {
          secret: summaryOf(record),
          created: result.lastErrorObject?.updatedExisting !== true,
        };
      } catch (error) {
        // Two first writes of one name at once: the loser's upsert meets the winner's insert.
        if (!isDuplicateKey(error) || attempt > 0) throw error;
      }
    }
  }

  /** The user's secrets, by name (names and times only). */
  async list(userId: string): Promise<SecretSummary[]> {
    const records = await this.models.userSecrets
      .find({ user_id: userId }, { user_id: 1, name: 1, created_at: 1, updated_at: 1 })
      .sort({ name: 1 })
      .lean();
    return records.map(summaryOf);
  }

  /** Deletes one secret; false when the user has none of that name. */
  async delete(userId: string, name: string): Promise<boolean> {
    const result = await this.models.userSecrets.deleteOne({ user_id: userId, name });
    return result.deletedCount > 0;
  }

  /**
   * The values of the named secrets of one user; names the user has not stored are absent from
   * the answer (the caller says what that means).
   */
  async read(userId: string, names: readonly string[]): Promise<Map<string, string>> {
    const values = new Map<string, string>();
    if (names.length === 0) return values;
    const records = await this.models.userSecrets
      .find({ user_id: userId, name: { $in: [...new Set(names)] } })
      .lean();
    if (records.length === 0) return values;
    const dataKey = await this.dataKeyOf(userId, false);
    if (!dataKey)
      throw new SecretUnreadableError(`user ${userId} has secrets but no data key to open them`);
    for (const record of records) {
      try {
        const value = openSealed(dataKey, record, aadOf.secret(userId, record.name));
        values.set(record.name, value.toString('utf8'));
      } catch (error) {
        if (error instanceof SealBrokenError)
          throw new SecretUnreadableError(
            `secret ${record.name} of user ${userId} does not open (it was altered or moved)`,
          );
        throw error;
      }
    }
    return values;
  }
}

function summaryOf(record: Pick<UserSecretRecord, 'name' | 'created_at' | 'updated_at'>) {
  return { name: record.name, created_at: record.created_at, updated_at: record.updated_at };
}
