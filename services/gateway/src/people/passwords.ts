import argon2 from 'argon2';

/**
 * argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): about 40 ms here,
 * slow enough to make offline guessing expensive, fast enough that the gateway's event loop is
 * not held (argon2 hashes on libuv's thread pool).
 */
const hashOptions = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, hashOptions);
}

export async function passwordMatches(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    // A malformed stored hash matches nothing.
    return false;
  }
}

/**
 * A hash of a password nobody has, verified when the login names no one: a sign-in for an
 * unknown user then takes as long as one for a known user, so timing does not tell which
 * usernames exist.
 */
let decoyHash: Promise<string> | undefined;
export async function verifyDecoy(password: string): Promise<void> {
  decoyHash ??= hashPassword(`decoy-${Math.random()}`);
  await passwordMatches(await decoyHash, password);
}
