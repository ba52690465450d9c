import {
  confirmRequestSchema,
  MAX_OPTION_DESCRIPTION_LENGTH,
  MAX_OPTION_IMAGE_LENGTH,
  selectRequestSchema,
  textInputRequestSchema,
  type SelectOptionView,
} from '../workflow/interaction-requests.js';
import { isJsonObject, type JsonObject } from './module-site.js';

/**
 * A pending question of a migrated run: the original logged it as an `interaction_requested`
 * event (its data: title, options, min/max_selections, default_value, allow_empty, and
 * `_resolved_inputs`, the module's inputs as rendered). This rebuilds the request the translated
 * Stepwise module would have made from the same inputs, so that answering it in Stepwise gives
 * the outputs the translated module gives.
 */
export interface TranslatedInteractionRequest {
  /** The Stepwise module the original module became. */
  module_id: string;
  request: unknown;
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string');
}

/** The items the original offered: its rendered `data` (or the array its schema points at). */
function offeredItems(resolved: JsonObject, data: JsonObject): unknown[] | null {
  const display = isJsonObject(data['display_data']) ? data['display_data'] : {};
  const source = resolved['data'] ?? display['data'];
  if (Array.isArray(source)) return source;
  const schema = resolved['schema'] ?? display['schema'];
  if (isJsonObject(source) && isJsonObject(schema) && isJsonObject(schema['properties'])) {
    const arrays = Object.entries(schema['properties']).filter(
      ([key, field]) =>
        isJsonObject(field) && field['type'] === 'array' && Array.isArray(source[key]),
    );
    const [only] = arrays;
    if (arrays.length === 1 && only !== undefined) return source[only[0]] as unknown[];
  }
  return null;
}

/** Fields shown beside an option, within the limits the request schema sets. */
function shownBeside(value: unknown): Pick<SelectOptionView, 'description' | 'image'> {
  if (!isJsonObject(value)) return {};
  const { description, image } = value;
  return {
    ...(typeof description === 'string' && description.length <= MAX_OPTION_DESCRIPTION_LENGTH
      ? { description }
      : {}),
    ...(typeof image === 'string' && image.length <= MAX_OPTION_IMAGE_LENGTH ? { image } : {}),
  };
}

function selectRequest(data: JsonObject, resolved: JsonObject): TranslatedInteractionRequest {
  const display = isJsonObject(data['display_data']) ? data['display_data'] : {};
  const review = data['interaction_type'] === 'review_grouped' || resolved['mode'] === 'review';
  const prompt = firstString(data['title'], resolved['prompt']);
  if (review)
    return {
      module_id: 'user.confirm',
      request: confirmRequestSchema.parse({
        message: prompt ?? 'Review and continue',
        display: [
          { label: 'Review', kind: 'json', value: resolved['data'] ?? display['data'] ?? null },
        ],
      }),
    };
  // Without the rendered data, the options the original listed are what can be chosen.
  const items =
    offeredItems(resolved, data) ??
    (Array.isArray(data['options']) ? (data['options'] as unknown[]) : []);
  const multi = resolved['multi_select'] === true || display['multi_select'] === true;
  const minimum = data['min_selections'] ?? resolved['min_selections'];
  const maximum = data['max_selections'] ?? resolved['max_selections'];
  const min = multi && typeof minimum === 'number' && minimum >= 0 ? minimum : 1;
  // The original says -1 (or nothing) for "no upper bound".
  const max = multi
    ? typeof maximum === 'number' && maximum > 0
      ? Math.max(maximum, min)
      : Math.max(items.length, min)
    : 1;
  const options = items.map((value, index): SelectOptionView => ({
    index,
    value,
    key: null,
    last_used: null,
    ...shownBeside(value),
  }));
  return {
    module_id: 'user.select',
    request: selectRequestSchema.parse({
      prompt: prompt ?? 'Make a selection',
      options,
      multi,
      min: multi ? min : 1,
      max,
    }),
  };
}

function textInputRequest(data: JsonObject, resolved: JsonObject): TranslatedInteractionRequest {
  const fallback = firstString(data['default_value'], resolved['default']);
  const pattern = firstString(resolved['validation_pattern']);
  const allowEmpty = data['allow_empty'] ?? resolved['allow_empty'];
  return {
    module_id: 'user.text_input',
    request: textInputRequestSchema.parse({
      prompt: firstString(data['title'], resolved['prompt']) ?? '',
      default: fallback === undefined || fallback === '' ? null : fallback,
      pattern: pattern ?? null,
      // The translated module refuses an empty answer unless the original allowed one.
      min_length: allowEmpty === true ? null : 1,
      max_length: null,
    }),
  };
}

/**
 * The Stepwise request for an original `interaction_requested` event's data, or null when the
 * original module (`moduleId`, its module_id) has no interactive Stepwise equivalent.
 */
export function translateOriginalInteractionRequest(
  moduleId: string,
  data: Record<string, unknown>,
): TranslatedInteractionRequest | null {
  const resolved = isJsonObject(data['_resolved_inputs']) ? data['_resolved_inputs'] : {};
  switch (moduleId) {
    case 'user.select':
      return selectRequest(data, resolved);
    case 'user.text_input':
      return textInputRequest(data, resolved);
    default:
      return null;
  }
}
