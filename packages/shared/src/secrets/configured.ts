import type { Logger } from '../logger.js';
import type { Models } from '../models/index.js';
import { MasterKeyMismatchError, openSecretKeyring } from './keyring.js';
import { SecretStore } from './secret-store.js';

/**
 * The start-up step of a service that handles secrets (gateway, runner), before it serves: no
 * SECRETS_MASTER_KEY → no store (secret routes refuse, modules naming credentials fail); a key
 * that is not the database's → the process writes why (fingerprints only) and exits 1, as for a
 * bad variable; otherwise the store, after any rotation the previous key asked for.
 */
export async function openConfiguredSecrets(
  service: string,
  models: Models,
  config: {
    SECRETS_MASTER_KEY?: string | undefined;
    SECRETS_PREVIOUS_MASTER_KEY?: string | undefined;
  },
  logger: Logger,
): Promise<SecretStore | null> {
  if (!config.SECRETS_MASTER_KEY) {
    logger.warn('SECRETS_MASTER_KEY is not set: users cannot store or use secrets');
    return null;
  }
  try {
    const { keyring, report } = await openSecretKeyring(models, {
      current: config.SECRETS_MASTER_KEY,
      previous: config.SECRETS_PREVIOUS_MASTER_KEY,
    });
    if (report.rotatedFrom)
      logger.info(
        { from: report.rotatedFrom, to: report.masterKeyId, rewrapped: report.rewrapped },
        'secrets rotated to a new master key; SECRETS_PREVIOUS_MASTER_KEY can be removed once every process runs the new key',
      );
    else if (report.rewrapped > 0)
      logger.info({ rewrapped: report.rewrapped }, 'data keys re-wrapped under the master key');
    if (report.stranded > 0)
      logger.error(
        { stranded: report.stranded, master_key_id: report.masterKeyId },
        'some users’ data keys are under a master key this process does not have: their secrets cannot be read',
      );
    logger.info({ master_key_id: report.masterKeyId }, 'secrets ready');
    return new SecretStore(models, keyring);
  } catch (error) {
    if (error instanceof MasterKeyMismatchError) {
      process.stderr.write(`${service}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
