import { describe, expect, it } from 'vitest';
import { newId, sessionKey, userSessionsKey } from '@stepwise/shared';
import { keysMatching, useTestDatabases } from '../../../test/support/databases.js';
import { SessionStore } from '../src/people/sessions.js';

/**
 * Sessions live under their user's Redis hash tag (docs/scaling.md), so the cookie's secret names
 * its user. The name only says where to look: a session is found by the hash of the whole
 * secret, and only for the user it belongs to; anything malformed finds nothing (never a 500).
 */
const db = await useTestDatabases('session_store');
const store = new SessionStore(db.redis, db.queuePrefix, { idleMs: 60_000, maxMs: 3_600_000 });

describe('the session store on its users’ hash tags', () => {
  it('keeps a session and its user’s set under the user, and finds it by the whole secret', async () => {
    const userId = newId('user');
    const { secret, session } = await store.create(userId);
    expect(secret.startsWith(`${userId}.`)).toBe(true);
    expect(await store.find(secret)).toMatchObject({
      session_id: session.session_id,
      user_id: userId,
    });

    const keys = await keysMatching(db.redis, `*${userId}*`);
    expect(keys).toHaveLength(2);
    expect(keys).toContain(userSessionsKey(db.queuePrefix, userId));
    expect(
      keys.filter((key) => key.startsWith(sessionKey(db.queuePrefix, userId, ''))),
    ).toHaveLength(1);
  });

  it('finds nothing for another user’s name on a secret, nor for malformed or older cookies', async () => {
    const alice = newId('user');
    const bob = newId('user');
    const { secret } = await store.create(alice);
    const random = secret.slice(secret.indexOf('.') + 1);
    for (const forged of [
      `${bob}.${random}`,
      random,
      `.${random}`,
      `${alice}.`,
      `not-a-user.${random}`,
      `${alice}.${random}x`,
      '',
    ])
      expect(await store.find(forged), forged).toBeNull();
    expect(await store.find(secret)).toMatchObject({ user_id: alice });
  });

  it('ends every session of a user but the one kept, in one slot', async () => {
    const userId = newId('user');
    const kept = await store.create(userId);
    const others = [await store.create(userId), await store.create(userId)];
    await store.endAllOf(userId, kept.secret);
    expect(await store.find(kept.secret)).not.toBeNull();
    for (const other of others) expect(await store.find(other.secret)).toBeNull();
    await store.end(kept.secret, userId);
    expect(await store.find(kept.secret)).toBeNull();
    expect(await keysMatching(db.redis, `*${userId}*`)).toEqual([]);
  });
});
