import type { Connection } from 'mongoose';
import { describe, expect, it } from 'vitest';
import { authEpochKey, errorEnvelopeSchema } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import { TEST_ADMIN_TOKEN, startTestGateway } from '../../../test/support/gateway.js';
import { monitoredDatabases } from '../../../test/support/tenant-world.js';

// Two gateways on the same stores, each with its own MongoDB connection so that the key reads each
// one sends can be counted where they leave the process (the driver's command events).
const db = await useTestDatabases('key_revocation');
const [first, second] = await Promise.all([monitoredDatabases(db), monitoredDatabases(db)]);
// A revoked key hammered from one address is what the failed-login limiter is for; here it would
// turn the 401s under test into 429s for every later request from loopback (auth-hardening tests it).
const settings = { authFailureLimit: { limit: 0, windowMs: 60_000 } };
const gatewayA = await startTestGateway(first.databases, { settings });
const gatewayB = await startTestGateway(second.databases, { settings });

/** Counts `find` commands on `access_keys` sent on `connection` from now on. */
function countKeyReads(connection: Connection): { readonly count: number } {
  const counter = { count: 0 };
  connection.getClient().on('commandStarted', (event) => {
    const command = event.command as Record<string, unknown>;
    if (event.commandName === 'find' && command['find'] === 'access_keys') counter.count++;
  });
  return counter;
}
const keyReadsA = countKeyReads(first.connection);
const keyReadsB = countKeyReads(second.connection);

let users = 0;
async function createUser() {
  users++;
  const response = await gatewayA.request('/v1/admin/users', {
    method: 'POST',
    token: TEST_ADMIN_TOKEN,
    json: { username: `keyuser${users}`, email: `keyuser${users}@example.com` },
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { user: { user_id: string }; key_id: string; api_key: string };
}

async function issueKey(token: string) {
  const response = await gatewayA.request('/v1/me/keys', { method: 'POST', token });
  expect(response.status).toBe(201);
  return (await response.json()) as { key_id: string; api_key: string };
}

async function status(gateway: typeof gatewayA, token: string): Promise<number> {
  const response = await gateway.request('/v1/me', { token });
  await response.arrayBuffer();
  return response.status;
}

/** Uses a key on both gateways until each has confirmed it under the user's epoch. */
async function warm(token: string) {
  for (let i = 0; i < 3; i++) {
    expect(await status(gatewayA, token)).toBe(200);
    expect(await status(gatewayB, token)).toBe(200);
  }
}

describe('API keys kept in memory under a revocation epoch, with two gateways', () => {
  it('a confirmed key costs no MongoDB read per request on either gateway', async () => {
    const user = await createUser();
    await warm(user.api_key);
    const before = { a: keyReadsA.count, b: keyReadsB.count };
    for (let i = 0; i < 20; i++) {
      expect(await status(gatewayA, user.api_key)).toBe(200);
      expect(await status(gatewayB, user.api_key)).toBe(200);
    }
    expect(keyReadsA.count - before.a).toBe(0);
    expect(keyReadsB.count - before.b).toBe(0);
    // The epoch lives in the user's hash tag, beside their rate-limit window and sessions.
    expect(authEpochKey(db.queuePrefix, user.user.user_id)).toContain(
      `:user:${user.user.user_id}}`,
    );
    expect(await db.redis.get(authEpochKey(db.queuePrefix, user.user.user_id))).toEqual(
      expect.any(String),
    );
  });

  it('a key revoked through one gateway is refused by the other on its next request', async () => {
    const user = await createUser();
    const spare = await issueKey(user.api_key);
    await warm(spare.api_key);
    await warm(user.api_key);

    const revoked = await gatewayA.request(`/v1/me/keys/${spare.key_id}`, {
      method: 'DELETE',
      token: user.api_key,
    });
    expect(revoked.status).toBe(204);
    const refused = await gatewayB.request('/v1/me', { token: spare.api_key });
    expect(refused.status).toBe(401);
    expect(errorEnvelopeSchema.parse(await refused.json()).error.code).toBe('UNAUTHENTICATED');
    expect(await status(gatewayA, spare.api_key)).toBe(401);
    // The user's other key is confirmed again once and then kept again.
    expect(await status(gatewayB, user.api_key)).toBe(200);
    const before = keyReadsB.count;
    expect(await status(gatewayB, user.api_key)).toBe(200);
    expect(keyReadsB.count - before).toBe(0);
  });

  it('no request sent after the revocation was answered is accepted, under load on the other gateway', async () => {
    const user = await createUser();
    const spare = await issueKey(user.api_key);
    await warm(spare.api_key);

    let answered = false;
    const acceptedAfter: number[] = [];
    let stop = false;
    const hammer = async () => {
      while (!stop) {
        const sentAfterAnswer = answered;
        const code = await status(gatewayB, spare.api_key);
        if (sentAfterAnswer && code !== 401) acceptedAfter.push(code);
      }
    };
    const load = Promise.all([hammer(), hammer(), hammer(), hammer()]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const revoked = await gatewayA.request(`/v1/me/keys/${spare.key_id}`, {
      method: 'DELETE',
      token: user.api_key,
    });
    expect(revoked.status).toBe(204);
    answered = true;
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await load;
    expect(acceptedAfter).toEqual([]);
  });

  it('an epoch lost from Redis sends keys back to MongoDB, and revocation still works after', async () => {
    const user = await createUser();
    const spare = await issueKey(user.api_key);
    await warm(spare.api_key);
    await db.redis.del(authEpochKey(db.queuePrefix, user.user.user_id));

    const before = keyReadsB.count;
    expect(await status(gatewayB, spare.api_key)).toBe(200);
    expect(keyReadsB.count - before).toBe(1);
    // The read above set a new epoch; the key is kept under it again.
    expect(await status(gatewayB, spare.api_key)).toBe(200);
    expect(keyReadsB.count - before).toBe(1);

    const revoked = await gatewayA.request(`/v1/me/keys/${spare.key_id}`, {
      method: 'DELETE',
      token: user.api_key,
    });
    expect(revoked.status).toBe(204);
    expect(await status(gatewayB, spare.api_key)).toBe(401);
    expect(await status(gatewayA, spare.api_key)).toBe(401);
  });

  it('a kept key whose record is gone is refused, and remembered as refused', async () => {
    const user = await createUser();
    const spare = await issueKey(user.api_key);
    await warm(spare.api_key);
    // Gone from MongoDB (as the key of a user whose creation failed goes): the next confirmation,
    // here forced by a lost epoch, finds nothing.
    await db.models.accessKeys.deleteOne({ key_id: spare.key_id });
    await db.redis.del(authEpochKey(db.queuePrefix, user.user.user_id));
    const before = keyReadsB.count;
    expect(await status(gatewayB, spare.api_key)).toBe(401);
    expect(keyReadsB.count - before).toBe(1);
    // Refused from memory from then on: a deleted key never comes back.
    for (let i = 0; i < 5; i++) expect(await status(gatewayB, spare.api_key)).toBe(401);
    expect(keyReadsB.count - before).toBe(1);
    expect(await status(gatewayB, user.api_key)).toBe(200);
  });

  it("revoking one user's key leaves another user's kept keys alone", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const aliceSpare = await issueKey(alice.api_key);
    await warm(bob.api_key);
    const revoked = await gatewayA.request(`/v1/me/keys/${aliceSpare.key_id}`, {
      method: 'DELETE',
      token: alice.api_key,
    });
    expect(revoked.status).toBe(204);
    const before = keyReadsB.count;
    expect(await status(gatewayB, bob.api_key)).toBe(200);
    expect(keyReadsB.count - before).toBe(0);
    // Bob cannot revoke Alice's key, and his attempt replaces no epoch of hers.
    const epochBefore = await db.redis.get(authEpochKey(db.queuePrefix, alice.user.user_id));
    const attempt = await gatewayA.request(`/v1/me/keys/${alice.key_id}`, {
      method: 'DELETE',
      token: bob.api_key,
    });
    expect(attempt.status).toBe(404);
    expect(await db.redis.get(authEpochKey(db.queuePrefix, alice.user.user_id))).toBe(epochBefore);
    expect(await status(gatewayB, alice.api_key)).toBe(200);
  });
});
