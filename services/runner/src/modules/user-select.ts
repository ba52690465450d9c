import { z } from 'zod';
import type { ModuleRunContext } from '@stepwise/shared';
import type { OptionUsageStore } from '../history/option-usage.js';
import {
  builtInModuleDeclarations,
  idPattern,
  type ErrorDetail,
  type InteractiveModule,
  interactionAnswerSchemas,
  selectRequestSchema,
  type SelectOptionView,
  type SelectRequest,
} from '@stepwise/shared';
import { responseErrors } from './response-errors.js';

/** What `respond` reads of its request (lenient: a request logged by an older runner still reads). */
const requestSchema = z.object({
  options: z.array(z.object({ value: z.unknown(), key: z.string().nullable() })),
  multi: z.boolean(),
  min: z.number().int(),
  max: z.number().int(),
});

const artifactIdPattern = idPattern('artifact');
const isArtifactId = (value: string) => artifactIdPattern.test(value);

/**
 * An object option's own `description` and `image` (checked at submission), shown beside it; an
 * option that is an artifact id is its own image.
 */
function shownBeside(option: unknown): Pick<SelectOptionView, 'description' | 'image'> {
  // An option that is an artifact id (one of the images a job just made) is shown as that image.
  if (typeof option === 'string' && isArtifactId(option)) return { image: option };
  if (typeof option !== 'object' || option === null || Array.isArray(option)) return {};
  const { description, image } = option as Record<string, unknown>;
  return {
    ...(typeof description === 'string' ? { description } : {}),
    ...(typeof image === 'string' ? { image } : {}),
  };
}

const responseSchema = interactionAnswerSchemas['user.select'];

/**
 * With a `track_key`, every option gets a key (the template rendered with `option`), the request
 * shows when each key was last chosen, and a choice records its keys, per template.
 */
export function createUserSelect(usage: OptionUsageStore): InteractiveModule {
  return {
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
      const keys = await Promise.all(
        options.map(async (value) =>
          trackKey === null ? null : String(await context.render(trackKey, { option: value })),
        ),
      );
      const lastUsed = await usage.lastUsed(
        scopeOf(context),
        keys.filter((key): key is string => key !== null),
      );
      const described = options.map((value, index): SelectOptionView => {
        const key = keys[index] ?? null;
        return {
          index,
          value,
          key,
          last_used: key === null ? null : (lastUsed.get(key)?.toISOString() ?? null),
          ...shownBeside(value),
        };
      });
      return selectRequestSchema.parse({
        prompt: String(inputs['prompt']),
        options: described,
        multi,
        min,
        max,
      } satisfies SelectRequest);
    },
    async respond(request, response, context) {
      const { options, multi, min, max } = requestSchema.parse(request);
      const parsed = responseSchema.safeParse(response);
      if (!parsed.success) {
        return {
          ok: false,
          errors: responseErrors(parsed.error),
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
      const chosenKeys = indices
        .map((index) => options[index]?.key)
        .filter((key): key is string => typeof key === 'string');
      await usage.record(scopeOf(context), chosenKeys);
      return {
        ok: true,
        outputs: { selected: multi ? values : values[0], selected_indices: indices },
      };
    },
  };
}

function scopeOf(context: ModuleRunContext) {
  return {
    workflow_template_id: context.run.workflow_template_id,
    step_id: context.run.step_id,
    module_name: context.run.module_name,
  };
}
