import { z } from 'zod';
import { MAX_OPTION_DESCRIPTION_LENGTH, MAX_OPTION_IMAGE_LENGTH } from './interaction-requests.js';

/**
 * The module catalog as the resolver and the runner both see it: each module's id, whether a
 * person takes part, and the schema of its inputs. Implementations live in the runner; plugins add
 * declarations of their own the same way.
 */
export interface ModuleDeclaration {
  readonly interactive: boolean;
  readonly inputs: z.ZodObject;
  readonly summary: string;
  /**
   * What running the module does outside the run's log (effects.md, rule 2): `none` (a pure
   * function of its inputs, or only reads), or `external` (a provider is called, bytes are stored,
   * shared history changes). The runner commits an `external` module's start before it runs and
   * its end right after; only `none` modules are batched.
   */
  readonly effects: ModuleEffects;
  /**
   * How the runner renders an input before the module sees it: `value` (default: a lone
   * `{{ expr }}` yields its native value), `text` (always a string), or `raw` (not rendered; the
   * module renders it itself, e.g. `track_key` once per option).
   */
  readonly renderAs?: Readonly<Record<string, 'value' | 'text' | 'raw'>>;
  /**
   * The credential slots a module takes (e.g. `api_key`): a workflow fills them with secret names
   * in `credentials`; the runner hands the values to the module in `context.credentials`.
   */
  readonly credentials?: readonly string[];
}

export const moduleEffectsSchema = z.enum(['none', 'external']);
export type ModuleEffects = z.infer<typeof moduleEffectsSchema>;

const nonNegativeInt = z.number().int().nonnegative();

const formFieldSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/),
  label: z.string().optional(),
  type: z.enum(['string', 'number', 'boolean', 'enum']),
  required: z.boolean().default(true),
  options: z.array(z.string()).min(1).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  min_length: nonNegativeInt.optional(),
  max_length: nonNegativeInt.optional(),
  pattern: z.string().optional(),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
});

/**
 * A `user.select` option is any JSON value (what `selected` becomes). An object option may carry a
 * `description` (long text, e.g. an LLM draft) and an `image` (a URL or an artifact id), which the
 * request shows beside it; other keys are the author's own.
 */
const optionExtras = {
  description: z.string().max(MAX_OPTION_DESCRIPTION_LENGTH).optional(),
  image: z.string().max(MAX_OPTION_IMAGE_LENGTH).optional(),
};
const selectOptionSchema = z.unknown().superRefine((option, context) => {
  if (typeof option !== 'object' || option === null || Array.isArray(option)) return;
  // Checked field by field, so that the error names `options[2].description`, not the option.
  for (const [key, schema] of Object.entries(optionExtras)) {
    const result = schema.safeParse((option as Record<string, unknown>)[key]);
    for (const issue of result.error?.issues ?? [])
      context.addIssue({ code: 'custom', path: [key, ...issue.path], message: issue.message });
  }
});

const chatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});

const keywordInputSchema = z.union([
  z.string().min(1),
  z.strictObject({
    keyword: z.string().min(1),
    weight: z.number().positive().optional(),
    category: z.string().optional(),
  }),
]);

/** A media type, or a family of them (`image/*`), as uploads and job results are checked against. */
const mediaTypePatternSchema = z
  .string()
  .regex(/^[a-z]+\/(\*|[a-z0-9][a-z0-9.+-]*)$/, 'a media type such as image/png or image/*');

/** Largest file a person may upload to one `user.file_input` (the gateway may set a lower cap). */
export const MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_UPLOAD_BYTES = 20 * 1024 * 1024;

/** One HTTP call an `api.job` makes: a templated URL, method, headers and body. */
const jobCallSchema = z.strictObject({
  url: z.string(),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH']).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.unknown().optional(),
});

export const builtInModuleDeclarations = {
  'transform.set': {
    interactive: false,
    effects: 'none',
    summary: 'Sets a value (templated) as the output `value`',
    inputs: z.strictObject({ value: z.unknown() }),
  },
  'transform.template': {
    interactive: false,
    effects: 'none',
    summary: 'Renders a Liquid template to the output `text`',
    inputs: z.strictObject({ template: z.string() }),
    renderAs: { template: 'text' },
  },
  'user.select': {
    interactive: true,
    effects: 'none',
    summary: 'A person picks one or more of a list of options',
    inputs: z.strictObject({
      prompt: z.string(),
      options: z.array(selectOptionSchema).min(1),
      multi: z.boolean().default(false),
      min: nonNegativeInt.optional(),
      max: nonNegativeInt.optional(),
      track_key: z.string().optional(),
    }),
    renderAs: { track_key: 'raw' },
  },
  'user.text_input': {
    interactive: true,
    effects: 'none',
    summary: 'A person types a text',
    inputs: z.strictObject({
      prompt: z.string(),
      default: z.string().optional(),
      pattern: z.string().optional(),
      min_length: nonNegativeInt.optional(),
      max_length: nonNegativeInt.optional(),
    }),
  },
  'user.form': {
    interactive: true,
    effects: 'none',
    summary: 'A person fills in a form of typed fields',
    inputs: z.strictObject({
      prompt: z.string().optional(),
      fields: z.array(formFieldSchema).min(1),
    }),
  },
  'user.confirm': {
    interactive: true,
    effects: 'none',
    summary: 'A person approves or rejects',
    inputs: z.strictObject({ message: z.string() }),
  },
  'user.file_input': {
    interactive: true,
    effects: 'none',
    summary: 'A person uploads one or more files (checked by their bytes, not their names)',
    inputs: z.strictObject({
      prompt: z.string(),
      /** Media types accepted, checked against the file's magic bytes (`image/*` for a family). */
      accept: z.array(mediaTypePatternSchema).min(1).max(50),
      max_bytes: z.number().int().positive().max(MAX_UPLOAD_BYTES).default(DEFAULT_UPLOAD_BYTES),
      min_files: nonNegativeInt.max(100).default(1),
      max_files: z.number().int().positive().max(100).default(1),
    }),
  },
  'history.keywords': {
    interactive: false,
    effects: 'external',
    summary: "Saves keywords to, or loads them from, the template's keyword history",
    inputs: z.strictObject({
      mode: z.enum(['save', 'load']),
      keywords: z.array(keywordInputSchema).optional(),
      source: z.enum(['generated', 'selected']).optional(),
      ttl_days: z.number().positive().max(3650).optional(),
      category: z.string().optional(),
      step_id: z.string().optional(),
      module_name: z.string().optional(),
      limit: z.number().int().positive().max(1000).optional(),
    }),
  },
  'api.fetch': {
    interactive: false,
    effects: 'external',
    summary: 'Calls an HTTP API on an allowed host',
    inputs: z.strictObject({
      url: z.string(),
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
      timeout_ms: z.number().int().positive().max(120_000).optional(),
      /** false: do not send the attempt's Idempotency-Key on a non-GET call. */
      idempotency_key: z.boolean().optional(),
    }),
  },
  'api.llm': {
    interactive: false,
    effects: 'external',
    summary:
      'A chat completion: an OpenAI-compatible endpoint or Anthropic’s Messages API, with the key from credentials.api_key',
    credentials: ['api_key'],
    inputs: z.strictObject({
      provider: z.enum(['openai', 'anthropic']).default('openai'),
      /** The provider's base URL; the deployment's (LLM_BASE_URL, ANTHROPIC_BASE_URL) without it. */
      base_url: z.url({ protocol: /^https?$/ }).optional(),
      model: z.string(),
      messages: z.array(chatMessageSchema).min(1).optional(),
      prompt: z.string().optional(),
      system: z.string().optional(),
      json_schema: z.record(z.string(), z.unknown()).optional(),
      temperature: z.number().min(0).max(2).optional(),
      max_tokens: z.number().int().positive().optional(),
    }),
  },
  'api.job': {
    interactive: false,
    effects: 'external',
    summary:
      'Submits a job to an asynchronous provider, polls it durably until it ends, and stores its result files as artifacts',
    inputs: z.strictObject({
      submit: jobCallSchema,
      /** JSONPath to the job id in the submission's answer; without it the answer is the result. */
      job_id_path: z.string().min(1).optional(),
      /** The status call; `{job_id}` in its URL is replaced by the job id. */
      status: jobCallSchema.optional(),
      /** JSONPath to the job's status in the status answer. */
      status_path: z.string().min(1).default('$.status'),
      success_values: z.array(z.string()).min(1).default(['succeeded', 'completed', 'success']),
      failure_values: z.array(z.string()).default(['failed', 'error', 'canceled', 'cancelled']),
      /** JSONPath to the provider's message when the job fails. */
      error_path: z.string().min(1).default('$.error'),
      /**
       * JSONPath to the result files: URLs (`url`) or base64 strings (`base64`). Not needed when a
       * provider answers the submission with the file itself (no `job_id_path`, not JSON).
       */
      result_path: z.string().min(1).optional(),
      result_encoding: z.enum(['url', 'base64']).default('url'),
      /** Media types the result files must be (by their bytes); anything else fails the module. */
      accept: z.array(mediaTypePatternSchema).min(1).max(50).default(['image/*']),
      max_results: z.number().int().positive().max(100).default(16),
      /** The artifacts' name (an index and extension are added). */
      name: z.string().min(1).max(200).default('result'),
      poll: z
        .strictObject({
          initial_ms: z.number().int().min(100).max(3_600_000).default(1_000),
          max_ms: z.number().int().min(100).max(3_600_000).default(30_000),
          factor: z.number().min(1).max(10).default(2),
        })
        .default({ initial_ms: 1_000, max_ms: 30_000, factor: 2 }),
      /** From the submission: a job not done by then fails the module (JOB_TIMEOUT). */
      timeout_ms: z
        .number()
        .int()
        .positive()
        .max(7 * 24 * 3_600_000)
        .default(600_000),
      /** One call's time limit. */
      request_timeout_ms: z.number().int().positive().max(120_000).optional(),
      /** false: do not send the attempt's Idempotency-Key with the submission. */
      idempotency_key: z.boolean().optional(),
    }),
  },
  'artifact.save': {
    interactive: false,
    effects: 'external',
    summary: 'Stores a file produced by the run',
    inputs: z.strictObject({
      name: z.string(),
      content: z.unknown(),
      content_type: z.string().optional(),
      encoding: z.enum(['text', 'json', 'base64']).optional(),
      kind: z.enum(['deliverable', 'debug', 'state']).default('deliverable'),
    }),
  },
} as const satisfies Record<string, ModuleDeclaration>;

export type BuiltInModuleId = keyof typeof builtInModuleDeclarations;

export type ModuleCatalog = ReadonlyMap<string, ModuleDeclaration>;

export function createModuleCatalog(
  extra: Readonly<Record<string, ModuleDeclaration>> = {},
): ModuleCatalog {
  return new Map<string, ModuleDeclaration>([
    ...Object.entries(builtInModuleDeclarations),
    ...Object.entries(extra),
  ]);
}
