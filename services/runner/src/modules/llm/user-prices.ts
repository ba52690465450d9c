import type { LlmPrice } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';

/**
 * A user's own price of one model, read at the call (a table changed mid-run applies to the
 * calls after it); undefined when the user set none for that model.
 */
export function userPriceReader(models: Models) {
  return async (userId: string, model: string): Promise<LlmPrice | undefined> => {
    const record = await models.userLlmPrices
      .findOne({ user_id: userId }, { prices: { $elemMatch: { model } } })
      .lean();
    const price = record?.prices?.[0];
    return price
      ? {
          input_per_1k_tokens: price.input_per_1k_tokens,
          output_per_1k_tokens: price.output_per_1k_tokens,
        }
      : undefined;
  };
}
