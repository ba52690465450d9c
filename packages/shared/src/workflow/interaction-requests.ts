import { z } from 'zod';
import { documented, JSON_VALUE_REF } from '../schema-docs.js';
import { canonicalJson } from '../canonical-json.js';

/**
 * What a person is shown when a module asks them something: one named schema per built-in
 * interactive module (the runner's modules build their requests with these, so the API and the
 * OpenAPI document agree), plus the `display` items any interactive module may declare to show
 * context beside the question (people.md, "Context: what the person sees beside the question").
 */

export const displayKinds = [
  'text',
  'markdown',
  'json',
  'image',
  'audio',
  'video',
  'artifact',
] as const;
export const displayKindSchema = z
  .enum(displayKinds)
  .meta({ id: 'DisplayKind', description: 'How a display item is shown' });
export type DisplayKind = z.infer<typeof displayKindSchema>;

/** Most display items one module may declare: beyond this a question is no longer readable. */
export const MAX_DISPLAY_ITEMS = 20;
export const MAX_DISPLAY_LABEL_LENGTH = 200;
/** Longest `value` template an author may write for one item. */
export const MAX_DISPLAY_TEMPLATE_LENGTH = 20_000;
/**
 * Longest rendered value of one item (characters; a `json` value's JSON text). Bounds what every
 * interaction request stores and sends (20 items at most 2 MB together), while leaving room for a
 * long LLM draft.
 */
export const MAX_DISPLAY_VALUE_LENGTH = 100_000;

const displayLabelSchema = z.string().min(1).max(MAX_DISPLAY_LABEL_LENGTH);

/** One item of a module's `display`, as the workflow declares it (`value` is a Liquid template). */
export const displayItemDefinitionSchema = z
  .strictObject({
    label: displayLabelSchema,
    kind: displayKindSchema,
    value: z.string().max(MAX_DISPLAY_TEMPLATE_LENGTH),
  })
  .meta({
    id: 'DisplayItemDefinition',
    description:
      'Context shown beside a question: `value` is a Liquid template rendered with the run state when the question is asked (for `artifact`, it renders an artifact id)',
  });

export const displayDefinitionSchema = z
  .array(displayItemDefinitionSchema)
  .max(MAX_DISPLAY_ITEMS, `at most ${MAX_DISPLAY_ITEMS} display items`);
export type DisplayItemDefinition = z.infer<typeof displayItemDefinitionSchema>;

/** Any JSON value (a rendered `json` item); the document refers to `JsonValue`. */
const jsonValue = () =>
  documented(z.unknown(), (json) => {
    json['$ref'] = JSON_VALUE_REF;
  });

/** A rendered display item, as it travels in the interaction request. */
export const displayItemSchema = z
  .union([
    z.strictObject({
      label: displayLabelSchema,
      kind: z.enum(['text', 'markdown', 'image', 'audio', 'video', 'artifact']),
      value: z.string(),
    }),
    z.strictObject({
      label: displayLabelSchema,
      kind: z.literal('json'),
      /** The rendered text parsed as JSON when it parses (else the text itself). */
      value: jsonValue(),
    }),
  ])
  .meta({
    id: 'DisplayItem',
    description:
      'Rendered context: text or markdown, a JSON value, a media URL, or an artifact id (`artifact`)',
  });
export type DisplayItem = z.infer<typeof displayItemSchema>;

/** Every request carries the module's rendered `display` when the workflow declares one. */
const withDisplay = { display: z.array(displayItemSchema).max(MAX_DISPLAY_ITEMS).optional() };

/** Longest option `description` (an LLM draft fits) and `image` (a URL or an artifact id). */
export const MAX_OPTION_DESCRIPTION_LENGTH = 100_000;
export const MAX_OPTION_IMAGE_LENGTH = 4096;

export const selectOptionViewSchema = z
  .strictObject({
    index: z.number().int().min(0),
    /** The option as the workflow gave it; what `selected` becomes when it is chosen. */
    value: jsonValue(),
    /** The option's `track_key` rendered, or null without one. */
    key: z.string().nullable(),
    /** When this key was last chosen in the template (ISO time), or null. */
    last_used: z.string().nullable(),
    /** The option's own `description`, when the option is an object that has one. */
    description: z.string().max(MAX_OPTION_DESCRIPTION_LENGTH).optional(),
    /** The option's own `image` (a URL or an artifact id), when it has one. */
    image: z.string().max(MAX_OPTION_IMAGE_LENGTH).optional(),
  })
  .meta({ id: 'SelectOption', description: 'One option of a user.select request' });
export type SelectOptionView = z.infer<typeof selectOptionViewSchema>;

export const selectRequestSchema = z
  .strictObject({
    prompt: z.string(),
    options: z.array(selectOptionViewSchema),
    multi: z.boolean(),
    /** How many options must be chosen (1 and 1 unless `multi`). */
    min: z.number().int().min(0),
    max: z.number().int().min(0),
    ...withDisplay,
  })
  .meta({ id: 'SelectRequest', description: 'user.select: pick one or more options' });
export type SelectRequest = z.infer<typeof selectRequestSchema>;

export const textInputRequestSchema = z
  .strictObject({
    prompt: z.string(),
    default: z.string().nullable(),
    /** A regular expression the whole text must match, or null. */
    pattern: z.string().nullable(),
    min_length: z.number().int().min(0).nullable(),
    max_length: z.number().int().min(0).nullable(),
    ...withDisplay,
  })
  .meta({ id: 'TextInputRequest', description: 'user.text_input: type a text' });
export type TextInputRequest = z.infer<typeof textInputRequestSchema>;

export const formFieldViewSchema = z
  .strictObject({
    name: z.string(),
    label: z.string().optional(),
    type: z.enum(['string', 'number', 'boolean', 'enum']),
    required: z.boolean(),
    options: z.array(z.string()).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    min_length: z.number().int().min(0).optional(),
    max_length: z.number().int().min(0).optional(),
    pattern: z.string().optional(),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  })
  .meta({ id: 'FormField', description: 'One field of a user.form request' });

export const formRequestSchema = z
  .strictObject({
    prompt: z.string().nullable(),
    fields: z.array(formFieldViewSchema),
    ...withDisplay,
  })
  .meta({ id: 'FormRequest', description: 'user.form: fill in typed fields' });
export type FormRequest = z.infer<typeof formRequestSchema>;

export const confirmRequestSchema = z
  .strictObject({ message: z.string(), ...withDisplay })
  .meta({ id: 'ConfirmRequest', description: 'user.confirm: approve or reject' });
export type ConfirmRequest = z.infer<typeof confirmRequestSchema>;

export const fileInputRequestSchema = z
  .strictObject({
    prompt: z.string(),
    /** Media types accepted (`image/png`, or a family: `image/*`), checked by the file's bytes. */
    accept: z.array(z.string()).min(1),
    /** Largest size of one file, in bytes (the gateway's MAX_FILE_UPLOAD_BYTES may be lower). */
    max_bytes: z.number().int().positive(),
    min_files: z.number().int().min(0),
    max_files: z.number().int().min(1),
    ...withDisplay,
  })
  .meta({
    id: 'FileInputRequest',
    description:
      'user.file_input: upload each file with POST /v1/runs/{id}/uploads, then answer with their artifact ids',
  });
export type FileInputRequest = z.infer<typeof fileInputRequestSchema>;

/**
 * True when `mediaType` is one of `accept`, or in one of its families (`image/*`): the one rule the
 * gateway applies to an upload's bytes and the runner to an answer's artifacts.
 */
export function acceptsMediaType(accept: readonly string[], mediaType: string): boolean {
  const type = mediaType.toLowerCase();
  return accept.some((pattern) => {
    const wanted = pattern.toLowerCase();
    return wanted.endsWith('/*') ? type.startsWith(wanted.slice(0, -1)) : type === wanted;
  });
}

export const interactionRequestSchemas = {
  'user.select': selectRequestSchema,
  'user.text_input': textInputRequestSchema,
  'user.form': formRequestSchema,
  'user.confirm': confirmRequestSchema,
  'user.file_input': fileInputRequestSchema,
} as const;

/**
 * A plugin module's request: its own shape (any JSON object), with `display` when the workflow
 * declares one. Loose, so that every stored request, a migrated one included, still reads.
 */
export const pluginRequestSchema = z
  .looseObject({ ...withDisplay })
  .meta({ id: 'PluginRequest', description: "A plugin module's request (its own shape)" });

/**
 * Any request: a built-in module's (by `module_id`) or a plugin's. The built-in shapes are strict,
 * so a plugin's request that merely looks like one falls through to the loose case unchanged.
 */
export const interactionRequestSchema = z.union([
  selectRequestSchema,
  textInputRequestSchema,
  formRequestSchema,
  confirmRequestSchema,
  fileInputRequestSchema,
  pluginRequestSchema,
]);
export type InteractionRequest = z.infer<typeof interactionRequestSchema>;

/**
 * What history adds to a request rather than the workflow: when an option was last chosen. Two
 * requests that differ only here ask the same question (versions.md, "Reusing answers").
 */
const HISTORY_DECORATIONS = new Set(['last_used']);

/** The request without history's decorations, as canonical JSON: equal text, same question. */
export function comparableRequest(request: unknown): string {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !HISTORY_DECORATIONS.has(key))
        .map(([key, inner]) => [key, strip(inner)]),
    );
  };
  return canonicalJson(strip(request));
}
