import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API key secrets: `sk_` + 256 random bits. Only the sha256 of a secret is stored, so a copy of the
 * database does not hand out working keys; lookups go by that hash.
 */
export function generateKeySecret(): string {
  return `sk_${randomBytes(32).toString('base64url')}`;
}

export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The visible start of a secret, so that a person can tell their keys apart. */
export function keyPrefix(secret: string): string {
  return secret.slice(0, 10);
}

/** Compares in constant time; hashing first makes the lengths equal. */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
