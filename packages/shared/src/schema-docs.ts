import { z } from 'zod';
import { RESERVED_KEYS } from './storable-keys.js';

/**
 * Rules the server enforces that zod's JSON Schema output cannot show (a refinement, a check done
 * outside zod), stated for the OpenAPI document so that a generated client, or a fuzzer, knows
 * them too. The document's generator applies the override registered for a schema to its output.
 */
export type JsonSchemaOverride = (json: Record<string, unknown>) => void;
export const jsonSchemaOverrides = new WeakMap<object, JsonSchemaOverride>();

export function documented<T extends z.ZodType>(schema: T, override: JsonSchemaOverride): T {
  jsonSchemaOverrides.set(schema, override);
  return schema;
}

/** Where the document defines `JsonValue` (below), which free-form objects refer to. */
export const JSON_VALUE_REF = '#/components/schemas/JsonValue';

/** The key rule of storable-keys.ts as JSON Schema: no NUL, none of the reserved names. */
export const storableKeyJsonSchema = {
  type: 'string',
  pattern: '^[^\\u0000]*$',
  not: { enum: [...RESERVED_KEYS] },
} as const;

/** Any JSON value whose object keys, at every depth, can be stored (`components.schemas.JsonValue`). */
export const jsonValueJsonSchema = {
  description:
    'Any JSON value; object keys may not contain NUL or be __proto__, constructor, prototype',
  anyOf: [
    { type: ['null', 'boolean', 'number', 'string'] },
    { type: 'array', items: { $ref: JSON_VALUE_REF } },
    {
      type: 'object',
      propertyNames: storableKeyJsonSchema,
      additionalProperties: { $ref: JSON_VALUE_REF },
    },
  ],
} as const;

/**
 * A free-form JSON object from a client (a run's initial state, a module's inputs, a form's
 * values). The gateway and the resolver refuse keys that cannot be stored (storable-keys.ts); the
 * document states that rule at every depth.
 */
export function storableObject(meta?: Parameters<z.ZodType['meta']>[0]) {
  // `.meta()` returns a copy: register the override on the schema that is used.
  const record = z.record(z.string(), z.unknown());
  return documented(meta ? record.meta(meta) : record, (json) => {
    json['propertyNames'] = storableKeyJsonSchema;
    json['additionalProperties'] = { $ref: JSON_VALUE_REF };
  });
}
