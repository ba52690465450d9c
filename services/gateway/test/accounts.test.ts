import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorEnvelopeSchema } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import { TEST_ADMIN_TOKEN, startTestGateway } from '../../../test/support/gateway.js';
import { snapshotDatabase as snapshotOf } from '../../../test/support/snapshots.js';

const db = await useTestDatabases('accounts');
const gateway = await startTestGateway(db);

let counter = 0;
async function createUser(overrides: Record<string, unknown> = {}) {
  counter++;
  const response = await gateway.request('/v1/admin/users', {
    method: 'POST',
    token: TEST_ADMIN_TOKEN,
    json: { username: `user${counter}`, email: `user${counter}@example.com`, ...overrides },
  });
  expect(response.status).toBe(201);
  return (await response.json()) as {
    user: { user_id: string; username: string; email: string };
    key_id: string;
    api_key: string;
  };
}

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = errorEnvelopeSchema.parse(await response.json());
  expect(body.error.code).toBe(code);
  return body;
}

const snapshotDatabase = () => snapshotOf(db.mongo);

describe('users and keys over HTTP', () => {
  it('admin creates a user and receives a key once; the key works', async () => {
    const created = await createUser({ email: 'Ada@Example.com' });
    expect(created.api_key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(created.key_id).toMatch(/^key_/);
    expect(created.user).toMatchObject({ email: 'ada@example.com' });
    const me = await gateway.request('/v1/me', { token: created.api_key });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({
      user: expect.objectContaining({ user_id: created.user.user_id }),
    });
  });

  it('stores only the sha256 of a key, never the secret', async () => {
    const created = await createUser();
    const stored = await db.models.accessKeys.findOne({ key_id: created.key_id }).lean();
    expect(stored?.key_hash).toBe(createHash('sha256').update(created.api_key).digest('hex'));
    const everything = JSON.stringify(await snapshotDatabase());
    expect(everything).not.toContain(created.api_key);
    const listed = await gateway.request('/v1/me/keys', { token: created.api_key });
    expect(JSON.stringify(await listed.json())).not.toContain(created.api_key);
  });

  it('answers 401 without a key, with an unknown key, and with a malformed header', async () => {
    await expectError(await gateway.request('/v1/me'), 401, 'UNAUTHENTICATED');
    await expectError(
      await gateway.request('/v1/me', { token: 'sk_unknown' }),
      401,
      'UNAUTHENTICATED',
    );
    const basic = await gateway.request('/v1/me', {
      headers: { authorization: 'Basic Zm9vOmJhcg==' },
    });
    await expectError(basic, 401, 'UNAUTHENTICATED');
    expect(basic.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 403 to a user key on an admin route and 401 to a wrong admin token', async () => {
    const created = await createUser();
    const before = await snapshotDatabase();
    const asUser = await gateway.request('/v1/admin/users', {
      method: 'POST',
      token: created.api_key,
      json: { username: 'sneaky', email: 'sneaky@example.com' },
    });
    await expectError(asUser, 403, 'FORBIDDEN');
    const wrongAdmin = await gateway.request('/v1/admin/users', {
      method: 'POST',
      token: `${TEST_ADMIN_TOKEN}x`,
      json: { username: 'sneaky', email: 'sneaky@example.com' },
    });
    await expectError(wrongAdmin, 401, 'UNAUTHENTICATED');
    expect(await snapshotDatabase()).toEqual(before);
  });

  it('does not accept the admin token as a user key', async () => {
    await expectError(
      await gateway.request('/v1/me', { token: TEST_ADMIN_TOKEN }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('revocation takes effect at once, and only for that key', async () => {
    const created = await createUser();
    const second = await gateway.request('/v1/me/keys', { method: 'POST', token: created.api_key });
    expect(second.status).toBe(201);
    const { key_id, api_key } = (await second.json()) as { key_id: string; api_key: string };
    expect((await gateway.request('/v1/me', { token: api_key })).status).toBe(200);

    const revoked = await gateway.request(`/v1/me/keys/${key_id}`, {
      method: 'DELETE',
      token: created.api_key,
    });
    expect(revoked.status).toBe(204);
    expect(await revoked.text()).toBe('');
    await expectError(await gateway.request('/v1/me', { token: api_key }), 401, 'UNAUTHENTICATED');
    expect((await gateway.request('/v1/me', { token: created.api_key })).status).toBe(200);

    const keys = (await (
      await gateway.request('/v1/me/keys', { token: created.api_key })
    ).json()) as {
      items: { key_id: string; revoked_at: string | null }[];
    };
    expect(keys.items.find((k) => k.key_id === key_id)?.revoked_at).toEqual(expect.any(String));
    expect(keys.items.find((k) => k.key_id === created.key_id)?.revoked_at).toBeNull();

    // Revoking again is harmless; a user may revoke the key they are using.
    expect(
      (await gateway.request(`/v1/me/keys/${key_id}`, { method: 'DELETE', token: created.api_key }))
        .status,
    ).toBe(204);
    expect(
      (
        await gateway.request(`/v1/me/keys/${created.key_id}`, {
          method: 'DELETE',
          token: created.api_key,
        })
      ).status,
    ).toBe(204);
    await expectError(
      await gateway.request('/v1/me', { token: created.api_key }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it("answers 404 for another user's key and changes nothing", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const before = await snapshotDatabase();
    const attempt = await gateway.request(`/v1/me/keys/${alice.key_id}`, {
      method: 'DELETE',
      token: bob.api_key,
    });
    await expectError(attempt, 404, 'NOT_FOUND');
    expect(await snapshotDatabase()).toEqual(before);
    expect((await gateway.request('/v1/me', { token: alice.api_key })).status).toBe(200);
  });

  it('refuses a taken username or email with 409 and leaves no stray key', async () => {
    const created = await createUser();
    const before = await snapshotDatabase();
    for (const body of [
      { username: created.user.username, email: 'fresh@example.com' },
      { username: 'fresh', email: created.user.email.toUpperCase() },
    ]) {
      const response = await gateway.request('/v1/admin/users', {
        method: 'POST',
        token: TEST_ADMIN_TOKEN,
        json: body,
      });
      await expectError(response, 409, 'CONFLICT');
    }
    expect(await snapshotDatabase()).toEqual(before);
  });

  it('creates exactly one user when the same username races', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        gateway.request('/v1/admin/users', {
          method: 'POST',
          token: TEST_ADMIN_TOKEN,
          json: { username: 'racer', email: `racer${i}@example.com` },
        }),
      ),
    );
    expect(attempts.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect(await db.models.users.countDocuments({ username: 'racer' })).toBe(1);
    const winner = await db.models.users.findOne({ username: 'racer' }).lean();
    expect(await db.models.accessKeys.countDocuments({ user_id: winner?.user_id })).toBe(1);
  });

  it('refuses bad bodies with 400 naming the field, and writes nothing', async () => {
    const before = await snapshotDatabase();
    const cases: unknown[] = [
      { username: 'ok' },
      { username: 'Has Spaces', email: 'a@example.com' },
      { username: 'ok2', email: 'not-an-email' },
      // RFC 5321: at most 64 characters before the @.
      { username: 'ok5', email: `${'a'.repeat(65)}@example.com` },
      { username: 'ok3', email: 'a3@example.com', role: 'admin' },
      { username: 42, email: 'a4@example.com' },
      ['username'],
      'text',
    ];
    for (const json of cases) {
      const response = await gateway.request('/v1/admin/users', {
        method: 'POST',
        token: TEST_ADMIN_TOKEN,
        json,
      });
      const body = await expectError(response, 400, 'BAD_REQUEST');
      expect(Array.isArray(body.error.details)).toBe(true);
    }
    const unknownField = await gateway.request('/v1/admin/users', {
      method: 'POST',
      token: TEST_ADMIN_TOKEN,
      json: { username: 'ok3', email: 'a3@example.com', role: 'admin' },
    });
    const body = await expectError(unknownField, 400, 'BAD_REQUEST');
    expect(body.error.message).toContain('role');
    expect(await snapshotDatabase()).toEqual(before);
  });

  it('refuses a malformed key id with 400 and a body on a bodiless route', async () => {
    const created = await createUser();
    await expectError(
      await gateway.request('/v1/me/keys/not-a-key', { method: 'DELETE', token: created.api_key }),
      400,
      'BAD_REQUEST',
    );
    await expectError(
      await gateway.request('/v1/me/keys', {
        method: 'POST',
        token: created.api_key,
        json: { name: 'x' },
      }),
      400,
      'BAD_REQUEST',
    );
  });
});
