import { StepwiseError, type UserRecord } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { hashPassword, passwordMatches, verifyDecoy } from './passwords.js';

type PeopleModels = Pick<Models, 'users' | 'passwords'>;

export const wrongCredentials = () =>
  new StepwiseError('UNAUTHENTICATED', 'wrong username or password');

/**
 * The user whose username or email is `login` and whose password this is, or null. Every path
 * verifies one argon2 hash, so the answer's timing does not tell whether the user exists.
 */
export async function checkPassword(
  models: PeopleModels,
  login: string,
  password: string,
): Promise<UserRecord | null> {
  const user = await models.users
    .findOne(login.includes('@') ? { email: login } : { username: login })
    .lean();
  const stored = user ? await models.passwords.findOne({ user_id: user.user_id }).lean() : null;
  if (!user || !stored) {
    await verifyDecoy(password);
    return null;
  }
  return (await passwordMatches(stored.hash, password)) ? user : null;
}

/** Sets a new password after checking the current one. */
export async function changePassword(
  models: PeopleModels,
  user: UserRecord,
  currentPassword: string,
  newPassword: string,
  now = new Date(),
): Promise<void> {
  const stored = await models.passwords.findOne({ user_id: user.user_id }).lean();
  if (!stored || !(await passwordMatches(stored.hash, currentPassword)))
    throw new StepwiseError('FORBIDDEN', 'the current password is wrong', [
      { path: 'current_password', message: 'does not match' },
    ]);
  await models.passwords.updateOne(
    { user_id: user.user_id },
    { $set: { hash: await hashPassword(newPassword), changed_at: now } },
  );
}
