import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API key secrets: `sk_` + 256 random bits. Only the sha256 of a secret is stored, so a copy of the
 * database does not hand out working keys; lookups go by that hash.
 */
export function generateKeySecret(): string {
  return `sk_${randomBytes(32).toString('base64url')}`;
}

/**
 * Keys are found by this hash through a unique index, not by comparing secrets one by one, so the
 * index walk's timing depends only on how the presented secret's *hash* compares with stored
 * hashes. Learning a stored hash, even all of it, does not give a working key: that would take a
 * sha256 preimage of a 256-bit random secret. Nothing of the secret itself leaks this way.
 */
export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The visible start of a secret, so that a person can tell their keys apart. */
export function keyPrefix(secret: string): string {
  return secret.slice(0, 10);
}

/**
 * Compares two secrets in time that depends on neither: both are hashed to 32-byte digests first,
 * so `timingSafeEqual` always compares equal lengths and no early return reveals how long the
 * expected secret is or how much of it matched. An empty expected secret never matches, so a
 * missing setting cannot be met by a missing credential.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}
