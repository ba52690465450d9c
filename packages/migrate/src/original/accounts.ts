import { sha256Hex } from '@stepwise/shared/node';
import type { mongo } from 'mongoose';
import { derivedId, derivedObjectId } from '../deterministic.js';
import type { OriginalAccessKey, OriginalGeneration, OriginalUser } from './source-records.js';
import { insertOnce } from './target-writes.js';
import { dateOf } from './dates.js';

/**
 * Users and their keys (docs/migration-original.md, "Users and keys"). The multi-user generation's
 * users are kept with their ids; the single-user generation gets one default user. Keys keep their
 * ids and work as before, but only their sha256 is stored: the original kept them in plaintext.
 */

export interface AccountReport {
  users: number;
  access_keys: number;
  revoked_keys: number;
  /** Users the original had switched off: kept, with every key revoked. */
  inactive_users: string[];
  /** Original admins: Stepwise has no admin role on users (its operators hold the admin token). */
  admins: string[];
  /** Users whose password (bcrypt) cannot carry over: they set one through an invitation. */
  users_with_passwords: number;
  /** Usernames already taken in the target by another user: migrated under a new name. */
  renamed: { user_id: string; from: string; to: string }[];
  /**
   * Users whose email another user already has (in the target, or an earlier original user with
   * the same email in another case): given `<user_id>@original.invalid`, to set anew.
   */
  emails_replaced: string[];
}

export interface MigratedAccounts {
  report: AccountReport;
  /** The owner of everything in a single-user database. */
  defaultUserId: string | null;
  userIds: ReadonlySet<string>;
}

const EPOCH = new Date(0);

export async function migrateAccounts(
  source: mongo.Db,
  target: mongo.Db,
  generation: OriginalGeneration,
  defaultUsername: string,
  earliest: Date,
): Promise<MigratedAccounts> {
  const report: AccountReport = {
    users: 0,
    access_keys: 0,
    revoked_keys: 0,
    inactive_users: [],
    admins: [],
    users_with_passwords: 0,
    renamed: [],
    emails_replaced: [],
  };
  const users = target.collection('users');
  if (generation === 'single-user') {
    const userId = derivedId('usr', 'original-default-user', defaultUsername);
    const existing = await users.findOne({ username: defaultUsername });
    const id = (existing?.['user_id'] as string | undefined) ?? userId;
    if (!existing) {
      await insertOnce(users, [
        {
          _id: derivedObjectId('original-user', defaultUsername),
          user_id: id,
          username: defaultUsername,
          email: `${defaultUsername}@localhost`,
          created_at: earliest,
          updated_at: earliest,
        },
      ]);
    }
    report.users = 1;
    return { report, defaultUserId: id, userIds: new Set([id]) };
  }

  const originals = (await source
    .collection('users')
    .find()
    .sort({ user_id: 1 })
    .toArray()) as unknown as OriginalUser[];
  const taken = new Map(
    (
      await users
        .find(
          { username: { $in: originals.map((user) => user.username) } },
          { projection: { user_id: 1, username: 1 } },
        )
        .toArray()
    ).map((user) => [String(user['username']), String(user['user_id'])]),
  );
  const emailOf = (user: OriginalUser) =>
    typeof user.email === 'string' && user.email !== '' ? user.email.toLowerCase() : null;
  const emailHolders = new Map(
    (
      await users
        .find(
          { email: { $in: originals.map(emailOf).filter((email) => email !== null) } },
          { projection: { user_id: 1, email: 1 } },
        )
        .toArray()
    ).map((user) => [String(user['email']), String(user['user_id'])]),
  );
  // Two original users whose emails differ only in case: the first keeps it.
  const emailsGiven = new Set<string>();
  const documents = originals.map((user) => {
    const holder = taken.get(user.username);
    const username =
      holder !== undefined && holder !== user.user_id ? `${user.username}_original` : user.username;
    if (username !== user.username)
      report.renamed.push({ user_id: user.user_id, from: user.username, to: username });
    if (user.is_active === false) report.inactive_users.push(user.user_id);
    const wanted = emailOf(user);
    const emailHolder = wanted === null ? undefined : emailHolders.get(wanted);
    const email =
      wanted !== null &&
      !emailsGiven.has(wanted) &&
      (emailHolder === undefined || emailHolder === user.user_id)
        ? wanted
        : `${user.user_id}@original.invalid`;
    if (wanted !== null && email !== wanted) report.emails_replaced.push(user.user_id);
    emailsGiven.add(email);
    if (user.role === 'admin') report.admins.push(user.user_id);
    if (user.password_hash) report.users_with_passwords++;
    const created = dateOf(user.created_at) ?? EPOCH;
    return {
      _id: derivedObjectId('original-user', user.user_id),
      user_id: user.user_id,
      username,
      // Stepwise needs an email; an original user without one gets a name that cannot receive mail.
      email,
      created_at: created,
      updated_at: dateOf(user.updated_at) ?? created,
    };
  });
  await insertOnce(users, documents);
  report.users = documents.length;

  const inactive = new Set(report.inactive_users);
  const keys = (await source
    .collection('access_keys')
    .find()
    .sort({ access_key_id: 1 })
    .toArray()) as unknown as OriginalAccessKey[];
  const keyDocuments = keys
    .filter((key) => typeof key.access_key === 'string' && key.access_key !== '')
    .map((key) => {
      const created = dateOf(key.created_at) ?? EPOCH;
      const lastUsed = dateOf(key.last_used_at);
      const revoked =
        dateOf(key.revoked_at) ??
        (key.is_active === false || inactive.has(key.user_id) ? (lastUsed ?? created) : null);
      if (revoked) report.revoked_keys++;
      return {
        _id: derivedObjectId('original-key', key.access_key_id),
        key_id: key.access_key_id,
        user_id: key.user_id,
        key_hash: sha256Hex(key.access_key),
        prefix: key.access_key.slice(0, 10),
        created_at: created,
        last_used_at: lastUsed,
        revoked_at: revoked,
      };
    });
  await insertOnce(target.collection('access_keys'), keyDocuments);
  report.access_keys = keyDocuments.length;
  return {
    report,
    defaultUserId: null,
    userIds: new Set(originals.map((user) => user.user_id)),
  };
}
