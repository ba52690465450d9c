import { z } from 'zod';
import {
  acceptInvitationBodySchema,
  changePasswordBodySchema,
  idSchema,
  invitationViewSchema,
  sessionViewSchema,
  signInBodySchema,
  StepwiseError,
  type SessionView,
  type UserRecord,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import type { Request, Response } from 'express';
import { authAttemptOf } from '../http/authentication.js';
import type { AuthFailureLimiter } from '../http/rate-limit.js';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { empty, json } from '../http/responses.js';
import { acceptInvitation, createInvitation } from '../people/invitations.js';
import {
  CSRF_HEADER,
  clearSessionCookie,
  sessionSecretOf,
  setSessionCookie,
} from '../people/session-cookie.js';
import type { SessionStore, StoredSession } from '../people/sessions.js';
import { changePassword, checkPassword, wrongCredentials } from '../people/sign-in.js';
import { userView } from './accounts.js';

export interface PeopleRouteDependencies {
  models: Models;
  sessions: SessionStore;
  authFailures: AuthFailureLimiter;
  publicUrl: string | undefined;
  invitationTtlMs: number;
  sessionMaxMs: number;
}

function sessionView(session: StoredSession, user: UserRecord): SessionView {
  return {
    session_id: session.session_id,
    user: userView(user),
    csrf_token: session.csrf_token,
    created_at: session.created_at,
    expires_at: session.expires_at,
  };
}

/** People's accounts: invitations, passwords, sessions behind a cookie (people.md). */
export function peopleRoutes(deps: PeopleRouteDependencies): RouteDefinition[] {
  /** Starts a session for the user: its cookie on the answer, its view in the body. */
  async function signIn(req: Request, res: Response, user: UserRecord): Promise<SessionView> {
    const { secret, session } = await deps.sessions.create(user.user_id);
    setSessionCookie(req, res, secret, deps.publicUrl, deps.sessionMaxMs);
    return sessionView(session, user);
  }

  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/admin/users/:user_id/invitations',
        summary: 'Make a one-time invitation link for a user to set their password',
        auth: 'admin',
        params: z.strictObject({ user_id: idSchema('user') }),
        responses: {
          201: json(
            invitationViewSchema,
            'The link to hand the person; earlier unused links of the user stop working',
          ),
        },
        errors: ['NOT_FOUND', 'NOT_CONFIGURED'],
      },
      async ({ params }) => ({
        status: 201,
        body: await createInvitation(
          deps.models,
          { publicUrl: deps.publicUrl, ttlMs: deps.invitationTtlMs },
          params.user_id,
        ),
      }),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/auth/invitations/accept',
        summary: 'Set a password with an invitation token, and sign in',
        auth: 'none',
        body: acceptInvitationBodySchema,
        bodyExample: { token: 'the part of the link after #token=', password: 'a long passphrase' },
        responses: {
          201: json(sessionViewSchema, 'Signed in: the session cookie is set', {
            headers: ['Set-Cookie'],
          }),
        },
        errors: ['INVITATION_INVALID', 'RATE_LIMITED'],
      },
      async ({ body, req, res }) => {
        // A wrong token is a failed authentication like a wrong key: counted, then limited.
        const attempt = authAttemptOf(req, `invitation:${body.token.slice(0, 8)}`);
        await deps.authFailures.check(attempt);
        let user: UserRecord;
        try {
          user = await acceptInvitation(deps.models, body.token, body.password);
        } catch (error) {
          if (error instanceof StepwiseError && error.code === 'INVITATION_INVALID')
            await deps.authFailures.recordFailure(attempt);
          throw error;
        }
        return { status: 201, body: await signIn(req, res, user) };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/auth/sessions',
        summary: 'Sign in with a username (or email) and password; sets the session cookie',
        auth: 'none',
        body: signInBodySchema,
        bodyExample: { login: 'ada', password: 'a long passphrase' },
        responses: {
          201: json(sessionViewSchema, 'Signed in: the session cookie is set', {
            headers: ['Set-Cookie'],
          }),
        },
        errors: ['UNAUTHENTICATED', 'RATE_LIMITED'],
      },
      async ({ body, req, res }) => {
        // Counted per address and per login, like keys per address and prefix.
        const attempt = authAttemptOf(req, `login:${body.login.toLowerCase()}`);
        await deps.authFailures.check(attempt);
        const user = await checkPassword(deps.models, body.login, body.password);
        if (!user) {
          await deps.authFailures.recordFailure(attempt);
          throw wrongCredentials();
        }
        return { status: 201, body: await signIn(req, res, user) };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/session',
        summary: 'The signed-in session of the caller, with its CSRF token',
        auth: 'user',
        responses: { 200: json(sessionViewSchema, 'The session the cookie names') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, req }) => {
        const secret = sessionSecretOf(req);
        const session = secret && caller.sessionId ? await deps.sessions.find(secret) : null;
        if (!session)
          throw new StepwiseError('NOT_FOUND', 'this request was not made with a session cookie');
        return { status: 200, body: sessionView(session, caller.user) };
      },
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/me/session',
        summary: `Sign out: end the session the cookie names (a cookie write: needs ${CSRF_HEADER})`,
        auth: 'user',
        responses: { 204: empty('Signed out; the cookie is removed', ['Set-Cookie']) },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, req, res }) => {
        const secret = sessionSecretOf(req);
        if (!secret || !caller.sessionId)
          throw new StepwiseError('NOT_FOUND', 'this request was not made with a session cookie');
        await deps.sessions.end(secret, caller.user.user_id);
        clearSessionCookie(req, res, deps.publicUrl);
        return { status: 204 };
      },
    ),
    defineRoute(
      {
        method: 'put',
        path: '/v1/me/password',
        summary: 'Change the password; every other session of the user ends',
        auth: 'user',
        body: changePasswordBodySchema,
        bodyExample: { current_password: 'the old one', new_password: 'a new long passphrase' },
        responses: { 204: empty('Changed; other sessions are signed out') },
      },
      async ({ caller, body, req }) => {
        const attempt = authAttemptOf(req, `password:${caller.user.user_id}`);
        await deps.authFailures.check(attempt);
        try {
          await changePassword(deps.models, caller.user, body.current_password, body.new_password);
        } catch (error) {
          await deps.authFailures.recordFailure(attempt);
          throw error;
        }
        await deps.sessions.endAllOf(caller.user.user_id, sessionSecretOf(req) ?? undefined);
        return { status: 204 };
      },
    ),
  ];
}
