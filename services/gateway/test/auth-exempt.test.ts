// AUTH_FAILURES_EXEMPT_ADDRESSES: the contract fuzzer sends wrong credentials on purpose, from one
// address, far more often than AUTH_FAILURES_PER_WINDOW allows. Its address is exempt; these tests
// show that an exempt address is never blocked and leaves no count behind, and that every other
// address is limited exactly as before: through the app's settings, and through the environment
// of the real gateway process.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, gatewayEnvSchema, parseEnv } from '@stepwise/shared/node';
import { keysMatching, useTestDatabases } from '../../../test/support/databases.js';
import { createTestUser, startTestGateway } from '../../../test/support/gateway.js';
import { logRecord, startServiceProcess } from '../../../test/support/processes.js';
import {
  RateLimitedError,
  clientAddressKey,
  createAuthFailureLimiter,
  type AuthFailureLimitSettings,
} from '../src/http/rate-limit.js';

const db = await useTestDatabases('auth_exempt');

/** GET `path` with a bearer token, the client side bound to `from` (any 127/8 address). */
function getFrom(base: string, path: string, from: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { headers: { authorization: `Bearer ${token}` }, localAddress: from },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const wrongKey = (prefix = 'sk_') =>
  `${prefix}${randomBytes(32).toString('base64url')}`.slice(0, 46);

/** Sends `count` wrong keys one after another and answers their statuses. */
async function failures(
  base: string,
  from: string,
  count: number,
  key: () => string = wrongKey,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push(await getFrom(base, '/v1/me', from, key()));
  return statuses;
}

/** Waits for a fresh window, so that a test's attempts cannot straddle two. */
const freshWindow = (windowMs: number) =>
  new Promise((resolve) => setTimeout(resolve, windowMs - (Date.now() % windowMs) + 20));

/** The limiter's Redis keys that mention `text` (an address key or nothing else). */
async function countersMentioning(prefix: string, text: string): Promise<string[]> {
  const keys = await keysMatching(db.redis, `${prefix}:authfail:*`);
  return keys.filter((key) => key.includes(text));
}

describe('AUTH_FAILURES_EXEMPT_ADDRESSES', () => {
  const parse = (value?: string) =>
    parseEnv(gatewayEnvSchema, {
      MONGO_URL: 'mongodb://127.0.0.1:27017/x',
      REDIS_URL: 'redis://127.0.0.1:6379',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
      AUTH_FAILURES_EXEMPT_ADDRESSES: value,
    });

  it('is empty by default: production keeps the limiter for everyone', () => {
    expect(parse().AUTH_FAILURES_EXEMPT_ADDRESSES).toEqual([]);
    expect(parse('').AUTH_FAILURES_EXEMPT_ADDRESSES).toEqual([]);
  });

  it('takes comma-separated IPv4 and IPv6 addresses', () => {
    expect(parse(' 127.0.0.1, ::1 ,2001:db8::7').AUTH_FAILURES_EXEMPT_ADDRESSES).toEqual([
      '127.0.0.1',
      '::1',
      '2001:db8::7',
    ]);
  });

  it('refuses anything that is not an address, so that a typo cannot exempt nothing silently', () => {
    expect(() => parse('127.0.0.1,localhost')).toThrow(ConfigError);
    expect(() => parse('127.0.0.1/8')).toThrow(ConfigError);
  });
});

describe('the failure limiter with exempt addresses', () => {
  const prefix = `${db.queuePrefix}:unit`;
  const settings: AuthFailureLimitSettings = {
    limit: 2,
    windowMs: 60_000,
    exemptAddresses: ['203.0.113.5', '2001:db8:a:b::1'],
  };
  const limiter = createAuthFailureLimiter(db.redis, prefix, settings, pino({ level: 'silent' }));

  it('never counts nor refuses an exempt address, an IPv6 one across its /64', async () => {
    for (const address of ['203.0.113.5', '::ffff:203.0.113.5', '2001:db8:a:b::99']) {
      const key = clientAddressKey(address);
      for (let i = 0; i < settings.limit * 5; i++) {
        await limiter.check({ address: key, credential: 'sk_samesamesame' });
        await limiter.recordFailure({ address: key, credential: 'sk_samesamesame' });
      }
    }
    expect(await keysMatching(db.redis, `${prefix}:authfail:*`)).toEqual([]);
  });

  it('still refuses a neighbour of an exempt address past the limit', async () => {
    const attempt = { address: clientAddressKey('203.0.113.6'), credential: wrongKey() };
    for (let i = 0; i < settings.limit; i++) {
      await limiter.check(attempt);
      await limiter.recordFailure(attempt);
    }
    await expect(limiter.check(attempt)).rejects.toBeInstanceOf(RateLimitedError);
  });
});

describe('an app with an exempt address', () => {
  const authFailureLimit: AuthFailureLimitSettings = {
    limit: 3,
    windowMs: 4_000,
    exemptAddresses: ['127.0.0.61'],
  };

  it('never blocks the exempt address; the next address is blocked as before', async () => {
    const gateway = await startTestGateway(db, { settings: { authFailureLimit } });
    const user = await createTestUser(gateway, 'exempt_app');
    await freshWindow(authFailureLimit.windowMs);

    // Four times the limit, all with one key prefix: neither counter may move.
    const prefix = `sk_${randomBytes(6).toString('base64url').slice(0, 7)}`;
    const exemptStatuses = await failures(
      gateway.url,
      '127.0.0.61',
      authFailureLimit.limit * 4,
      () => wrongKey(prefix),
    );
    expect(new Set(exemptStatuses)).toEqual(new Set([401]));
    expect(await getFrom(gateway.url, '/v1/me', '127.0.0.61', user.api_key)).toBe(200);
    expect(await countersMentioning(db.queuePrefix, ':127.0.0.61:')).toEqual([]);
    // The exempt client's guesses at that prefix do not block anyone else presenting it.
    expect(await getFrom(gateway.url, '/v1/me', '127.0.0.63', wrongKey(prefix))).toBe(401);

    const other = await failures(gateway.url, '127.0.0.62', authFailureLimit.limit + 1);
    expect(other).toEqual([401, 401, 401, 429]);
    expect(await getFrom(gateway.url, '/v1/me', '127.0.0.62', user.api_key)).toBe(429);
    // The exempt address is still served while its neighbour is blocked.
    expect(await getFrom(gateway.url, '/v1/me', '127.0.0.61', wrongKey())).toBe(401);
    expect(await getFrom(gateway.url, '/v1/me', '127.0.0.61', user.api_key)).toBe(200);
  });
});

describe('the gateway process', () => {
  it('reads the exemption from its environment', async () => {
    const limit = 3;
    const windowMs = 5_000;
    const gateway = startServiceProcess('gateway', {
      MONGO_URL: db.mongoUrl,
      REDIS_URL: db.redisUrl,
      QUEUE_PREFIX: db.queuePrefix,
      ADMIN_TOKEN: 'auth-exempt-admin-token',
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_FAILURES_PER_WINDOW: String(limit),
      AUTH_FAILURE_WINDOW_MS: String(windowMs),
      AUTH_FAILURES_EXEMPT_ADDRESSES: '127.0.0.71',
    });
    const listening = logRecord(
      await gateway.waitForLine((line) => line.includes('gateway listening')),
    );
    const base = `http://127.0.0.1:${Number(listening?.['port'])}`;
    await freshWindow(windowMs);

    expect(new Set(await failures(base, '127.0.0.71', limit * 4))).toEqual(new Set([401]));
    expect(await failures(base, '127.0.0.72', limit + 1)).toEqual([401, 401, 401, 429]);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });
});
