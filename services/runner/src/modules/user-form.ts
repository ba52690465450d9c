import { z } from 'zod';
import {
  builtInModuleDeclarations,
  type ErrorDetail,
  type InteractiveModule,
  formRequestSchema,
  interactionAnswerSchemas,
} from '@stepwise/shared';
import { responseErrors } from './response-errors.js';

const fieldsSchema = builtInModuleDeclarations['user.form'].inputs.shape.fields;
type FormField = z.infer<typeof fieldsSchema>[number];

const requestSchema = z.object({ prompt: z.string().nullable(), fields: fieldsSchema });
const responseSchema = interactionAnswerSchemas['user.form'];

function fieldErrors(field: FormField, value: unknown): string[] {
  switch (field.type) {
    case 'string': {
      if (typeof value !== 'string') return ['must be a string'];
      const problems: string[] = [];
      if (field.min_length !== undefined && value.length < field.min_length)
        problems.push(`must be at least ${field.min_length} characters`);
      if (field.max_length !== undefined && value.length > field.max_length)
        problems.push(`must be at most ${field.max_length} characters`);
      if (field.pattern !== undefined && !new RegExp(`^(?:${field.pattern})$`, 'u').test(value))
        problems.push(`must match the pattern ${field.pattern}`);
      return problems;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return ['must be a number'];
      const problems: string[] = [];
      if (field.min !== undefined && value < field.min)
        problems.push(`must be at least ${field.min}`);
      if (field.max !== undefined && value > field.max)
        problems.push(`must be at most ${field.max}`);
      return problems;
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : ['must be true or false'];
    case 'enum':
      return typeof value === 'string' && (field.options ?? []).includes(value)
        ? []
        : [`must be one of ${(field.options ?? []).join(', ')}`];
  }
}

export const userForm: InteractiveModule = {
  id: 'user.form',
  ...builtInModuleDeclarations['user.form'],
  interactive: true,
  outputs: z.object({ values: z.record(z.string(), z.unknown()) }),
  async request(inputs) {
    // The fields as declared (inputs are parsed, so `required` is filled in): the request's shape.
    return formRequestSchema.parse({
      prompt: typeof inputs['prompt'] === 'string' ? inputs['prompt'] : null,
      fields: inputs['fields'],
    });
  },
  async respond(request, response) {
    const { fields } = requestSchema.parse(request);
    const parsed = responseSchema.safeParse(response);
    if (!parsed.success) {
      return {
        ok: false,
        errors: responseErrors(parsed.error),
      };
    }
    const given = parsed.data.values;
    const errors: ErrorDetail[] = [];
    const known = new Set(fields.map((field) => field.name));
    for (const name of Object.keys(given)) {
      if (!known.has(name))
        errors.push({ path: `response.values.${name}`, message: `unknown field '${name}'` });
    }
    const values: Record<string, unknown> = {};
    for (const field of fields) {
      const value = Object.hasOwn(given, field.name) ? given[field.name] : field.default;
      if (value === undefined || value === null) {
        if (field.required)
          errors.push({ path: `response.values.${field.name}`, message: 'is required' });
        continue;
      }
      for (const message of fieldErrors(field, value))
        errors.push({ path: `response.values.${field.name}`, message });
      values[field.name] = value;
    }
    return errors.length > 0 ? { ok: false, errors } : { ok: true, outputs: { values } };
  },
};
