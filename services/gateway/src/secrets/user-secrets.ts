import {
  NotFoundError,
  StepwiseError,
  type LlmPriceTable,
  type LlmPricesView,
  type SecretView,
} from '@stepwise/shared';
import type { Models, SecretStore, SecretSummary } from '@stepwise/shared/node';

/**
 * The gateway's side of per-user secrets and prices (docs/secrets.md): plain functions over the
 * store, each scoped to the caller's own user id; nothing here knows of HTTP.
 */

export interface SecretDependencies {
  models: Models;
  /** Null when SECRETS_MASTER_KEY is not configured: every secret route then refuses. */
  secrets: SecretStore | null;
}

function storeOf(deps: SecretDependencies): SecretStore {
  if (!deps.secrets)
    throw new StepwiseError(
      'NOT_CONFIGURED',
      'this server stores no secrets: its administrator has not set SECRETS_MASTER_KEY',
    );
  return deps.secrets;
}

export function secretView(secret: SecretSummary): SecretView {
  return {
    name: secret.name,
    created_at: secret.created_at.toISOString(),
    updated_at: secret.updated_at.toISOString(),
  };
}

export async function putUserSecret(
  deps: SecretDependencies,
  userId: string,
  name: string,
  value: string,
): Promise<{ view: SecretView; created: boolean }> {
  const { secret, created } = await storeOf(deps).put(userId, name, value);
  return { view: secretView(secret), created };
}

export async function listUserSecrets(
  deps: SecretDependencies,
  userId: string,
): Promise<SecretView[]> {
  return (await storeOf(deps).list(userId)).map(secretView);
}

export async function deleteUserSecret(
  deps: SecretDependencies,
  userId: string,
  name: string,
): Promise<void> {
  if (!(await storeOf(deps).delete(userId, name))) throw new NotFoundError('secret', name);
}

export async function readUserPrices(models: Models, userId: string): Promise<LlmPricesView> {
  const record = await models.userLlmPrices.findOne({ user_id: userId }).lean();
  return {
    prices: Object.fromEntries(
      (record?.prices ?? []).map((price) => [
        price.model,
        {
          input_per_1k_tokens: price.input_per_1k_tokens,
          output_per_1k_tokens: price.output_per_1k_tokens,
        },
      ]),
    ),
    updated_at: record ? record.updated_at.toISOString() : null,
  };
}

/** Replaces the user's whole price table (an empty one falls back to LLM_PRICES everywhere). */
export async function replaceUserPrices(
  models: Models,
  userId: string,
  prices: LlmPriceTable,
): Promise<LlmPricesView> {
  await models.userLlmPrices.updateOne(
    { user_id: userId },
    {
      $set: {
        prices: Object.entries(prices)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([model, price]) => ({ model, ...price })),
        updated_at: new Date(),
      },
      $setOnInsert: { user_id: userId },
    },
    { upsert: true },
  );
  return readUserPrices(models, userId);
}
