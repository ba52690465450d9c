import { describe, expect, it } from 'vitest';
import { errorEnvelopeSchema } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import { createTestUser, startTestGateway } from '../../../test/support/gateway.js';

const db = await useTestDatabases('rate_limit');
const settings = { rateLimit: { limit: 5, windowMs: 3_000 } };
// Two gateway processes' worth of apps on one Redis: the limit is per user, across both.
const first = await startTestGateway(db, { settings });
const second = await startTestGateway(db, { settings });

describe('per-user rate limiting', () => {
  it('counts a user across gateways, answers 429 with Retry-After, and spares other users', async () => {
    const alice = await createTestUser(first, 'alice');
    const bob = await createTestUser(first, 'bob');
    // Start at the beginning of a fresh window so the test cannot straddle two.
    await new Promise((resolve) =>
      setTimeout(
        resolve,
        settings.rateLimit.windowMs - (Date.now() % settings.rateLimit.windowMs) + 20,
      ),
    );
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await (i % 2 === 0 ? first : second).request('/v1/me', { token: alice.api_key })).status,
      );
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const limited = await second.request('/v1/me', { token: alice.api_key });
    expect(limited.status).toBe(429);
    expect(errorEnvelopeSchema.parse(await limited.json()).error.code).toBe('RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3);
    expect((await first.request('/v1/me', { token: bob.api_key })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 50));
    expect((await first.request('/v1/me', { token: alice.api_key })).status).toBe(200);
  });
});
