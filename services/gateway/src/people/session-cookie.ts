import type { Request, Response } from 'express';
import { parse as parseCookies } from 'cookie';
import { StepwiseError } from '@stepwise/shared';
import { secretsEqual } from '../accounts/keys.js';

/** The cookie that carries a signed-in session's secret. */
export const SESSION_COOKIE = 'stepwise_session';
/** The header a cookie-authenticated write must carry, equal to the session's csrf_token. */
export const CSRF_HEADER = 'X-CSRF-Token';

export function sessionSecretOf(req: Request): string | null {
  const header = req.get('cookie');
  if (!header) return null;
  const secret = parseCookies(header)[SESSION_COOKIE];
  return secret && secret.length > 0 ? secret : null;
}

/** Where the app is served from: PUBLIC_URL when set, else what the request itself names. */
export function ownOrigin(req: Request, publicUrl: string | undefined): string {
  return publicUrl ? new URL(publicUrl).origin : `${req.protocol}://${req.get('host') ?? ''}`;
}

function isSecure(req: Request, publicUrl: string | undefined): boolean {
  return req.secure || (publicUrl?.startsWith('https://') ?? false);
}

export function setSessionCookie(
  req: Request,
  res: Response,
  secret: string,
  publicUrl: string | undefined,
  maxAgeMs: number,
): void {
  res.cookie(SESSION_COOKIE, secret, {
    httpOnly: true,
    sameSite: 'lax',
    secure: isSecure(req, publicUrl),
    path: '/',
    maxAge: maxAgeMs,
  });
}

export function clearSessionCookie(
  req: Request,
  res: Response,
  publicUrl: string | undefined,
): void {
  res.clearCookie(SESSION_COOKIE, {
    httpOnly: true,
    sameSite: 'lax',
    secure: isSecure(req, publicUrl),
    path: '/',
  });
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A write made with the session cookie must come from the app's own origin and carry the
 * session's CSRF token. Either alone would do against today's browsers; both together also hold
 * against an old browser that omits `Origin`, or a same-site sibling host that can send cookies.
 * Reads need neither: a cross-site page cannot read our answers (no CORS), and images, downloads
 * and the event stream must work with the cookie alone.
 */
export function checkCookieWrite(
  req: Request,
  csrfToken: string,
  publicUrl: string | undefined,
): void {
  if (safeMethods.has(req.method)) return;
  const origin = req.get('origin');
  const fetchSite = req.get('sec-fetch-site');
  const sameOrigin =
    origin !== undefined ? origin === ownOrigin(req, publicUrl) : fetchSite === 'same-origin';
  if (!sameOrigin)
    throw new StepwiseError(
      'FORBIDDEN',
      'cross-site request refused: a write with the session cookie must come from this server’s own pages',
    );
  if (!secretsEqual(req.get(CSRF_HEADER) ?? '', csrfToken))
    throw new StepwiseError(
      'FORBIDDEN',
      `a write with the session cookie needs the ${CSRF_HEADER} header of the session (GET /v1/me/session)`,
      [{ path: `header.${CSRF_HEADER}`, message: 'missing or not this session’s token' }],
    );
}
