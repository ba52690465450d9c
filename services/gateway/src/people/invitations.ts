import { createHash, randomBytes } from 'node:crypto';
import { NotFoundError, StepwiseError, newId, type UserRecord } from '@stepwise/shared';
import type { InvitationRecord, Models } from '@stepwise/shared/node';
import { hashPassword } from './passwords.js';

type PeopleModels = Pick<Models, 'users' | 'invitations' | 'passwords'>;

export interface InvitationSettings {
  /** Where people reach the app; without it no link is made (people.md). */
  publicUrl: string | undefined;
  ttlMs: number;
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The page of the web app that takes an invitation; the token rides in the fragment. */
export function invitationUrl(publicUrl: string, token: string): string {
  return `${publicUrl}/app/invitation#token=${token}`;
}

/**
 * A new one-time invitation for the user. Earlier unused invitations of the user stop working:
 * only the newest link a person was sent opens.
 */
export async function createInvitation(
  models: PeopleModels,
  settings: InvitationSettings,
  userId: string,
  now = new Date(),
): Promise<{ invitation_id: string; url: string; expires_at: string }> {
  if (!settings.publicUrl)
    throw new StepwiseError(
      'NOT_CONFIGURED',
      'set PUBLIC_URL (the address people reach this server at) so that invitation links can be made',
    );
  if (!(await models.users.exists({ user_id: userId }))) throw new NotFoundError('user', userId);
  const token = randomBytes(32).toString('base64url');
  const record: InvitationRecord = {
    invitation_id: newId('invitation'),
    user_id: userId,
    token_hash: tokenHash(token),
    created_at: now,
    expires_at: new Date(now.getTime() + settings.ttlMs),
    used_at: null,
  };
  await models.invitations.updateMany(
    { user_id: userId, used_at: null, expires_at: { $gt: now } },
    { $set: { expires_at: now } },
  );
  await models.invitations.create(record);
  return {
    invitation_id: record.invitation_id,
    url: invitationUrl(settings.publicUrl, token),
    expires_at: record.expires_at.toISOString(),
  };
}

export const invitationRefused = () =>
  new StepwiseError(
    'INVITATION_INVALID',
    'this invitation link is unknown, already used or expired; ask for a new one',
  );

/**
 * Takes the invitation (once: a conditional update, so two tabs racing cannot both use it) and
 * sets the person's password. Answers the user, or throws INVITATION_INVALID.
 */
export async function acceptInvitation(
  models: PeopleModels,
  token: string,
  password: string,
  now = new Date(),
): Promise<UserRecord> {
  // Hashed before the invitation is taken, so a slow hash cannot leave it used without a password.
  const hash = await hashPassword(password);
  const taken = await models.invitations
    .findOneAndUpdate(
      { token_hash: tokenHash(token), used_at: null, expires_at: { $gt: now } },
      { $set: { used_at: now } },
      { returnDocument: 'after' },
    )
    .lean();
  if (!taken) throw invitationRefused();
  await models.passwords.updateOne(
    { user_id: taken.user_id },
    { $set: { hash, changed_at: now }, $setOnInsert: { user_id: taken.user_id } },
    { upsert: true },
  );
  const user = await models.users.findOne({ user_id: taken.user_id }).lean();
  if (!user) throw invitationRefused();
  return user;
}
