import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with a fresh 96-bit IV per sealing and additional authenticated data (AAD) that
 * binds a ciphertext to where it belongs: a sealed value moved to another user or another name
 * fails to open, as a tampered one does.
 */

export const MASTER_KEY_BYTES = 32;
const IV_BYTES = 12;

export interface Sealed {
  ciphertext: string;
  iv: string;
  auth_tag: string;
}

/** Opening failed: wrong key, wrong AAD, or altered bytes (GCM cannot tell which). */
export class SealBrokenError extends Error {
  override readonly name = 'SealBrokenError';
}

export function sealWithKey(key: Buffer, plaintext: Buffer, aad: string): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    ciphertext: ciphertext.toString('base64'),
    iv: iv.toString('base64'),
    auth_tag: cipher.getAuthTag().toString('base64'),
  };
}

export function openSealed(key: Buffer, sealed: Sealed, aad: string): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.auth_tag, 'base64'));
    return Buffer.concat([
      decipher.update(Buffer.from(sealed.ciphertext, 'base64')),
      decipher.final(),
    ]);
  } catch {
    throw new SealBrokenError('the sealed value does not open with this key and context');
  }
}

/**
 * The AADs. NUL separates the parts: neither a user id nor a secret name can contain it, so
 * no two (user, name) pairs share an AAD.
 */
export const aadOf = {
  secret: (userId: string, name: string) => `stepwise:secret\u0000${userId}\u0000${name}`,
  dataKey: (userId: string) => `stepwise:data-key\u0000${userId}`,
  keyringCheck: (masterKeyId: string) => `stepwise:keyring\u0000${masterKeyId}`,
};

/** A master key and its fingerprint: what the database records instead of the key. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

/**
 * `mk_` + the first 16 hex digits of SHA-256 over a label and the key: enough to tell keys apart
 * in a message, useless for finding the key (it is 256 random bits).
 */
export function masterKeyFingerprint(key: Buffer): string {
  const digest = createHash('sha256').update('stepwise master key\u0000').update(key).digest('hex');
  return `mk_${digest.slice(0, 16)}`;
}

/** A master key from its base64 form (SECRETS_MASTER_KEY); config has checked it is 32 bytes. */
export function masterKeyFrom(base64: string): MasterKey {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== MASTER_KEY_BYTES)
    throw new Error(`a master key must be ${MASTER_KEY_BYTES} bytes`);
  return { id: masterKeyFingerprint(key), key };
}
