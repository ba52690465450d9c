import { TEST_ADMIN_TOKEN, createTestUser, type TestGateway } from './gateway.js';

/** A signed-in person as a browser holds them: the cookie to send and the CSRF token. */
export interface SignedIn {
  userId: string;
  cookie: string;
  csrfToken: string;
  sessionId: string;
}

/** The `name=value` pair of the session cookie a response sets (what a browser sends back). */
export function sessionCookieOf(response: Response): string {
  const header = response.headers.getSetCookie().find((c) => c.startsWith('stepwise_session='));
  if (!header) throw new Error(`no session cookie set (status ${response.status})`);
  return header.split(';')[0] ?? '';
}

/** Makes an invitation for the user and answers its token (the link's fragment). */
export async function inviteToken(gateway: TestGateway, userId: string): Promise<string> {
  const response = await gateway.request(`/v1/admin/users/${userId}/invitations`, {
    method: 'POST',
    token: TEST_ADMIN_TOKEN,
  });
  if (response.status !== 201)
    throw new Error(`inviting ${userId}: ${response.status} ${await response.text()}`);
  const { url } = (await response.json()) as { url: string };
  return new URL(url).hash.replace(/^#token=/, '');
}

/** Invites an existing user and takes the invitation with this password: signed in. */
export async function acceptInvitation(
  gateway: TestGateway,
  userId: string,
  password: string,
): Promise<SignedIn> {
  const token = await inviteToken(gateway, userId);
  const accepted = await gateway.request('/v1/auth/invitations/accept', {
    method: 'POST',
    json: { token, password },
  });
  if (accepted.status !== 201)
    throw new Error(`accepting: ${accepted.status} ${await accepted.text()}`);
  const session = (await accepted.json()) as { csrf_token: string; session_id: string };
  return {
    userId,
    cookie: sessionCookieOf(accepted),
    csrfToken: session.csrf_token,
    sessionId: session.session_id,
  };
}

/** Creates a user, takes an invitation with this password, and answers the signed-in session. */
export async function createSignedInPerson(
  gateway: TestGateway,
  username: string,
  password = 'correct horse battery staple',
): Promise<SignedIn & { apiKey: string; password: string }> {
  const created = await createTestUser(gateway, username);
  const session = await acceptInvitation(gateway, created.user.user_id, password);
  return { ...session, apiKey: created.api_key, password };
}

/** Headers of a same-origin write from the app: the cookie, Origin and the CSRF token. */
export function appWriteHeaders(gateway: TestGateway, person: SignedIn): Record<string, string> {
  return {
    cookie: person.cookie,
    origin: new URL(gateway.url).origin,
    'x-csrf-token': person.csrfToken,
  };
}
