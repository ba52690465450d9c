import { z } from 'zod';
import {
  builtInModuleDeclarations,
  type ErrorDetail,
  type InteractiveModule,
  interactionAnswerSchemas,
  textInputRequestSchema,
  type TextInputRequest,
} from '@stepwise/shared';
import { responseErrors } from './response-errors.js';

const requestSchema = z.object({
  prompt: z.string(),
  default: z.string().nullable(),
  pattern: z.string().nullable(),
  min_length: z.number().int().nullable(),
  max_length: z.number().int().nullable(),
});

const responseSchema = interactionAnswerSchemas['user.text_input'];

function compilePattern(pattern: string): RegExp {
  // Anchored: the whole value must match, as with HTML's pattern attribute.
  return new RegExp(`^(?:${pattern})$`, 'u');
}

export const userTextInput: InteractiveModule = {
  id: 'user.text_input',
  ...builtInModuleDeclarations['user.text_input'],
  interactive: true,
  outputs: z.object({ value: z.string() }),
  async request(inputs) {
    const pattern = typeof inputs['pattern'] === 'string' ? inputs['pattern'] : null;
    if (pattern !== null) compilePattern(pattern); // an invalid pattern fails the module now, not the person later
    return textInputRequestSchema.parse({
      prompt: String(inputs['prompt']),
      default: typeof inputs['default'] === 'string' ? inputs['default'] : null,
      pattern,
      min_length: typeof inputs['min_length'] === 'number' ? inputs['min_length'] : null,
      max_length: typeof inputs['max_length'] === 'number' ? inputs['max_length'] : null,
    } satisfies TextInputRequest);
  },
  async respond(request, response) {
    const spec = requestSchema.parse(request);
    const parsed = responseSchema.safeParse(response);
    if (!parsed.success) {
      return {
        ok: false,
        errors: responseErrors(parsed.error),
      };
    }
    const { value } = parsed.data;
    const errors: ErrorDetail[] = [];
    const length = [...value].length;
    if (spec.min_length !== null && length < spec.min_length)
      errors.push({
        path: 'response.value',
        message: `must be at least ${spec.min_length} characters`,
      });
    if (spec.max_length !== null && length > spec.max_length)
      errors.push({
        path: 'response.value',
        message: `must be at most ${spec.max_length} characters`,
      });
    if (spec.pattern !== null && !compilePattern(spec.pattern).test(value))
      errors.push({ path: 'response.value', message: `must match the pattern ${spec.pattern}` });
    return errors.length > 0 ? { ok: false, errors } : { ok: true, outputs: { value } };
  },
};
