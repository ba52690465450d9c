import { openSecretKeyring, SecretStore, type Models } from '@stepwise/shared/node';

/**
 * The master key test stacks run under (base64 of 32 fixed bytes): public, like every test
 * secret, and never a deployment's.
 */
export const TEST_SECRETS_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

/** Another valid master key, for rotation and wrong-key tests. */
export const OTHER_SECRETS_MASTER_KEY = Buffer.alloc(32, 9).toString('base64');

/** A secret store on a test file's database under the test master key (its keyring checked). */
export async function testSecretStore(
  models: Models,
  masterKey: string = TEST_SECRETS_MASTER_KEY,
): Promise<SecretStore> {
  const { keyring } = await openSecretKeyring(models, { current: masterKey });
  return new SecretStore(models, keyring);
}
