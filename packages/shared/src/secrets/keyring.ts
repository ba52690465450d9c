import { randomBytes } from 'node:crypto';
import type { Models } from '../models/index.js';
import { scatterGather } from '../models/shard-keys.js';
import {
  SealBrokenError,
  aadOf,
  masterKeyFrom,
  openSealed,
  sealWithKey,
  type MasterKey,
  type Sealed,
} from './envelope.js';

/** The text the keyring check seals: what a master key must open to be the database's. */
const CHECK_TEXT = 'stepwise keyring check';

export interface MasterKeySettings {
  /** SECRETS_MASTER_KEY: base64 of 32 bytes. */
  current: string;
  /** SECRETS_PREVIOUS_MASTER_KEY: the key being rotated away from, if any. */
  previous?: string | undefined;
}

/**
 * The master keys a process holds once the start-up check passed: the current one (every new
 * data key is wrapped under it) and the previous one, if configured, so that a data key another
 * process still wrapped under it during a rolling rotation stays readable.
 */
export class SecretKeyring {
  readonly #byId: ReadonlyMap<string, MasterKey>;

  constructor(
    readonly current: MasterKey,
    previous: MasterKey | null,
  ) {
    this.#byId = new Map([current, ...(previous ? [previous] : [])].map((key) => [key.id, key]));
  }

  /** The master key of this fingerprint, if this process has it. */
  keyFor(masterKeyId: string): MasterKey | undefined {
    return this.#byId.get(masterKeyId);
  }

  get knownIds(): string[] {
    return [...this.#byId.keys()];
  }
}

/** The configured master key is not the database's: the process must not start. */
export class MasterKeyMismatchError extends Error {
  override readonly name = 'MasterKeyMismatchError';
}

export interface KeyringReport {
  /** The fingerprint the database is under now. */
  masterKeyId: string;
  /** True when this start created the keyring (a database without secrets yet). */
  created: boolean;
  /** The fingerprint rotated away from by this start, or null. */
  rotatedFrom: string | null;
  /** Data keys this start re-wrapped under the current master key. */
  rewrapped: number;
  /** Data keys under a master key this process does not have (their secrets cannot be read). */
  stranded: number;
}

export interface KeyringOptions {
  now?: () => Date;
  /** Tests only: called after each data key is re-wrapped (a throw stops the rotation there). */
  afterRewrap?: (userId: string) => void;
}

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown }).code === 11000;
}

function checkFields(master: MasterKey) {
  const sealed = sealWithKey(
    master.key,
    Buffer.from(CHECK_TEXT, 'utf8'),
    aadOf.keyringCheck(master.id),
  );
  return {
    master_key_id: master.id,
    check_ciphertext: sealed.ciphertext,
    check_iv: sealed.iv,
    check_auth_tag: sealed.auth_tag,
  };
}

function checkOpens(
  master: MasterKey,
  record: { check_ciphertext: string; check_iv: string; check_auth_tag: string },
): boolean {
  try {
    const text = openSealed(
      master.key,
      {
        ciphertext: record.check_ciphertext,
        iv: record.check_iv,
        auth_tag: record.check_auth_tag,
      },
      aadOf.keyringCheck(master.id),
    );
    return text.toString('utf8') === CHECK_TEXT;
  } catch (error) {
    if (error instanceof SealBrokenError) return false;
    throw error;
  }
}

/** A data key's raw bytes, unwrapped with the master key it names. */
export function unwrapDataKey(
  master: MasterKey,
  userId: string,
  record: { wrapped_key: string; iv: string; auth_tag: string },
): Buffer {
  const sealed: Sealed = {
    ciphertext: record.wrapped_key,
    iv: record.iv,
    auth_tag: record.auth_tag,
  };
  return openSealed(master.key, sealed, aadOf.dataKey(userId));
}

/** A data key sealed under `master`, as the user_data_keys fields. */
export function wrapDataKey(master: MasterKey, userId: string, dataKey: Buffer) {
  const sealed = sealWithKey(master.key, dataKey, aadOf.dataKey(userId));
  return {
    wrapped_key: sealed.ciphertext,
    iv: sealed.iv,
    auth_tag: sealed.auth_tag,
    master_key_id: master.id,
  };
}

/**
 * Re-wraps every data key still under `from` under `to`; values are untouched (they are sealed
 * under the data keys, which do not change). Each write is conditional on the key still being
 * under `from`, so that two processes rotating at once, or a rotation resumed after a crash,
 * never wrap a key twice or lose one: whichever write lands first wins, the other matches nothing.
 */
async function rewrapDataKeys(
  models: Models,
  from: MasterKey,
  to: MasterKey,
  options: KeyringOptions,
): Promise<number> {
  const now = options.now ?? (() => new Date());
  let rewrapped = 0;
  const cursor = models.userDataKeys
    .find({ master_key_id: from.id })
    .comment(scatterGather('secrets:rewrap-data-keys'))
    .lean()
    .cursor();
  for await (const record of cursor) {
    let dataKey: Buffer;
    try {
      dataKey = unwrapDataKey(from, record.user_id, record);
    } catch (error) {
      if (error instanceof SealBrokenError)
        throw new MasterKeyMismatchError(
          `the data key of user ${record.user_id} claims master key ${from.id} but does not open with it: the database was altered`,
        );
      throw error;
    }
    const result = await models.userDataKeys.updateOne(
      { user_id: record.user_id, master_key_id: from.id },
      { $set: { ...wrapDataKey(to, record.user_id, dataKey), rewrapped_at: now() } },
    );
    rewrapped += result.modifiedCount;
    options.afterRewrap?.(record.user_id);
  }
  return rewrapped;
}

function mismatch(configured: string, database: string, previous: MasterKey | null): string {
  return (
    `SECRETS_MASTER_KEY (fingerprint ${configured}) does not open this database's secrets, ` +
    `which are under master key ${database}` +
    (previous ? `; SECRETS_PREVIOUS_MASTER_KEY (fingerprint ${previous.id}) does not either` : '') +
    `. Set SECRETS_MASTER_KEY to the key of fingerprint ${database}, or, to rotate to the new key, ` +
    `set SECRETS_PREVIOUS_MASTER_KEY to it (docs/secrets.md)`
  );
}

/**
 * The start-up check every process holding SECRETS_MASTER_KEY makes before serving:
 * - a database without a keyring is put under the configured key;
 * - a keyring the configured key opens is the normal case (data keys a process still on the
 *   previous key wrapped meanwhile are re-wrapped, when that key is given);
 * - a keyring the previous key opens is rotated: every data key re-wrapped, then the check moved
 *   (in that order, so that a rotation killed halfway is resumed by the next start);
 * - otherwise MasterKeyMismatchError, naming fingerprints, never keys.
 */
export async function openSecretKeyring(
  models: Models,
  settings: MasterKeySettings,
  options: KeyringOptions = {},
): Promise<{ keyring: SecretKeyring; report: KeyringReport }> {
  const now = options.now ?? (() => new Date());
  const current = masterKeyFrom(settings.current);
  const given = settings.previous ? masterKeyFrom(settings.previous) : null;
  const previous = given && given.id !== current.id ? given : null;
  const keyring = new SecretKeyring(current, previous);
  let created = false;
  let record = await models.secretKeyring.findOne({ keyring: 'master' }).lean();
  if (!record) {
    // Data keys without a keyring (it was deleted, or the database restored in part): they say
    // which key they are under; a database that is not ours to claim is refused, not overwritten.
    const foreign = await models.userDataKeys
      .findOne({ master_key_id: { $nin: keyring.knownIds } })
      .comment(scatterGather('secrets:rewrap-data-keys'))
      .lean();
    if (foreign)
      throw new MasterKeyMismatchError(mismatch(current.id, foreign.master_key_id, previous));
    const at = now();
    try {
      await models.secretKeyring.create({
        keyring: 'master',
        ...checkFields(current),
        previous_master_key_id: null,
        created_at: at,
        updated_at: at,
      });
      created = true;
    } catch (error) {
      // Another process starting at the same moment created it: judge theirs like any other.
      if (!isDuplicateKey(error)) throw error;
    }
    record = await models.secretKeyring.findOne({ keyring: 'master' }).lean();
    if (!record) throw new Error('the secret keyring vanished while it was being created');
  }

  let rotatedFrom: string | null = null;
  let rewrapped = 0;
  if (record.master_key_id === current.id) {
    if (!checkOpens(current, record))
      throw new MasterKeyMismatchError(
        `the keyring check names master key ${current.id} but does not open with it: the database was altered`,
      );
  } else if (previous && record.master_key_id === previous.id && checkOpens(previous, record)) {
    rewrapped += await rewrapDataKeys(models, previous, current, options);
    await models.secretKeyring.updateOne(
      { keyring: 'master', master_key_id: previous.id },
      { $set: { ...checkFields(current), previous_master_key_id: previous.id, updated_at: now() } },
    );
    rotatedFrom = previous.id;
  } else {
    throw new MasterKeyMismatchError(mismatch(current.id, record.master_key_id, previous));
  }
  // Keys a process still on the previous master key wrapped while this one rotated.
  if (previous) rewrapped += await rewrapDataKeys(models, previous, current, options);
  const stranded = await models.userDataKeys
    .countDocuments({ master_key_id: { $nin: keyring.knownIds } })
    .comment(scatterGather('secrets:rewrap-data-keys'));
  return {
    keyring,
    report: { masterKeyId: current.id, created, rotatedFrom, rewrapped, stranded },
  };
}

/** A fresh random data key. */
export function newDataKey(): Buffer {
  return randomBytes(32);
}
