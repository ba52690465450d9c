import type { Request } from 'express';
import { StepwiseError } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { createUserReader } from '../accounts/accounts.js';
import { createKeyAuthenticator } from '../accounts/key-authentication.js';
import type { AuthEpochs } from '../accounts/key-cache.js';
import { secretsEqual } from '../accounts/keys.js';
import { checkCookieWrite, sessionSecretOf } from '../people/session-cookie.js';
import type { SessionStore } from '../people/sessions.js';
import {
  clientAddressKey,
  type AuthAttempt,
  type AuthFailureLimiter,
  type UserRequestGate,
} from './rate-limit.js';
import type { Caller } from './request-context.js';
import type { Authenticator } from './route-builder.js';

function bearerToken(req: Request): string | null {
  const header = req.get('authorization');
  if (!header) return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

function unauthenticated(message: string): StepwiseError {
  return new StepwiseError('UNAUTHENTICATED', message);
}

export const noAuthFailureLimit: AuthFailureLimiter = {
  check: async () => undefined,
  recordFailure: async () => undefined,
};

/** The attempt as the failure limiter counts it: by the socket's address and the credential. */
export function authAttemptOf(req: Request, credential: string): AuthAttempt {
  return { address: clientAddressKey(req.socket.remoteAddress), credential };
}

/**
 * User routes take an API key; admin routes take the admin token. A valid user key on an admin
 * route is 403 (known, not allowed); anything unrecognised is 401. A key is accepted from memory
 * only while its user's revocation epoch in Redis is the one it was confirmed under, so a revoked
 * key stops working at once on every gateway process (accounts/key-authentication.ts).
 *
 * Only a presented credential that matches nothing counts as a failed authentication: a request
 * without one guesses nothing. The failure limiter is asked alongside the lookup rather than
 * before it, so that it costs no extra round trip; when it refuses, the lookup's answer is
 * dropped, whatever it was (a right key's `last_used_at` may still move: it was presented).
 */
export interface CookieSessions {
  store: SessionStore;
  publicUrl: string | undefined;
}

export interface AuthenticatorDependencies {
  models: Models;
  adminToken: string;
  epochs: AuthEpochs;
  /** Counts a request against its user's rate limit (and reads their epoch alongside). */
  gate: UserRequestGate;
  failures?: AuthFailureLimiter;
  sessions?: CookieSessions;
}

export function createAuthenticator(deps: AuthenticatorDependencies): Authenticator {
  const { models, adminToken, epochs, gate, sessions } = deps;
  const failures = deps.failures ?? noAuthFailureLimit;
  const readUser = createUserReader(models);
  const authenticateKey = createKeyAuthenticator({ models, readUser, epochs, gate });
  const limitRate = async (userId: string) => {
    const { limited } = await gate(userId, null);
    if (limited) throw limited;
  };
  const identify = async (token: string, mode: 'user' | 'admin'): Promise<Caller | null> => {
    if (mode === 'admin' && secretsEqual(token, adminToken)) return { kind: 'admin' };
    const { found, limited } = await authenticateKey(token);
    if (!found) return null;
    if (mode === 'admin') throw new StepwiseError('FORBIDDEN', 'this route needs the admin token');
    if (limited) throw limited;
    return { kind: 'user', user: found.user, keyId: found.keyId, sessionId: null };
  };
  /**
   * A person signed in through the app: the session cookie, on user routes only (admin routes
   * keep the admin token). A cookie that names no live session is not counted as a failed
   * authentication: it is an ended session far more often than a guess, and guessing a 256-bit
   * secret is hopeless anyway.
   */
  const fromSession = async (
    req: Parameters<Authenticator>[0],
    secret: string,
    cookies: CookieSessions,
  ): Promise<Caller> => {
    const session = await cookies.store.find(secret);
    if (!session) throw unauthenticated('the session has ended; sign in again');
    checkCookieWrite(req, session.csrf_token, cookies.publicUrl);
    const user = await readUser(session.user_id);
    if (!user) throw unauthenticated('the session has ended; sign in again');
    await limitRate(user.user_id);
    return { kind: 'user', user, keyId: null, sessionId: session.session_id };
  };
  return async (req, mode) => {
    const token = bearerToken(req);
    const secret = token || !sessions ? null : sessionSecretOf(req);
    if (secret && sessions && mode === 'user') return fromSession(req, secret, sessions);
    if (!token)
      throw unauthenticated(
        mode === 'admin'
          ? 'missing bearer token (Authorization: Bearer <admin token>)'
          : 'missing credentials: an API key (Authorization: Bearer <api key>) or a signed-in session',
      );
    const attempt = authAttemptOf(req, token);
    const [allowed, identified] = await Promise.allSettled([
      failures.check(attempt),
      identify(token, mode),
    ]);
    if (allowed.status === 'rejected') throw allowed.reason;
    if (identified.status === 'rejected') throw identified.reason;
    const caller = identified.value;
    if (!caller) {
      await failures.recordFailure(attempt);
      throw unauthenticated('unknown or revoked API key');
    }
    return caller;
  };
}
