import { createHash } from 'node:crypto';

/** The hash access keys are stored under (as services/gateway/src/accounts/keys.ts computes it). */
export function hashKeySecretForTests(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
