import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from './support/databases.js';
import { TEST_ADMIN_TOKEN, createTestUser, startTestGateway } from './support/gateway.js';
import {
  appWriteHeaders,
  createSignedInPerson,
  inviteToken,
  sessionCookieOf,
} from './support/people.js';

/**
 * People's accounts (issue 17, people.md): invitations, passwords, sessions behind an HttpOnly
 * cookie, CSRF-safe cookie writes, sign-out, password changes, failed sign-ins limited; through
 * real HTTP on real Redis and the Mongo wire server.
 */

/** Every line the gateway logs, at the most talkative level, to look for secrets in. */
const logged: string[] = [];
const logger = pino(
  { level: 'trace' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(chunk.toString('utf8'));
      done();
    },
  }),
);

const db = await useTestDatabases('people');
const gateway = await startTestGateway(db, { logger });
/** Secrets seen in this file: none may ever appear in a log line. */
const secrets: string[] = [];

async function body(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe('invitations', () => {
  it('makes a one-time link from PUBLIC_URL, with the token in the fragment', async () => {
    const { user } = await createTestUser(gateway, 'ivy');
    const response = await gateway.request(`/v1/admin/users/${user.user_id}/invitations`, {
      method: 'POST',
      token: TEST_ADMIN_TOKEN,
    });
    expect(response.status).toBe(201);
    const invitation = await body(response);
    const url = new URL(String(invitation['url']));
    expect(`${url.origin}${url.pathname}`).toBe(`${gateway.url}/app/invitation`);
    expect(url.hash).toMatch(/^#token=[\w-]{40,}$/);
    expect(Date.parse(String(invitation['expires_at'])) - Date.now()).toBeGreaterThan(
      71 * 3_600_000,
    );
    secrets.push(url.hash.slice('#token='.length));
  });

  it('refuses to make a link without PUBLIC_URL rather than guess one', async () => {
    const bare = await startTestGateway(db, { settings: { publicUrl: undefined } });
    const { user } = await createTestUser(bare, 'noel');
    const response = await bare.request(`/v1/admin/users/${user.user_id}/invitations`, {
      method: 'POST',
      token: TEST_ADMIN_TOKEN,
    });
    expect(response.status).toBe(501);
    expect(((await body(response))['error'] as { message: string }).message).toContain(
      'PUBLIC_URL',
    );
    expect(await db.models.invitations.countDocuments({ user_id: user.user_id })).toBe(0);
  });

  it('404s for a user that does not exist, and needs the admin token', async () => {
    const missing = await gateway.request(
      '/v1/admin/users/usr_000000000000000000000000/invitations',
      { method: 'POST', token: TEST_ADMIN_TOKEN },
    );
    expect(missing.status).toBe(404);
    const person = await createTestUser(gateway, 'iris');
    const withKey = await gateway.request(`/v1/admin/users/${person.user.user_id}/invitations`, {
      method: 'POST',
      token: person.api_key,
    });
    expect(withKey.status).toBe(403);
  });

  it('sets a password once: a reused, superseded or expired link is refused', async () => {
    const { user } = await createTestUser(gateway, 'ursula');
    const first = await inviteToken(gateway, user.user_id);
    const second = await inviteToken(gateway, user.user_id);
    secrets.push(first, second);
    const accept = (token: string, password = 'a long enough passphrase') =>
      gateway.request('/v1/auth/invitations/accept', {
        method: 'POST',
        json: { token, password },
      });

    const tooShort = await accept(second, 'short');
    expect(tooShort.status).toBe(400);
    expect(JSON.stringify(await body(tooShort))).toContain('at least 10 characters');
    // The newer link replaced the older one.
    expect((await accept(first)).status).toBe(410);

    const accepted = await accept(second);
    expect(accepted.status).toBe(201);
    const setCookie = accepted.headers.getSetCookie().join('\n');
    expect(setCookie).toMatch(/stepwise_session=[^;]+; .*HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Secure/); // served over plain http here
    secrets.push(sessionCookieOf(accepted).split('=')[1] ?? '');

    const reused = await accept(second, 'another passphrase entirely');
    expect(reused.status).toBe(410);
    expect(((await body(reused))['error'] as { code: string }).code).toBe('INVITATION_INVALID');
    // The reuse changed nothing: the first password still signs in.
    const signIn = await gateway.request('/v1/auth/sessions', {
      method: 'POST',
      json: { login: 'ursula', password: 'a long enough passphrase' },
    });
    expect(signIn.status).toBe(201);
  });

  it('refuses an expired link', async () => {
    const quick = await startTestGateway(db, {
      settings: { people: { invitationTtlMs: 50, sessionIdleMs: 60_000, sessionMaxMs: 60_000 } },
    });
    const { user } = await createTestUser(quick, 'edith');
    const token = await inviteToken(quick, user.user_id);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const response = await quick.request('/v1/auth/invitations/accept', {
      method: 'POST',
      json: { token, password: 'a long enough passphrase' },
    });
    expect(response.status).toBe(410);
    expect(await db.models.passwords.countDocuments({ user_id: user.user_id })).toBe(0);
  });
});

describe('sessions', () => {
  it('a signed-in person reads /v1 with the cookie alone', async () => {
    const ada = await createSignedInPerson(gateway, 'ada');
    secrets.push(ada.cookie.split('=')[1] ?? '', ada.csrfToken, ada.password);
    const me = await gateway.request('/v1/me', { headers: { cookie: ada.cookie } });
    expect(me.status).toBe(200);
    expect(((await body(me))['user'] as { username: string }).username).toBe('ada');
    const session = await gateway.request('/v1/me/session', { headers: { cookie: ada.cookie } });
    expect(session.status).toBe(200);
    expect(await body(session)).toMatchObject({
      session_id: ada.sessionId,
      csrf_token: ada.csrfToken,
      user: { username: 'ada' },
    });
    // A program's key still works, and has no session to show.
    expect((await gateway.request('/v1/me', { token: ada.apiKey })).status).toBe(200);
    expect((await gateway.request('/v1/me/session', { token: ada.apiKey })).status).toBe(404);
    // Admin routes never take a session.
    const admin = await gateway.request('/v1/admin/users', {
      method: 'POST',
      headers: appWriteHeaders(gateway, ada),
      json: { username: 'mallory', email: 'mallory@example.com' },
    });
    expect(admin.status).toBe(401);
  });

  it('signs in by username or email; a wrong password or unknown login is the same 401', async () => {
    const bob = await createSignedInPerson(gateway, 'bob');
    secrets.push(bob.password);
    const signIn = (login: string, password: string) =>
      gateway.request('/v1/auth/sessions', { method: 'POST', json: { login, password } });
    expect((await signIn('bob', bob.password)).status).toBe(201);
    expect((await signIn('bob@example.com', bob.password)).status).toBe(201);
    const wrong = await signIn('bob', 'not the password at all');
    const unknown = await signIn('nobody-here', 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await body(wrong)).toEqual(await body(unknown));
    expect(wrong.headers.getSetCookie()).toEqual([]);
  });

  it('refuses a cross-site write with the cookie, and one without the CSRF token', async () => {
    const cara = await createSignedInPerson(gateway, 'cara');
    const keysBefore = await db.models.accessKeys.countDocuments({ user_id: cara.userId });
    const attempts: Record<string, string>[] = [
      // A form posted from another site: the browser sends the cookie (top-level POST is not
      // sent under Lax, but a same-site sibling could) and its own Origin.
      { cookie: cara.cookie, origin: 'https://evil.example', 'x-csrf-token': cara.csrfToken },
      { cookie: cara.cookie, 'sec-fetch-site': 'cross-site', 'x-csrf-token': cara.csrfToken },
      // Neither Origin nor Sec-Fetch-Site: an old browser, or not a browser; refused.
      { cookie: cara.cookie, 'x-csrf-token': cara.csrfToken },
      // Same origin but no token, or another session's token.
      { cookie: cara.cookie, origin: new URL(gateway.url).origin },
      { cookie: cara.cookie, origin: new URL(gateway.url).origin, 'x-csrf-token': 'guess' },
    ];
    for (const headers of attempts) {
      const response = await gateway.request('/v1/me/keys', { method: 'POST', headers });
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(((await body(response))['error'] as { code: string }).code).toBe('FORBIDDEN');
    }
    expect(await db.models.accessKeys.countDocuments({ user_id: cara.userId })).toBe(keysBefore);

    const allowed = await gateway.request('/v1/me/keys', {
      method: 'POST',
      headers: appWriteHeaders(gateway, cara),
    });
    expect(allowed.status).toBe(201);
    const sameOriginByFetchMetadata = await gateway.request('/v1/me/keys', {
      method: 'POST',
      headers: {
        cookie: cara.cookie,
        'sec-fetch-site': 'same-origin',
        'x-csrf-token': cara.csrfToken,
      },
    });
    expect(sameOriginByFetchMetadata.status).toBe(201);
  });

  it('signing out ends the session: the cookie no longer works', async () => {
    const dora = await createSignedInPerson(gateway, 'dora');
    const out = await gateway.request('/v1/me/session', {
      method: 'DELETE',
      headers: appWriteHeaders(gateway, dora),
    });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().join()).toMatch(
      /stepwise_session=;.*Expires=Thu, 01 Jan 1970/,
    );
    const after = await gateway.request('/v1/me', { headers: { cookie: dora.cookie } });
    expect(after.status).toBe(401);
    expect(((await body(after))['error'] as { message: string }).message).toContain(
      'sign in again',
    );
  });

  it('a password change ends every other session of the person', async () => {
    const eve = await createSignedInPerson(gateway, 'eve');
    const other = await gateway.request('/v1/auth/sessions', {
      method: 'POST',
      json: { login: 'eve', password: eve.password },
    });
    const otherCookie = sessionCookieOf(other);
    const wrongCurrent = await gateway.request('/v1/me/password', {
      method: 'PUT',
      headers: appWriteHeaders(gateway, eve),
      json: { current_password: 'not the current one', new_password: 'a brand new passphrase' },
    });
    expect(wrongCurrent.status).toBe(403);
    expect((await gateway.request('/v1/me', { headers: { cookie: otherCookie } })).status).toBe(
      200,
    );

    const changed = await gateway.request('/v1/me/password', {
      method: 'PUT',
      headers: appWriteHeaders(gateway, eve),
      json: { current_password: eve.password, new_password: 'a brand new passphrase' },
    });
    expect(changed.status).toBe(204);
    expect((await gateway.request('/v1/me', { headers: { cookie: otherCookie } })).status).toBe(
      401,
    );
    expect((await gateway.request('/v1/me', { headers: { cookie: eve.cookie } })).status).toBe(200);
    const signIn = (password: string) =>
      gateway.request('/v1/auth/sessions', { method: 'POST', json: { login: 'eve', password } });
    expect((await signIn(eve.password)).status).toBe(401);
    expect((await signIn('a brand new passphrase')).status).toBe(201);
  });

  it('ends a session after its idle time, and after its lifetime however active', async () => {
    const short = await startTestGateway(db, {
      settings: { people: { invitationTtlMs: 60_000, sessionIdleMs: 400, sessionMaxMs: 1_500 } },
    });
    const idle = await createSignedInPerson(short, 'idle');
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await short.request('/v1/me', { headers: { cookie: idle.cookie } })).status).toBe(401);

    const busy = await createSignedInPerson(short, 'busy');
    const started = Date.now();
    // Used every 200 ms (inside the idle time) until past its lifetime.
    while (Date.now() - started < 1_300) {
      expect((await short.request('/v1/me', { headers: { cookie: busy.cookie } })).status).toBe(
        200,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await short.request('/v1/me', { headers: { cookie: busy.cookie } })).status).toBe(401);
  });

  it('never logs a session secret, a CSRF token, a password or an invitation token', () => {
    expect(logged.length).toBeGreaterThan(10);
    const text = logged.join('');
    for (const secret of secrets.filter((s) => s.length >= 8))
      expect(text.includes(secret), `a secret appears in the log`).toBe(false);
  });
});

describe('failed sign-ins', () => {
  it('limits a wrong password tried 30 times, even once the right one comes', async () => {
    // Counters of its own: the limit counts per address too, and every request of this file
    // comes from 127.0.0.1 (the 401s and 410s above count). The windows are fixed (aligned to
    // the clock): a day-long one, so the 32 attempts cannot straddle two windows and start
    // counting again, however slow the machine.
    const fresh = await startTestGateway(db, {
      queuePrefix: `${db.queuePrefix}-limits`,
      settings: { authFailureLimit: { limit: 30, windowMs: 24 * 60 * 60_000 } },
    });
    const fay = await createSignedInPerson(fresh, 'fay');
    const signIn = (password: string) =>
      fresh.request('/v1/auth/sessions', { method: 'POST', json: { login: 'fay', password } });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 31; attempt += 1)
      statuses.push((await signIn(`wrong guess number ${attempt}`)).status);
    expect(statuses.slice(0, 30).every((status) => status === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
    const right = await signIn(fay.password);
    expect(right.status).toBe(429);
    expect(right.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(right.headers.getSetCookie()).toEqual([]);
  });
});
