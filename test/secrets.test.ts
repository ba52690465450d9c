import { describe, expect, it } from 'vitest';
import { mongo } from 'mongoose';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway } from './support/gateway.js';
import { snapshotDatabase } from './support/snapshots.js';

/**
 * Per-user secrets over the API (docs/secrets.md): write-only values, names only in answers,
 * each user's own, refused input changing nothing, and no value in plaintext anywhere in the
 * database (GridFS included) outside its sealed field.
 */

const db = await useTestDatabases('secrets');
const gateway = await startTestGateway(db);
const alice = await createTestUser(gateway, 'alice');
const bob = await createTestUser(gateway, 'bob');

const aliceValue = 'sk-alice-9f8e7d6c5b4a-plaintext-never-stored';
const bobValue = 'sk-bob-0a1b2c3d4e5f-plaintext-never-stored';

const put = (token: string, name: string, body: unknown) =>
  gateway.request(`/v1/me/secrets/${name}`, { method: 'PUT', token, json: body });

/** Every document of every collection as BSON bytes (GridFS chunks' binary data included). */
async function databaseBytes(): Promise<Buffer> {
  const dump = await snapshotDatabase(db.mongo);
  return Buffer.concat(
    Object.values(dump)
      .flat()
      .map((document) => Buffer.from(mongo.BSON.serialize(document as mongo.Document))),
  );
}

describe('secrets API', () => {
  it('stores a secret (201), replaces it (200) and answers names and times, never the value', async () => {
    const created = await put(alice.api_key, 'OPENAI_KEY', { value: 'first-value-of-alice' });
    expect(created.status).toBe(201);
    const first = (await created.json()) as Record<string, unknown>;
    expect(Object.keys(first).sort()).toEqual(['created_at', 'name', 'updated_at']);
    expect(first['name']).toBe('OPENAI_KEY');

    const replaced = await put(alice.api_key, 'OPENAI_KEY', { value: aliceValue });
    expect(replaced.status).toBe(200);
    const second = (await replaced.json()) as Record<string, unknown>;
    expect(second['created_at']).toBe(first['created_at']);
    expect(JSON.stringify(second)).not.toContain(aliceValue);

    expect((await put(bob.api_key, 'OPENAI_KEY', { value: bobValue })).status).toBe(201);
    expect((await put(alice.api_key, 'ANTHROPIC_KEY', { value: `${aliceValue}-2` })).status).toBe(
      201,
    );

    const list = await gateway.request('/v1/me/secrets', { token: alice.api_key });
    expect(list.status).toBe(200);
    const text = await list.text();
    expect(text).not.toContain(aliceValue);
    const body = JSON.parse(text) as { items: Record<string, unknown>[] };
    expect(body.items.map((item) => item['name'])).toEqual(['ANTHROPIC_KEY', 'OPENAI_KEY']);
    for (const item of body.items)
      expect(Object.keys(item).sort()).toEqual(['created_at', 'name', 'updated_at']);

    const bobs = (await (
      await gateway.request('/v1/me/secrets', { token: bob.api_key })
    ).json()) as { items: { name: string }[] };
    expect(bobs.items.map((item) => item.name)).toEqual(['OPENAI_KEY']);
  });

  it('keeps no value in plaintext anywhere in the database, GridFS included', async () => {
    const bytes = await databaseBytes();
    for (const value of [aliceValue, bobValue, `${aliceValue}-2`, 'first-value-of-alice']) {
      expect(bytes.includes(Buffer.from(value, 'utf8'))).toBe(false);
      expect(bytes.includes(Buffer.from(Buffer.from(value).toString('base64')))).toBe(false);
    }
    // Sealed: one data key per user, wrapped under the master key's fingerprint, never the key.
    const keys = await db.models.userDataKeys.find().lean();
    expect(keys.map((key) => key.user_id).sort()).toEqual(
      [alice.user.user_id, bob.user.user_id].sort(),
    );
    expect(new Set(keys.map((key) => key.master_key_id)).size).toBe(1);
    expect(keys[0]?.master_key_id).toMatch(/^mk_[0-9a-f]{16}$/);
  });

  it('refuses bad names and values with 400, changing nothing', async () => {
    const before = await snapshotDatabase(db.mongo);
    const refused: [string, unknown][] = [
      ['openai_key', { value: 'x-value' }], // a template-style name is not a secret's
      ['my-key', { value: 'x-value' }],
      ['1KEY', { value: 'x-value' }],
      [`K${'A'.repeat(64)}`, { value: 'x-value' }],
      ['OPENAI_KEY', { value: '' }],
      ['OPENAI_KEY', { value: 'x'.repeat(16 * 1024 + 1) }],
      ['OPENAI_KEY', {}],
      ['OPENAI_KEY', { value: 'x-value', extra: true }],
      ['OPENAI_KEY', { value: 42 }],
    ];
    for (const [name, body] of refused) {
      const response = await put(alice.api_key, encodeURIComponent(name), body);
      expect(response.status, `${name} ${JSON.stringify(body).slice(0, 60)}`).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'BAD_REQUEST',
      );
    }
    const badDelete = await gateway.request('/v1/me/secrets/openai_key', {
      method: 'DELETE',
      token: alice.api_key,
    });
    expect(badDelete.status).toBe(400);
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });

  it("deletes one's own secret (204), 404 after, and another user's name is 404 with no change", async () => {
    const before = await snapshotDatabase(db.mongo);
    // Bob has no ANTHROPIC_KEY; alice has: bob's delete must not reach hers.
    const bobDeletes = await gateway.request('/v1/me/secrets/ANTHROPIC_KEY', {
      method: 'DELETE',
      token: bob.api_key,
    });
    expect(bobDeletes.status).toBe(404);
    expect(await snapshotDatabase(db.mongo)).toEqual(before);

    const deleted = await gateway.request('/v1/me/secrets/ANTHROPIC_KEY', {
      method: 'DELETE',
      token: alice.api_key,
    });
    expect(deleted.status).toBe(204);
    const again = await gateway.request('/v1/me/secrets/ANTHROPIC_KEY', {
      method: 'DELETE',
      token: alice.api_key,
    });
    expect(again.status).toBe(404);
    const names = (await (
      await gateway.request('/v1/me/secrets', { token: alice.api_key })
    ).json()) as { items: { name: string }[] };
    expect(names.items.map((item) => item.name)).toEqual(['OPENAI_KEY']);
  });

  it('needs a user: no key is 401, the admin token is refused', async () => {
    expect((await gateway.request('/v1/me/secrets')).status).toBe(401);
    expect((await put('sk_not_a_key_at_all', 'OPENAI_KEY', { value: 'v-value' })).status).toBe(401);
  });
});

describe('LLM price table', () => {
  it('is empty until set, replaced whole by PUT, and per user', async () => {
    const empty = await gateway.request('/v1/me/llm-prices', { token: alice.api_key });
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual({ prices: {}, updated_at: null });

    const prices = {
      'claude-3.5-sonnet': { input_per_1k_tokens: 0.003, output_per_1k_tokens: 0.015 },
      'gpt-4o-mini': { input_per_1k_tokens: 0.00015, output_per_1k_tokens: 0.0006 },
    };
    const set = await gateway.request('/v1/me/llm-prices', {
      method: 'PUT',
      token: alice.api_key,
      json: { prices },
    });
    expect(set.status).toBe(200);
    const stored = (await set.json()) as { prices: unknown; updated_at: string };
    expect(stored.prices).toEqual(prices);
    expect(stored.updated_at).toMatch(/^\d{4}-/);

    const bobs = await gateway.request('/v1/me/llm-prices', { token: bob.api_key });
    expect(((await bobs.json()) as { prices: unknown }).prices).toEqual({});

    const replaced = await gateway.request('/v1/me/llm-prices', {
      method: 'PUT',
      token: alice.api_key,
      json: { prices: { 'gpt-4o': { input_per_1k_tokens: 0.0025, output_per_1k_tokens: 0.01 } } },
    });
    expect(Object.keys(((await replaced.json()) as { prices: object }).prices)).toEqual(['gpt-4o']);
  });

  it('refuses a bad table with 400, changing nothing', async () => {
    const before = await snapshotDatabase(db.mongo);
    for (const body of [
      { prices: { 'gpt-4o': { input_per_1k_tokens: -1, output_per_1k_tokens: 0 } } },
      { prices: { 'gpt-4o': { input_per_1k_tokens: 1 } } },
      { prices: { '': { input_per_1k_tokens: 1, output_per_1k_tokens: 1 } } },
      { prices: [] },
      {},
    ]) {
      const response = await gateway.request('/v1/me/llm-prices', {
        method: 'PUT',
        token: alice.api_key,
        json: body,
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });
});

describe('without SECRETS_MASTER_KEY', () => {
  it('answers NOT_CONFIGURED (naming SECRETS_MASTER_KEY) and stores nothing', async () => {
    const plain = await startTestGateway(db, { secrets: null });
    const before = await snapshotDatabase(db.mongo);
    for (const response of [
      await plain.request('/v1/me/secrets/NEW_KEY', {
        method: 'PUT',
        token: alice.api_key,
        json: { value: 'would-be-stored' },
      }),
      await plain.request('/v1/me/secrets', { token: alice.api_key }),
      await plain.request('/v1/me/secrets/OPENAI_KEY', { method: 'DELETE', token: alice.api_key }),
    ]) {
      expect(response.status).toBe(501);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('NOT_CONFIGURED');
      expect(body.error.message).toContain('SECRETS_MASTER_KEY');
    }
    expect(await snapshotDatabase(db.mongo)).toEqual(before);
  });
});
