import type { PlannedModule, WorkflowRunRecord } from '@stepwise/shared';
import { ModuleFailure } from './module-failure.js';
import { scrubSecretValues } from './redaction.js';

/** What the runner needs of the secret store: one user's values by name. */
export interface SecretReader {
  read(userId: string, names: readonly string[]): Promise<Map<string, string>>;
}

/**
 * The values a module's `credentials` name, by slot, read from the run owner's secrets at call
 * time (only ever the owner's: the run's user_id is the one key of the read). Undefined for a
 * module that names none. A name the owner has not stored fails the module, for good: another
 * attempt would find the same.
 */
export async function resolveCredentials(
  secrets: SecretReader | null | undefined,
  run: Pick<WorkflowRunRecord, 'user_id'>,
  planned: PlannedModule,
): Promise<Record<string, string> | undefined> {
  const named = planned.module.credentials;
  if (named === undefined || Object.keys(named).length === 0) return undefined;
  const where = `step ${planned.step.step_id}, module ${planned.module.name}`;
  if (!secrets)
    throw new ModuleFailure(
      'SECRETS_NOT_CONFIGURED',
      `${where} names credentials, but this server has no SECRETS_MASTER_KEY to read secrets with`,
      false,
    );
  let values: Map<string, string>;
  try {
    values = await secrets.read(run.user_id, Object.values(named));
  } catch (error) {
    // A store that cannot open the owner's secrets (a master key this runner lacks) is the
    // administrator's to fix; the message names keys by fingerprint only.
    if ((error as Error).name === 'SecretUnreadableError')
      throw new ModuleFailure('SECRET_UNREADABLE', `${where}: ${(error as Error).message}`, false);
    throw error;
  }
  const resolved: Record<string, string> = {};
  for (const [slot, name] of Object.entries(named)) {
    const value = values.get(name);
    if (value === undefined)
      throw new ModuleFailure(
        'SECRET_NOT_FOUND',
        `${where} names secret ${name} (credential ${slot}), which user ${run.user_id} has not stored (PUT /v1/me/secrets/${name})`,
        false,
      );
    resolved[slot] = value;
  }
  return resolved;
}

/** The failure with every credential value scrubbed from its message. */
export function scrubFailure(failure: ModuleFailure, secrets: readonly string[]): ModuleFailure {
  const message = scrubSecretValues(failure.message, secrets);
  return message === failure.message
    ? failure
    : new ModuleFailure(failure.code, message, failure.retryable);
}
