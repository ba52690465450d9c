import { z } from 'zod';
import { documented, storableKeyJsonSchema } from './schema-docs.js';

/**
 * Per-user secrets (provider keys) and per-user LLM prices (docs/secrets.md). A secret's value is
 * write-only: it goes in with PUT and never comes back out of the API; workflows reach it only
 * through a module's `credentials`, resolved inside the runner.
 */

/**
 * A secret's name is env-var style (`OPENAI_KEY`). Deliberately unlike a template name
 * (`^[a-z0-9][a-z0-9_-]{0,63}$`): the two can never be mistaken for one another, in a path or in a
 * workflow's `credentials`.
 */
export const SECRET_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Largest secret value, in UTF-8 bytes: far above any provider key, far below a document. */
export const MAX_SECRET_VALUE_BYTES = 16 * 1024;

/** Most models a user's price table may list. */
export const MAX_PRICED_MODELS = 500;

export const secretNameSchema = z
  .string()
  .regex(
    SECRET_NAME_PATTERN,
    'must be 1-64 upper-case letters, digits or _, starting with a letter (e.g. OPENAI_KEY)',
  )
  .describe('The secret’s name, env-var style (e.g. OPENAI_KEY)');

export const secretParamsSchema = z.strictObject({ secret_name: secretNameSchema });

const utf8 = new TextEncoder();

export const putSecretBodySchema = z.strictObject({
  value: z
    .string()
    .min(1, 'must not be empty')
    .refine((value) => utf8.encode(value).length <= MAX_SECRET_VALUE_BYTES, {
      message: `must be at most ${MAX_SECRET_VALUE_BYTES} bytes`,
    })
    .describe('The secret’s value (e.g. a provider API key); stored encrypted, never shown again'),
});
export type PutSecretBody = z.infer<typeof putSecretBodySchema>;

export const secretViewSchema = z
  .object({
    name: z.string(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Secret', description: 'A stored secret: its name and times, never its value' });
export type SecretView = z.infer<typeof secretViewSchema>;

export const secretListSchema = z.object({ items: z.array(secretViewSchema) });

export const llmPriceSchema = z.strictObject({
  input_per_1k_tokens: z.number().nonnegative().max(1_000_000),
  output_per_1k_tokens: z.number().nonnegative().max(1_000_000),
});
export type LlmPrice = z.infer<typeof llmPriceSchema>;

const modelName = z.string().min(1).max(200);

export const llmPriceTableSchema = documented(
  z
    .record(modelName, llmPriceSchema)
    .refine((prices) => Object.keys(prices).length <= MAX_PRICED_MODELS, {
      message: `lists more than ${MAX_PRICED_MODELS} models`,
    })
    .describe(
      'Price per 1,000 tokens by model name; a model not listed costs what the deployment’s LLM_PRICES says',
    ),
  // A model's name is a key of the stored table: the document states the rule every stored key
  // follows (no NUL, no reserved name), which the server checks on every body.
  (json) => {
    json['propertyNames'] = { ...storableKeyJsonSchema, minLength: 1, maxLength: 200 };
    json['maxProperties'] = MAX_PRICED_MODELS;
  },
);

export type LlmPriceTable = z.infer<typeof llmPriceTableSchema>;

export const llmPricesBodySchema = z.strictObject({ prices: llmPriceTableSchema });

export const llmPricesViewSchema = z
  .object({
    prices: z.record(z.string(), llmPriceSchema),
    /** When the table was last replaced; null before the user ever set one. */
    updated_at: z.iso.datetime().nullable(),
  })
  .meta({
    id: 'LlmPrices',
    description: 'Your own LLM price table (models not listed: LLM_PRICES)',
  });
export type LlmPricesView = z.infer<typeof llmPricesViewSchema>;
