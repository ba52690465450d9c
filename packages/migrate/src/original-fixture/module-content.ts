import type { SeededRandom } from './random.js';
import type { OriginalModule } from './workflow-definition.js';

/**
 * The payloads the original's modules produce and the interaction documents they send, in the
 * shapes research §4.2 and §7.6 describe. Pure functions of the randomness they are given.
 */

const petTypes = [
  { id: 'cat', label: 'Cat' },
  { id: 'dog', label: 'Dog' },
  { id: 'both', label: 'Cat and dog' },
];
const places = [
  'a sunny kitchen',
  'a snowy garden',
  'a library',
  'a rooftop at dusk',
  'a laundry basket',
];
const actions = [
  'chasing a ribbon',
  'napping',
  'stealing a sock',
  'meeting a hedgehog',
  'learning to skate',
];
const moods = ['cozy', 'playful', 'dramatic', 'sleepy'];
const keywordCategories = ['setting', 'behavior', 'object', 'emotion'];

export function petTypeOptions(): typeof petTypes {
  return petTypes;
}

export interface Scene {
  title: string;
  description: string;
  mood?: string;
  scene_keywords: { keyword: string; category: string; weight: number }[];
}

/** Scene concepts; about a third have no `mood`, so `scene.mood` maps to null (§5.1). */
export function sceneConcepts(random: SeededRandom): { scenes: Scene[] } {
  const scenes: Scene[] = [];
  for (let i = 0; i < 3; i++) {
    const place = random.pick(places);
    const action = random.pick(actions);
    const scene: Scene = {
      title: `${action[0]?.toUpperCase() ?? ''}${action.slice(1)} in ${place}`,
      description: `A short clip: the pet is ${action} in ${place}.`,
      scene_keywords: [
        { keyword: place.replace(/^an? /, ''), category: 'setting', weight: 1 },
        { keyword: action.split(' ')[0] ?? action, category: 'behavior', weight: 1 },
        { keyword: random.pick(moods), category: random.pick(keywordCategories), weight: 1 },
      ],
    };
    if (random.chance(0.65)) scene.mood = random.pick(moods);
    scenes.push(scene);
  }
  return { scenes };
}

export function imagePrompts(
  random: SeededRandom,
  sceneTitle: string,
): { prompts: { prompt_key: string; prompt: string }[] } {
  const count = random.int(1, 2);
  return {
    prompts: Array.from({ length: count }, (_, i) => ({
      prompt_key: `prompt_${i + 1}`,
      prompt: `${sceneTitle}, soft light, 35mm, detail ${random.int(1, 99)}`,
    })),
  };
}

export interface LlmUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  total_tokens: number;
}

export function llmUsage(random: SeededRandom): LlmUsage {
  const prompt = random.int(300, 4000);
  const completion = random.int(100, 1500);
  const cached = random.chance(0.4) ? random.int(0, Math.floor(prompt / 2)) : 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    cached_tokens: cached,
    total_tokens: prompt + completion,
  };
}

/** api.llm outputs (§7.6): response, response_text, model, usage, token_usage, token_usage_detailed. */
export function llmOutputs(
  response: Record<string, unknown>,
  model: string,
  usage: LlmUsage,
): Record<string, unknown> {
  return {
    response,
    response_text: JSON.stringify(response),
    model,
    usage: {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
    },
    token_usage: {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
    },
    token_usage_detailed: { model_used: model, ...usage },
  };
}

/** Every field of the serialized interaction request (§4.2), defaults as the original fills them. */
function requestBase(): Record<string, unknown> {
  return {
    options: [],
    min_selections: 1,
    max_selections: 1,
    allow_custom: false,
    default_selection: null,
    groups: null,
    display_data: null,
    multiline: false,
    placeholder: '',
    default_value: '',
    allow_empty: false,
    context: {},
    extra_options: [],
    file_content: null,
    file_name: null,
    file_content_type: null,
    file_destination: null,
  };
}

/** Resolved inputs: the module's inputs with the server-resolved fields filled in, minus resolver_schema (§7.3). */
export function resolvedInputs(
  module: OriginalModule,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const { resolver_schema: _dropped, ...rest } = module.inputs;
  return { ...rest, ...overrides };
}

export function selectRequest(
  module: OriginalModule,
  interactionId: string,
  items: Record<string, unknown>[],
): Record<string, unknown> {
  const review = module.inputs['mode'] === 'review';
  const inputs = resolvedInputs(module, { data: items });
  return {
    ...requestBase(),
    interaction_id: interactionId,
    interaction_type: review ? 'review_grouped' : 'select_from_structured',
    title: String(module.inputs['title'] ?? ''),
    options: items.map((item, index) => ({
      id: String(item['id'] ?? index),
      label: String(item['label'] ?? item['title'] ?? item['prompt'] ?? index),
      description: String(item['description'] ?? ''),
      metadata: { index },
    })),
    min_selections: review ? 0 : 1,
    display_data: {
      data: items,
      schema: module.inputs['schema'] ?? null,
      multi_select: false,
      mode: review ? 'review' : 'select',
      retryable: module.retryable ?? null,
    },
    context: { module_id: module.module_id },
    extra_options: (module.retryable?.options ?? [])
      .filter((option) => option.mode !== 'continue')
      .map((option) => ({
        id: option.id,
        label: option.label,
        metadata: { is_retry: option.mode === 'retry', mode: option.mode },
      })),
    _resolved_inputs: inputs,
    module_id: module.module_id,
    resolver_schema: module.inputs['resolver_schema'] ?? null,
  };
}

export function textInputRequest(
  module: OriginalModule,
  interactionId: string,
): Record<string, unknown> {
  return {
    ...requestBase(),
    interaction_id: interactionId,
    interaction_type: 'text_input',
    title: String(module.inputs['prompt'] ?? ''),
    min_selections: 0,
    multiline: module.inputs['multiline'] === true,
    placeholder: String(module.inputs['placeholder'] ?? ''),
    allow_empty: module.inputs['allow_empty'] === true,
    context: { module_id: module.module_id },
    _resolved_inputs: resolvedInputs(module, {}),
    module_id: module.module_id,
  };
}

export function mediaRequest(
  module: OriginalModule,
  interactionId: string,
  prompts: Record<string, unknown>,
  sourceImage: Record<string, unknown> | null,
): Record<string, unknown> {
  const provider = String(module.inputs['provider']);
  // §7.6: each provider node gets _provider_metadata and _generations injected; img2vid adds _source_image.
  const data: Record<string, unknown> = {
    [provider]: {
      ...prompts,
      _provider_metadata: { provider, action_type: module.inputs['action_type'] },
      _generations: {},
    },
  };
  if (sourceImage) data['_source_image'] = sourceImage;
  return {
    ...requestBase(),
    interaction_id: interactionId,
    interaction_type: 'media_generation',
    title: String(module.inputs['title'] ?? ''),
    display_data: {
      data,
      schema: { type: 'object' },
      sub_actions: module.sub_actions ?? [],
      generations: {},
      retryable: module.retryable ?? null,
    },
    context: { module_id: module.module_id },
    _resolved_inputs: resolvedInputs(module, { prompts }),
    module_id: module.module_id,
    resolver_schema: module.inputs['resolver_schema'] ?? null,
  };
}

/** InteractionResponseData.model_dump() with every field (§4.2), overridden per answer. */
export function responseData(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    value: null,
    selected_indices: [],
    selected_options: [],
    custom_value: null,
    cancelled: false,
    retry_requested: false,
    retry_groups: null,
    retry_feedback: null,
    jump_back_requested: false,
    jump_back_target: null,
    file_written: false,
    file_path: null,
    file_error: null,
    form_data: null,
    selected_content_id: null,
    selected_content: null,
    generations: null,
    action_id: null,
    confirmed_warnings: [],
    ...overrides,
  };
}

/** §5.1: dotted path, dict.get per hop, None as soon as a hop is missing or not a dict. */
export function nestedValue(outputs: Record<string, unknown>, path: string): unknown {
  let current: unknown = outputs;
  for (const hop of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return null;
    current = (current as Record<string, unknown>)[hop];
    if (current === undefined) return null;
  }
  return current;
}

/** The module_completed data: raw outputs plus `_state_mapped` in outputs_to_state order (§5.1). */
export function completedData(
  module: OriginalModule,
  outputs: Record<string, unknown>,
): Record<string, unknown> {
  const stateMapped: Record<string, unknown> = {};
  for (const [path, stateKey] of Object.entries(module.outputs_to_state))
    stateMapped[stateKey] = nestedValue(outputs, path);
  return { ...outputs, _state_mapped: stateMapped };
}
