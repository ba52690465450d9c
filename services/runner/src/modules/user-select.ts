import { z } from 'zod';
import {
  builtInModuleDeclarations,
  type ErrorDetail,
  type InteractiveModule,
} from '@stepwise/shared';

const requestSchema = z.object({
  prompt: z.string(),
  options: z.array(
    z.object({
      index: z.number().int(),
      value: z.unknown(),
      key: z.string().nullable(),
      last_used: z.string().nullable(),
    }),
  ),
  multi: z.boolean(),
  min: z.number().int(),
  max: z.number().int(),
});
type SelectRequest = z.infer<typeof requestSchema>;

const responseSchema = z.strictObject({ selected_indices: z.array(z.number().int()).min(0) });

export const userSelect: InteractiveModule = {
  id: 'user.select',
  ...builtInModuleDeclarations['user.select'],
  interactive: true,
  outputs: z.object({ selected: z.unknown(), selected_indices: z.array(z.number().int()) }),
  async request(inputs, context) {
    const options = inputs['options'] as unknown[];
    const multi = inputs['multi'] === true;
    const min = typeof inputs['min'] === 'number' ? inputs['min'] : 1;
    const max = typeof inputs['max'] === 'number' ? inputs['max'] : multi ? options.length : 1;
    const trackKey = typeof inputs['track_key'] === 'string' ? inputs['track_key'] : null;
    const described = await Promise.all(
      options.map(async (value, index) => ({
        index,
        value,
        key: trackKey === null ? null : String(await context.render(trackKey, { option: value })),
        last_used: null,
      })),
    );
    return {
      prompt: String(inputs['prompt']),
      options: described,
      multi,
      min,
      max,
    } satisfies SelectRequest;
  },
  async respond(request, response) {
    const { options, multi, min, max } = requestSchema.parse(request);
    const parsed = responseSchema.safeParse(response);
    if (!parsed.success) {
      return {
        ok: false,
        errors: parsed.error.issues.map((i) => ({
          path: ['response', ...i.path].join('.'),
          message: i.message,
        })),
      };
    }
    const indices = parsed.data.selected_indices;
    const errors: ErrorDetail[] = [];
    indices.forEach((index, position) => {
      if (index < 0 || index >= options.length) {
        errors.push({
          path: `response.selected_indices[${position}]`,
          message: `index ${index} is out of range (0-${options.length - 1})`,
        });
      }
    });
    if (new Set(indices).size !== indices.length)
      errors.push({ path: 'response.selected_indices', message: 'indices must not repeat' });
    if (!multi && indices.length !== 1)
      errors.push({ path: 'response.selected_indices', message: 'select exactly one option' });
    if (multi && (indices.length < min || indices.length > max)) {
      errors.push({
        path: 'response.selected_indices',
        message: `select between ${min} and ${max} options`,
      });
    }
    if (errors.length > 0) return { ok: false, errors };
    const values = indices.map((index) => options[index]?.value);
    return {
      ok: true,
      outputs: { selected: multi ? values : values[0], selected_indices: indices },
    };
  },
};
