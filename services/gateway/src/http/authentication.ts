import type { Request } from 'express';
import { StepwiseError } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { authenticateKey, createUserReader } from '../accounts/accounts.js';
import { secretsEqual } from '../accounts/keys.js';
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

/**
 * User routes take an API key; admin routes take the admin token. A valid user key on an admin
 * route is 403 (known, not allowed); anything unrecognised is 401. Keys are looked up on every
 * request, so a revoked key stops working at once on every gateway process.
 */
export function createAuthenticator(
  models: Models,
  adminToken: string,
  limitRate: (userId: string) => Promise<void> = async () => undefined,
): Authenticator {
  const readUser = createUserReader(models);
  return async (req, mode) => {
    const token = bearerToken(req);
    if (!token) throw unauthenticated('missing bearer token (Authorization: Bearer <api key>)');
    if (mode === 'admin' && secretsEqual(token, adminToken)) return { kind: 'admin' };
    const found = await authenticateKey(models, token, readUser);
    if (!found) throw unauthenticated('unknown or revoked API key');
    if (mode === 'admin') throw new StepwiseError('FORBIDDEN', 'this route needs the admin token');
    await limitRate(found.user.user_id);
    return { kind: 'user', user: found.user, keyId: found.keyId };
  };
}
