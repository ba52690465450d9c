import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@stepwise/shared/node';
import { useTestDatabases } from '../../../test/support/databases.js';
import { logRecord, startServiceProcess } from '../../../test/support/processes.js';

const db = await useTestDatabases('log_secrets');
const adminToken = `admin-${randomBytes(24).toString('base64url')}`;
const masterKey = randomBytes(32).toString('base64');

/**
 * Every window of `length` characters of a secret: finding any of them in the output means part
 * of the secret was written, even if cut short, and not only when it was written whole.
 */
function fragments(secret: string, length = 16): string[] {
  if (secret.length <= length) return [secret];
  return Array.from({ length: secret.length - length + 1 }, (_, i) => secret.slice(i, i + length));
}

describe('the gateway at LOG_LEVEL=debug', () => {
  it('writes no API key, admin token, stored secret, master key, Basic credential or Authorization value to its log', async () => {
    const gateway = startServiceProcess('gateway', {
      MONGO_URL: db.mongoUrl,
      REDIS_URL: db.redisUrl,
      QUEUE_PREFIX: db.queuePrefix,
      ADMIN_TOKEN: adminToken,
      SECRETS_MASTER_KEY: masterKey,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'debug',
    });
    const listening = logRecord(
      await gateway.waitForLine((line) => line.includes('gateway listening')),
    );
    const base = `http://127.0.0.1:${Number(listening?.['port'])}`;

    const authorizations: string[] = [];
    const requestIds: string[] = [];
    const call = async (
      path: string,
      init: { method?: string; authorization?: string; json?: unknown } = {},
    ) => {
      const headers: Record<string, string> = {};
      if (init.authorization !== undefined) {
        headers['authorization'] = init.authorization;
        authorizations.push(init.authorization);
      }
      if (init.json !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${base}${path}`, {
        method: init.method ?? 'GET',
        headers,
        ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
      });
      requestIds.push(response.headers.get('x-request-id') ?? '');
      return response;
    };
    const bearer = (token: string) => `Bearer ${token}`;
    const basic = (user: string, password: string) =>
      `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

    // A user is created; the answer carries the new key.
    const created = await call('/v1/admin/users', {
      method: 'POST',
      authorization: bearer(adminToken),
      json: { username: 'logged', email: 'logged@example.com' },
    });
    expect(created.status).toBe(201);
    const { api_key: apiKey, user } = (await created.json()) as {
      api_key: string;
      user: { user_id: string };
    };

    // Authenticated calls, a second key issued, and that key revoked and tried again.
    expect((await call('/v1/me', { authorization: bearer(apiKey) })).status).toBe(200);
    const issued = await call('/v1/me/keys', { method: 'POST', authorization: bearer(apiKey) });
    expect(issued.status).toBe(201);
    const second = (await issued.json()) as { key_id: string; api_key: string };
    expect((await call('/v1/me/keys', { authorization: bearer(apiKey) })).status).toBe(200);
    expect(
      (
        await call(`/v1/me/keys/${second.key_id}`, {
          method: 'DELETE',
          authorization: bearer(apiKey),
        })
      ).status,
    ).toBe(204);
    expect((await call('/v1/me', { authorization: bearer(second.api_key) })).status).toBe(401);

    // A provider key stored, replaced, listed, refused in a malformed body, and deleted.
    const providerKeys = [0, 1].map(() => `sk-provider-${randomBytes(24).toString('base64url')}`);
    for (const [index, value] of providerKeys.entries())
      expect(
        (
          await call('/v1/me/secrets/OPENAI_KEY', {
            method: 'PUT',
            authorization: bearer(apiKey),
            json: { value },
          })
        ).status,
      ).toBe(index === 0 ? 201 : 200);
    expect((await call('/v1/me/secrets', { authorization: bearer(apiKey) })).status).toBe(200);
    expect(
      (
        await call('/v1/me/secrets/not-a-name', {
          method: 'PUT',
          authorization: bearer(apiKey),
          json: { value: providerKeys[0], extra: providerKeys[1] },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call('/v1/me/secrets/OPENAI_KEY', {
          method: 'DELETE',
          authorization: bearer(apiKey),
        })
      ).status,
    ).toBe(204);

    // Failed authentications of every kind.
    const wrongKeys = [0, 1, 2].map(() => `sk_${randomBytes(32).toString('base64url')}`);
    for (const wrong of wrongKeys)
      expect((await call('/v1/me', { authorization: bearer(wrong) })).status).toBe(401);
    const nearlyAdmin = `${adminToken.slice(0, -1)}!`;
    expect(
      (
        await call('/v1/admin/users', {
          method: 'POST',
          authorization: bearer(nearlyAdmin),
          json: { username: 'nope', email: 'nope@example.com' },
        })
      ).status,
    ).toBe(401);
    expect((await call('/v1/me', { authorization: bearer(adminToken) })).status).toBe(401);
    expect(
      (
        await call('/v1/admin/users', {
          method: 'POST',
          authorization: bearer(apiKey),
          json: { username: 'nope', email: 'nope@example.com' },
        })
      ).status,
    ).toBe(403);
    // A key where it does not belong: in the query string, and in a refused body.
    expect((await call(`/v1/me?api_key=${apiKey}`, { authorization: bearer(apiKey) })).status).toBe(
      400,
    );
    expect(
      (
        await call('/v1/admin/users', {
          method: 'POST',
          authorization: bearer(adminToken),
          json: { username: 'x', email: 'x@example.com', api_key: apiKey },
        })
      ).status,
    ).toBe(400);

    // The dashboard over HTTP Basic: the admin token as password, and a wrong one.
    expect((await call('/admin/queues', { authorization: basic('ops', adminToken) })).status).toBe(
      200,
    );
    expect(
      (await call('/admin/queues/api/queues', { authorization: basic('ops', adminToken) })).status,
    ).toBe(200);
    const wrongPassword = `not-${randomBytes(16).toString('base64url')}`;
    expect(
      (await call('/admin/queues', { authorization: basic('ops', wrongPassword) })).status,
    ).toBe(401);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    const output = gateway.lines.join('\n');

    // The log did record all of it: the scan below looks at a log that saw every request.
    const logged = new Set(gateway.lines.map((line) => logRecord(line)?.['request_id']));
    for (const id of requestIds) expect(logged, `request ${id} logged`).toContain(id);
    expect(output).toContain(user.user_id);

    const secrets = {
      adminToken,
      masterKey,
      ...Object.fromEntries(providerKeys.map((key, i) => [`providerKey${i}`, key])),
      apiKey,
      secondKey: second.api_key,
      nearlyAdmin,
      wrongPassword,
      ...Object.fromEntries(wrongKeys.map((key, i) => [`wrongKey${i}`, key])),
      ...Object.fromEntries(
        authorizations.flatMap((value, i) => [
          [`authorization${i}`, value],
          [`credentials${i}`, value.replace(/^\S+\s+/, '')],
        ]),
      ),
    };
    const leaks = Object.entries(secrets).flatMap(([name, secret]) =>
      fragments(secret)
        .filter((fragment) => output.includes(fragment))
        .map((fragment) => `${name}: ${fragment}`),
    );
    expect(leaks).toEqual([]);
  }, 60_000);
});

describe('the shared logger', () => {
  it('redacts credentials in the shapes a log call might give them', () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'test',
      level: 'debug',
      destination: { write: (line: string) => void lines.push(line) },
    });
    const secret = `sk_${randomBytes(32).toString('base64url')}`;
    const headers = {
      authorization: `Bearer ${secret}`,
      'proxy-authorization': `Basic ${secret}`,
      cookie: `session=${secret}`,
      'x-api-key': secret,
      accept: 'application/json',
    };
    logger.debug({ headers }, 'top-level headers');
    logger.debug({ req: { method: 'GET', headers } }, 'request headers');
    logger.debug({ request: { headers } }, 'other request headers');
    logger.debug({ res: { headers: { 'set-cookie': `session=${secret}` } } }, 'response headers');
    logger.debug({ authorization: `Bearer ${secret}`, api_key: secret }, 'fields');
    logger.debug(
      {
        created: { api_key: secret },
        settings: { adminToken: secret },
        env: { ADMIN_TOKEN: secret },
      },
      'nested fields',
    );
    logger.debug({ login: { user: 'ops', password: secret } }, 'password');
    expect(lines).toHaveLength(7);
    expect(lines.join('\n')).not.toContain(secret.slice(3, 19));
    // Only the credentials go: the rest of each object is still there to read.
    const first = JSON.parse(lines[0] ?? '{}') as { headers: Record<string, string> };
    expect(first.headers).toEqual({
      authorization: '[redacted]',
      'proxy-authorization': '[redacted]',
      cookie: '[redacted]',
      'x-api-key': '[redacted]',
      accept: 'application/json',
    });
    expect(lines[1]).toContain('"method":"GET"');
  });
});
