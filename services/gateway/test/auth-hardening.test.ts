import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { errorEnvelopeSchema } from '@stepwise/shared';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  TEST_ADMIN_TOKEN,
  createTestUser,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { secretsEqual } from '../src/accounts/keys.js';
import { clientAddressKey } from '../src/http/rate-limit.js';

const limits = {
  maxJsonBodyBytes: 16 * 1024,
  maxUploadBytes: 48 * 1024,
  maxFileUploadBytes: 64 * 1024,
  maxRunImportBytes: 80 * 1024,
};
const db = await useTestDatabases('auth_hardening');
const gateway = await startTestGateway(db, { settings: limits });
const user = await createTestUser(gateway, 'hardened');

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One request over node:http, which (unlike fetch) can bind the client side to another loopback
 * address, so that one test process can be several clients, and can declare a body it never sends.
 */
function send(
  base: string,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    from?: string;
    body?: Buffer | string;
    /** Headers only: the request stays open, so the answer cannot have waited for a body. */
    withholdBody?: boolean;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ...(options.from === undefined ? {} : { localAddress: options.from }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          });
          if (options.withholdBody) req.destroy();
        });
      },
    );
    req.on('error', reject);
    if (options.withholdBody) {
      req.flushHeaders();
      return;
    }
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function errorCode(answer: Answer): string {
  return errorEnvelopeSchema.parse(JSON.parse(answer.text)).error.code;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (password: string) => ({
  authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
});
const wrongKey = (prefix = 'sk_') =>
  `${prefix}${randomBytes(32).toString('base64url')}`.slice(0, 46);

describe('secretsEqual', () => {
  it('is true only for the same non-empty secret', () => {
    expect(secretsEqual('s3cret-admin-token', 's3cret-admin-token')).toBe(true);
    expect(secretsEqual('ünïcødé-tøken', 'ünïcødé-tøken')).toBe(true);
    expect(secretsEqual('s3cret-admin-token', 's3cret-admin-tokem')).toBe(false);
    expect(secretsEqual('S3cret-admin-token', 's3cret-admin-token')).toBe(false);
  });

  it('handles different lengths, a prefix of the secret included', () => {
    expect(secretsEqual('s3cret', 's3cret-admin-token')).toBe(false);
    expect(secretsEqual('s3cret-admin-token-and-more', 's3cret-admin-token')).toBe(false);
    expect(secretsEqual('x'.repeat(10_000), 's3cret-admin-token')).toBe(false);
  });

  it('never matches an empty expected secret, not even an empty one', () => {
    expect(secretsEqual('', 's3cret-admin-token')).toBe(false);
    expect(secretsEqual('s3cret-admin-token', '')).toBe(false);
    expect(secretsEqual('', '')).toBe(false);
  });
});

describe('the address failed authentications are counted against', () => {
  it('is the IPv4 address, or the /64 of an IPv6 one', () => {
    expect(clientAddressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddressKey('2001:db8:a:b::1')).toBe('2001:db8:a:b::/64');
    expect(clientAddressKey('2001:0db8:000a:000b:ffff:1:2:3')).toBe('2001:db8:a:b::/64');
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientAddressKey(undefined)).toBe('unknown');
  });
});

function expectSecurityHeaders(answer: Answer) {
  const h = answer.headers;
  expect(h['x-content-type-options']).toBe('nosniff');
  expect(
    header(answer, 'content-security-policy')
      ?.split(';')
      .map((directive) => directive.trim())
      .filter((directive) => directive !== '')
      .sort(),
  ).toEqual(["default-src 'none'", "frame-ancestors 'none'"]);
  expect(h['x-frame-options']).toBe('DENY');
  expect(h['referrer-policy']).toBe('no-referrer');
  expect(h['cross-origin-resource-policy']).toBe('same-origin');
  expect(h['cache-control']).toBe('no-store');
  expect(h['x-powered-by']).toBeUndefined();
}

describe('security headers', () => {
  it('are on successes, 404s, 401s and 413s alike', async () => {
    const answers = {
      health: await send(gateway.url, '/healthz'),
      me: await send(gateway.url, '/v1/me', { headers: bearer(user.api_key) }),
      missing: await send(gateway.url, '/v1/nothing-here', { headers: bearer(user.api_key) }),
      anonymous: await send(gateway.url, '/v1/me'),
      tooLarge: await send(gateway.url, '/v1/admin/users', {
        method: 'POST',
        headers: { ...bearer(TEST_ADMIN_TOKEN), 'content-type': 'application/json' },
        body: JSON.stringify({ pad: 'x'.repeat(limits.maxJsonBodyBytes) }),
      }),
    };
    expect(Object.values(answers).map((answer) => answer.status)).toEqual([
      200, 200, 404, 401, 413,
    ]);
    for (const answer of Object.values(answers)) expectSecurityHeaders(answer);
  });

  it('give the dashboard a policy under which its own scripts and styles run, and nothing else', async () => {
    const challenge = await send(gateway.url, '/admin/queues');
    expect(challenge.status).toBe(401);
    const page = await send(gateway.url, '/admin/queues', { headers: basic(TEST_ADMIN_TOKEN) });
    expect(page.status).toBe(200);
    for (const answer of [challenge, page]) {
      const policy = Object.fromEntries(
        (header(answer, 'content-security-policy') ?? '')
          .split(';')
          .map((directive) => directive.trim().split(/\s+/))
          .map(([name = '', ...values]) => [name, values]),
      );
      expect(policy['default-src']).toEqual(["'self'"]);
      expect(policy['script-src']).toEqual(["'self'"]);
      expect(policy['frame-ancestors']).toEqual(["'none'"]);
      expect(policy['object-src']).toEqual(["'none'"]);
      expect(answer.headers['x-frame-options']).toBe('DENY');
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('let the dashboard render in a browser without a single policy violation', async () => {
    const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
    expect(existsSync(chromiumPath), `Chromium at ${chromiumPath}`).toBe(true);
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const context = await browser.newContext({
        httpCredentials: { username: 'admin', password: TEST_ADMIN_TOKEN },
      });
      const violations: string[] = [];
      await context.exposeFunction('reportViolation', (text: string) => violations.push(text));
      // A string, not a function: it runs in the page, whose types this file does not load.
      await context.addInitScript({
        content: `document.addEventListener('securitypolicyviolation', (event) =>
          window.reportViolation(event.violatedDirective + ' ' + event.blockedURI));`,
      });
      const page = await context.newPage();
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      const response = await page.goto(`${gateway.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      await page.getByText('maintenance', { exact: true }).first().waitFor({ timeout: 15_000 });
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

interface Operation {
  method: string;
  path: string;
  auth: 'none' | 'user' | 'admin';
  upload: boolean;
  /** A person's file (`user.file_input`): streamed, with a limit of its own. */
  fileUpload: boolean;
}

/** Every route, read off the gateway's own OpenAPI document so that a new one is included. */
async function documentedOperations(target: TestGateway): Promise<Operation[]> {
  const doc = (await (await target.request('/openapi.json')).json()) as {
    paths: Record<
      string,
      Record<
        string,
        {
          security?: Record<string, unknown>[];
          requestBody?: { content: Record<string, unknown> };
        }
      >
    >;
  };
  return Object.entries(doc.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, operation]) => {
      const scheme = Object.keys(operation.security?.[0] ?? {})[0];
      return {
        method: method.toUpperCase(),
        // Parameters are checked after the body limit, so any value reaches it.
        path: path.replace(/\{[^}]+\}/g, 'x'),
        auth: scheme === 'adminToken' ? 'admin' : scheme === 'apiKey' ? 'user' : 'none',
        upload: 'application/zip' in (operation.requestBody?.content ?? {}),
        fileUpload: 'application/octet-stream' in (operation.requestBody?.content ?? {}),
      };
    }),
  );
}

const credentialsFor = (operation: Operation): Record<string, string> =>
  operation.auth === 'admin'
    ? bearer(TEST_ADMIN_TOKEN)
    : operation.auth === 'user'
      ? bearer(user.api_key)
      : {};

/** A run archive (`POST …/runs/import`) is a zip with a limit of its own (MAX_RUN_IMPORT_BYTES). */
const importsRuns = (operation: Operation) => operation.path.endsWith('/runs/import');

const limitOf = (operation: Operation) =>
  operation.fileUpload
    ? limits.maxFileUploadBytes
    : importsRuns(operation)
      ? limits.maxRunImportBytes
      : operation.upload
        ? limits.maxUploadBytes
        : limits.maxJsonBodyBytes;

describe('request size limits on every route', () => {
  it('the document lists the routes to try, admin, upload and bodiless ones among them', async () => {
    const operations = await documentedOperations(gateway);
    expect(operations.length).toBeGreaterThan(25);
    expect(operations.filter((o) => o.auth === 'admin').length).toBeGreaterThan(0);
    expect(operations.filter((o) => o.upload).length).toBeGreaterThanOrEqual(2);
    expect(operations.filter((o) => o.auth === 'none').length).toBeGreaterThanOrEqual(4);
  });

  it('refuses a declared oversized body of any media type with 413, before it is sent', async () => {
    const refused: string[] = [];
    for (const operation of await documentedOperations(gateway)) {
      const limit = limitOf(operation);
      for (const type of ['application/json', 'application/octet-stream', 'application/zip']) {
        const answer = await send(gateway.url, operation.path, {
          method: operation.method,
          headers: {
            ...credentialsFor(operation),
            'content-type': type,
            'content-length': String(limit + 1),
          },
          withholdBody: true,
        });
        expect(answer.status, `${operation.method} ${operation.path} (${type})`).toBe(413);
        expect(errorCode(answer)).toBe('PAYLOAD_TOO_LARGE');
        refused.push(`${operation.method} ${operation.path}`);
      }
    }
    expect(refused).toContain('POST /v1/admin/users');
    expect(refused).toContain('POST /v1/workflows');
    expect(refused).toContain('POST /v1/runs/x/uploads');
    expect(refused).toContain('GET /healthz');
  }, 60_000);

  it('refuses a chunked body that grows past the limit with 413', async () => {
    // A file upload reads its body only for a run waiting on a file question (any other request
    // is refused before a byte is read); test/media-uploads.test.ts grows one past its limit.
    const parsed = (await documentedOperations(gateway)).filter((o) => !o.fileUpload);
    for (const operation of parsed) {
      const limit = limitOf(operation);
      const answer = await send(gateway.url, operation.path, {
        method: operation.method,
        headers: {
          ...credentialsFor(operation),
          'content-type': operation.upload ? 'application/zip' : 'application/json',
          'transfer-encoding': 'chunked',
        },
        body: Buffer.alloc(limit + 1, 0x20),
      });
      expect(answer.status, `${operation.method} ${operation.path}`).toBe(413);
      expect(errorCode(answer)).toBe('PAYLOAD_TOO_LARGE');
    }
  }, 60_000);

  it('accepts a body of exactly the limit (and then judges its content)', async () => {
    const body = JSON.stringify({ pad: '' });
    const exact = JSON.stringify({ pad: 'x'.repeat(limits.maxJsonBodyBytes - body.length) });
    expect(Buffer.byteLength(exact)).toBe(limits.maxJsonBodyBytes);
    const answer = await send(gateway.url, '/v1/admin/users', {
      method: 'POST',
      headers: { ...bearer(TEST_ADMIN_TOKEN), 'content-type': 'application/json' },
      body: exact,
    });
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('BAD_REQUEST');
  });

  it('the dashboard refuses a declared oversized body too', async () => {
    const answer = await send(gateway.url, '/admin/queues/api/queues/resolve/clean/failed', {
      method: 'PUT',
      headers: {
        ...basic(TEST_ADMIN_TOKEN),
        'content-type': 'application/json',
        'content-length': String(1024 * 1024),
      },
      withholdBody: true,
    });
    expect(answer.status).toBe(413);
    expect(errorCode(answer)).toBe('PAYLOAD_TOO_LARGE');
  });

  it("leaves oversized headers and URLs to Node's 16 KiB header limit: 431", async () => {
    // Node's defaults (http.maxHeaderSize 16384, the request line included) answer 431 before
    // express sees the request; they also bound how long headers (60 s) and a whole request
    // (300 s) may take to arrive.
    const longUrl = await send(gateway.url, `/v1/me?x=${'a'.repeat(17 * 1024)}`, {
      headers: bearer(user.api_key),
    });
    expect(longUrl.status).toBe(431);
    const longHeader = await send(gateway.url, '/v1/me', {
      headers: { ...bearer(user.api_key), 'x-padding': 'a'.repeat(17 * 1024) },
    });
    expect(longHeader.status).toBe(431);
  });
});

// A database and queue prefix of their own: these tests block addresses on purpose. Two gateways
// on them stand for two gateway processes sharing one Redis.
const limited = await useTestDatabases('auth_failures');
const authFailureLimit = { limit: 4, windowMs: 3_000 };
const first = await startTestGateway(limited, { settings: { authFailureLimit } });
const second = await startTestGateway(limited, { settings: { authFailureLimit } });
const alice = await createTestUser(first, 'alice');

describe('failed authentications', () => {
  /** Waits for a fresh window, so that a test's attempts cannot straddle two. */
  const freshWindow = () =>
    new Promise((resolve) =>
      setTimeout(
        resolve,
        authFailureLimit.windowMs - (Date.now() % authFailureLimit.windowMs) + 20,
      ),
    );

  it('are counted per address across gateways; then even a right key is 429, other clients pass', async () => {
    const attacker = '127.0.0.11';
    await freshWindow();
    const statuses: number[] = [];
    for (let i = 0; i < authFailureLimit.limit; i++) {
      const target = i % 2 === 0 ? first : second;
      statuses.push(
        (await send(target.url, '/v1/me', { from: attacker, headers: bearer(wrongKey()) })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401]);

    const blocked = await send(second.url, '/v1/me', {
      from: attacker,
      headers: bearer(wrongKey()),
    });
    expect(blocked.status).toBe(429);
    expect(errorCode(blocked)).toBe('RATE_LIMITED');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(authFailureLimit.windowMs / 1000);
    // A right guess must look like any other attempt, or the 429s would only mean "wrong".
    const rightKey = await send(first.url, '/v1/me', {
      from: attacker,
      headers: bearer(alice.api_key),
    });
    expect(rightKey.status).toBe(429);
    const adminToo = await send(first.url, '/v1/admin/users', {
      method: 'POST',
      from: attacker,
      headers: { ...bearer(TEST_ADMIN_TOKEN), 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'nope', email: 'nope@example.com' }),
    });
    expect(adminToo.status).toBe(429);
    expect(await limited.models.users.countDocuments({ username: 'nope' })).toBe(0);
    // Without credentials nothing is guessed: still the plain 401 challenge.
    expect((await send(first.url, '/v1/me', { from: attacker })).status).toBe(401);

    // Other clients: the right key, and a wrong one, are judged as usual.
    expect(
      (await send(second.url, '/v1/me', { from: '127.0.0.12', headers: bearer(alice.api_key) }))
        .status,
    ).toBe(200);
    expect(
      (await send(second.url, '/v1/me', { from: '127.0.0.13', headers: bearer(wrongKey()) }))
        .status,
    ).toBe(401);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 50));
    expect(
      (await send(first.url, '/v1/me', { from: attacker, headers: bearer(alice.api_key) })).status,
    ).toBe(200);
  });

  it('are counted per presented key prefix, across addresses', async () => {
    const prefix = `sk_${randomBytes(6).toString('base64url').slice(0, 7)}`;
    await freshWindow();
    const statuses: number[] = [];
    for (let i = 0; i < authFailureLimit.limit; i++) {
      statuses.push(
        (
          await send(first.url, '/v1/me', {
            from: `127.0.0.${21 + i}`,
            headers: bearer(wrongKey(prefix)),
          })
        ).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401]);
    const samePrefix = await send(second.url, '/v1/me', {
      from: '127.0.0.31',
      headers: bearer(wrongKey(prefix)),
    });
    expect(samePrefix.status).toBe(429);
    expect(errorCode(samePrefix)).toBe('RATE_LIMITED');
    // The same fresh address with another key is not affected.
    expect(
      (await send(second.url, '/v1/me', { from: '127.0.0.31', headers: bearer(alice.api_key) }))
        .status,
    ).toBe(200);
  });

  it('do not count requests that present no credentials, nor successful ones', async () => {
    const client = '127.0.0.41';
    await freshWindow();
    for (let i = 0; i < authFailureLimit.limit * 2; i++) {
      expect((await send(first.url, '/v1/me', { from: client })).status).toBe(401);
      expect(
        (await send(first.url, '/v1/me', { from: client, headers: bearer(alice.api_key) })).status,
      ).toBe(200);
    }
  });

  it("count wrong dashboard passwords with the address's other failures", async () => {
    const client = '127.0.0.51';
    await freshWindow();
    const statuses: number[] = [];
    for (let i = 0; i < authFailureLimit.limit; i++) {
      const wrong = basic(`wrong-password-${i}`);
      statuses.push(
        (await send(first.url, '/admin/queues', { from: client, headers: wrong })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401]);
    const rightPassword = await send(second.url, '/admin/queues', {
      from: client,
      headers: basic(TEST_ADMIN_TOKEN),
    });
    expect(rightPassword.status).toBe(429);
    expect(errorCode(rightPassword)).toBe('RATE_LIMITED');
    expect(Number(rightPassword.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(
      (await send(second.url, '/v1/me', { from: client, headers: bearer(alice.api_key) })).status,
    ).toBe(429);
    expect(
      (
        await send(second.url, '/admin/queues', {
          from: '127.0.0.52',
          headers: basic(TEST_ADMIN_TOKEN),
        })
      ).status,
    ).toBe(200);
  });
});
