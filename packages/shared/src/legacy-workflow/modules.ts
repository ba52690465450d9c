import {
  isJsonObject,
  type JsonObject,
  type ModuleSite,
  type TranslatedModule,
} from './module-site.js';

/**
 * One translator per original module_id that has a Stepwise equivalent. Each builds the Stepwise
 * module (inputs renamed, outputs_to_state renamed to the Stepwise module's outputs) and reports,
 * by path, every input and output that has none. The table in docs/import-workflow.md follows it.
 */
type ModuleTranslator = (site: ModuleSite) => TranslatedModule;

const NO_RETRY_OUTPUT = {
  none: 'retries and jumps are not outputs in Stepwise: a retry is asked of the run (POST /v1/runs/{id}/retry)',
};
const interactiveControlOutputs = {
  retry_requested: NO_RETRY_OUTPUT,
  retry_feedback: NO_RETRY_OUTPUT,
  retry_groups: NO_RETRY_OUTPUT,
  jump_back_requested: NO_RETRY_OUTPUT,
  jump_back_target: NO_RETRY_OUTPUT,
};

/** `{{ expr }}` alone (no filters), whose expression can be extended with a property. */
const LONE_PATH = /^\s*\{\{-?\s*([A-Za-z_][\w.[\]'"]*)\s*-?\}\}\s*$/;

function property(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/**
 * The original selects from `data` as its JSON `schema` describes: an array, or an object whose
 * one selectable array property holds the items. Stepwise selects from an array of options.
 */
function selectOptions(site: ModuleSite, data: unknown): unknown {
  const schema = site.inputs['schema'];
  if (Array.isArray(data) || !isJsonObject(schema) || schema['type'] !== 'object') return data;
  const properties = isJsonObject(schema['properties']) ? schema['properties'] : {};
  const arrays = Object.entries(properties).filter(
    ([, field]) => isJsonObject(field) && field['type'] === 'array',
  );
  const selectable = arrays.filter(([, field]) => isJsonObject(field) && field['selectable']);
  const chosen = selectable.length === 1 ? selectable : arrays;
  const [only] = chosen;
  if (chosen.length !== 1 || only === undefined) {
    site.untranslated(
      ['inputs', 'data'],
      chosen.length === 0
        ? 'its schema names no array of items to choose from; user.select takes one array of options'
        : 'the items to choose from are spread over several keys of an object; user.select takes one array of options',
    );
    return data;
  }
  const [key] = only;
  const mapping = site.original['outputs_to_state'];
  if (isJsonObject(mapping) && 'selected_indices' in mapping)
    site.untranslated(
      ['outputs_to_state', 'selected_indices'],
      `the original's indices are paths into data (e.g. ["${key}", 0]); Stepwise's selected_indices index data.${key}`,
    );
  if (isJsonObject(data)) return data[key];
  const lone = typeof data === 'string' ? LONE_PATH.exec(data) : null;
  if (lone?.[1] !== undefined) return `{{ ${lone[1]}${property(key)} }}`;
  site.untranslated(['inputs', 'data'], `cannot take the array '${key}' out of this data`);
  return data;
}

/** A review (mode "review") shows the data and lets a person go on or ask for a retry. */
function translateReview(site: ModuleSite): TranslatedModule {
  const data = site.input('data');
  const lone = typeof data === 'string' ? LONE_PATH.exec(data) : null;
  const value = lone?.[1] !== undefined ? `{{ ${lone[1]} | json }}` : JSON.stringify(data);
  site.reportOtherInputs(['prompt', 'data', 'schema', 'mode', 'multi_select'], 'user.confirm');
  return {
    module_id: 'user.confirm',
    inputs: { message: stringOr(site.input('prompt'), 'Review and continue') },
    display: [{ label: 'Review', kind: 'json', value }],
    outputs_to_state: site.outputs({
      ...interactiveControlOutputs,
      selected_indices: { none: 'a review selects nothing; user.confirm answers `confirmed`' },
      selected_data: { none: 'a review selects nothing; user.confirm answers `confirmed`' },
    }),
  };
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

const translateSelect: ModuleTranslator = (site) => {
  if (site.inputs['mode'] === 'review') return translateReview(site);
  if (site.inputs['schema'] !== undefined)
    site.untranslated(
      ['inputs', 'schema'],
      'display hints (a JSON schema with _ux) have no equivalent: Stepwise shows each option as it is, with its own description and image',
    );
  const multi = site.inputs['multi_select'] === true;
  const inputs: JsonObject = {
    prompt: stringOr(site.input('prompt'), 'Make a selection'),
    options: selectOptions(site, site.input('data')),
    multi,
  };
  // The bounds only count with multi_select: a single select is one option in both systems.
  const min = site.inputs['min_selections'];
  const max = site.inputs['max_selections'];
  if (multi && typeof min === 'number' && min >= 0) inputs['min'] = min;
  if (multi && typeof max === 'number' && max > 0) inputs['max'] = max;
  site.reportOtherInputs(
    ['prompt', 'data', 'schema', 'mode', 'multi_select', 'min_selections', 'max_selections'],
    'user.select',
  );
  return {
    module_id: 'user.select',
    inputs,
    outputs_to_state: site.outputs({
      ...interactiveControlOutputs,
      selected_indices: 'selected_indices',
      selected_data: 'selected',
    }),
  };
};

const translateTextInput: ModuleTranslator = (site) => {
  const inputs: JsonObject = { prompt: stringOr(site.input('prompt'), '') };
  const fallback = site.input('default');
  if (typeof fallback === 'string' && fallback !== '') inputs['default'] = fallback;
  const pattern = site.input('validation_pattern');
  if (typeof pattern === 'string') inputs['pattern'] = pattern;
  // The original refuses an empty answer unless allow_empty; Stepwise's equivalent is a minimum.
  if (site.inputs['allow_empty'] !== true) inputs['min_length'] = 1;
  site.reportOtherInputs(
    ['prompt', 'default', 'allow_empty', 'validation_pattern', 'validation_error'],
    'user.text_input',
  );
  return {
    module_id: 'user.text_input',
    inputs,
    outputs_to_state: site.outputs({ ...interactiveControlOutputs, value: 'value' }),
  };
};

function joinedText(site: ModuleSite, key: string, value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return undefined;
  const parts: string[] = [];
  value.forEach((part: unknown, index) => {
    if (typeof part === 'string') parts.push(part);
    else if (isJsonObject(part) && part['type'] === 'image')
      site.untranslated(
        ['inputs', key, index],
        'image parts have no equivalent: api.llm sends text messages',
      );
    else if (isJsonObject(part) && typeof part['content'] === 'string') parts.push(part['content']);
    else site.untranslated(['inputs', key, index], 'not a text part');
  });
  // Several parts become one message, separated as paragraphs.
  return parts.join('\n\n');
}

const translateLlm: ModuleTranslator = (site) => {
  const aiConfig = isJsonObject(site.inputs['ai_config']) ? site.inputs['ai_config'] : {};
  const providers = isJsonObject(site.workflowConfig['llm_providers'])
    ? site.workflowConfig['llm_providers']
    : {};
  const provider = String(
    aiConfig['provider'] ?? site.inputs['provider'] ?? providers['default'] ?? 'openai',
  );
  if (provider !== 'openai')
    site.untranslated(
      ['inputs', 'provider'],
      `provider '${provider}': Stepwise calls one OpenAI-compatible endpoint (LLM_BASE_URL)`,
    );
  const known = isJsonObject(providers['providers']) ? providers['providers'][provider] : undefined;
  // The original's precedence, run settings aside: module ai_config, then input, then workflow.
  const model =
    aiConfig['model'] ??
    site.inputs['model'] ??
    (isJsonObject(known) ? known['default_model'] : undefined) ??
    'gpt-5.2';
  const inputs: JsonObject = { model: String(model) };
  const prompt = joinedText(site, 'input', site.input('input'));
  if (prompt !== undefined) inputs['prompt'] = prompt;
  const system = joinedText(site, 'system', site.input('system'));
  if (system !== undefined && system !== '') inputs['system'] = system;
  const schema = site.input('output_schema');
  if (isJsonObject(schema)) inputs['json_schema'] = schema;
  for (const key of ['temperature', 'max_tokens'] as const) {
    const value = aiConfig[key] ?? site.inputs[key];
    if (typeof value === 'number') inputs[key] = value;
  }
  for (const key of Object.keys(aiConfig))
    if (!['provider', 'model', 'temperature', 'max_tokens'].includes(key))
      site.untranslated(
        ['inputs', 'ai_config', key],
        `ai_config.${key} has no equivalent in api.llm`,
      );
  const metadata = site.inputs['metadata'];
  // Stepwise records the step and module of every call itself; other metadata has no place.
  if (isJsonObject(metadata))
    for (const key of Object.keys(metadata))
      if (key !== 'step_id')
        site.untranslated(
          ['inputs', 'metadata', key],
          'call metadata has no equivalent in api.llm',
        );
  site.reportOtherInputs(
    [
      'ai_config',
      'provider',
      'model',
      'input',
      'system',
      'output_schema',
      'metadata',
      'temperature',
      'max_tokens',
    ],
    'api.llm',
  );
  const noOutput = { none: 'api.llm outputs text or json, and usage' };
  return {
    module_id: 'api.llm',
    inputs,
    outputs_to_state: site.outputs({
      response: isJsonObject(schema) ? 'json' : 'text',
      response_text: 'text',
      usage: 'usage',
      model: noOutput,
      token_usage: noOutput,
      token_usage_detailed: noOutput,
    }),
  };
};

/** Passthrough of every input not starting with `_`: one transform.set of an object. */
const translateExtract: ModuleTranslator = (site) => {
  const keys = site.inputKeys().filter((key) => !key.startsWith('_'));
  return {
    module_id: 'transform.set',
    inputs: { value: Object.fromEntries(keys.map((key) => [key, site.input(key)])) },
    outputs_to_state: site.outputs(Object.fromEntries(keys.map((key) => [key, `value.${key}`]))),
  };
};

const translateRenderTemplate: ModuleTranslator = (site) => {
  site.reportOtherInputs(['template'], 'transform.template');
  return {
    module_id: 'transform.template',
    inputs: { template: stringOr(site.input('template'), '') },
    outputs_to_state: site.outputs({ rendered: 'text' }),
  };
};

function fileName(value: unknown, fallback: string): string {
  if (typeof value !== 'string' || value === '') return fallback;
  return value.split(/[\\/]/).pop() ?? fallback;
}

const NOT_AN_ARTIFACT_OUTPUT = {
  none: 'artifact.save outputs artifact_id (the artifact keeps its name); there is no path or flag',
};

const translateSaveJson: ModuleTranslator = (site) => {
  const target = site.inputs['target_path'];
  if (target !== undefined && target !== 'outputs')
    site.untranslated(['inputs', 'target_path'], 'artifacts have no folders; it is saved by name');
  site.reportOtherInputs(['data', 'file_path', 'target_path'], 'artifact.save');
  return {
    module_id: 'artifact.save',
    inputs: {
      name: fileName(site.input('file_path'), 'data.json'),
      content: site.input('data'),
      encoding: 'json',
      content_type: 'application/json',
      kind: 'deliverable',
    },
    outputs_to_state: site.outputs({
      file_id: 'artifact_id',
      file_path: NOT_AN_ARTIFACT_OUTPUT,
      success: NOT_AN_ARTIFACT_OUTPUT,
    }),
  };
};

/** The original sent the file to the person's client to write; Stepwise keeps it to download. */
const translateClientWrite: ModuleTranslator = (site) => {
  const json = site.inputs['format'] === 'json';
  site.reportOtherInputs(['content', 'filename', 'format'], 'artifact.save');
  return {
    module_id: 'artifact.save',
    inputs: {
      name: fileName(site.input('filename'), json ? 'file.json' : 'file.txt'),
      content: site.input('content'),
      encoding: json ? 'json' : 'text',
      kind: 'deliverable',
    },
    outputs_to_state: site.outputs({
      file_path: NOT_AN_ARTIFACT_OUTPUT,
      filename: NOT_AN_ARTIFACT_OUTPUT,
      success: NOT_AN_ARTIFACT_OUTPUT,
    }),
  };
};

const translateFetch: ModuleTranslator = (site) => {
  const url = stringOr(site.input('url'), '');
  const base = site.input('base_url');
  const inputs: JsonObject = {
    url:
      typeof base === 'string' && !/^[a-z]+:\/\//i.test(url)
        ? `${base.replace(/\/+$/, '')}${url}`
        : url,
  };
  const params = site.input('params');
  if (isJsonObject(params) && Object.keys(params).length > 0) {
    const query = Object.entries(params).map(
      ([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`,
    );
    inputs['url'] =
      `${String(inputs['url'])}${String(inputs['url']).includes('?') ? '&' : '?'}${query.join('&')}`;
  }
  for (const key of ['method', 'headers', 'body'] as const)
    if (site.inputs[key] !== undefined) inputs[key] = site.input(key);
  const timeout = site.inputs['timeout'];
  // The original's timeout is in seconds (Python's requests); Stepwise's in milliseconds.
  if (typeof timeout === 'number')
    inputs['timeout_ms'] = Math.min(Math.round(timeout * 1000), 120_000);
  if (site.inputs['error_on_failure'] === true)
    site.untranslated(
      ['inputs', 'error_on_failure'],
      'api.fetch fails on 5xx and 429 only; a 4xx answer is an output (status)',
    );
  const extract = site.inputs['extract_path'];
  let body = 'body';
  // extract_path picks a part of the answer: the same as reading that path of `body`.
  if (typeof extract === 'string' && /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(extract))
    body = `body.${extract}`;
  else if (extract !== undefined)
    site.untranslated(['inputs', 'extract_path'], 'only a dotted path of names carries over');
  site.reportOtherInputs(
    [
      'url',
      'base_url',
      'params',
      'method',
      'headers',
      'body',
      'timeout',
      'error_on_failure',
      'extract_path',
    ],
    'api.fetch',
  );
  return {
    module_id: 'api.fetch',
    inputs,
    outputs_to_state: site.outputs({
      response: body,
      status_code: 'status',
      success: { none: 'api.fetch has no success flag; read status' },
    }),
  };
};

/**
 * io.weighted_keywords: `load` runs an allow-listed pipeline; the stages that say what
 * history.keywords filters by (one category, a source, a limit, heaviest first) carry over.
 */
function keywordLoad(site: ModuleSite): JsonObject {
  const inputs: JsonObject = { mode: 'load' };
  const pipeline = site.inputs['pipeline'];
  (Array.isArray(pipeline) ? pipeline : []).forEach((stage: unknown, index) => {
    const at = ['inputs', 'pipeline', index];
    const match = isJsonObject(stage) ? stage['$match'] : undefined;
    const sort = isJsonObject(stage) ? stage['$sort'] : undefined;
    const limit = isJsonObject(stage) ? stage['$limit'] : undefined;
    if (typeof limit === 'number') inputs['limit'] = Math.min(limit, 1000);
    else if (isJsonObject(sort) && (sort['weight'] === -1 || sort['total_weight'] === -1)) {
      // history.keywords loads heaviest first already.
    } else if (
      isJsonObject(match) &&
      Object.keys(match).every((key) => key === 'category' || key === 'source')
    ) {
      for (const key of ['category', 'source'] as const) {
        const wanted = match[key];
        const values =
          isJsonObject(wanted) && Array.isArray(wanted['$in']) ? wanted['$in'] : [wanted];
        if (wanted === undefined) continue;
        if (values.length === 1 && typeof values[0] === 'string') inputs[key] = values[0];
        else site.untranslated(at, `history.keywords filters by one ${key}, not several`);
      }
    } else site.untranslated(at, 'this pipeline stage has no equivalent in history.keywords');
  });
  return inputs;
}

const translateWeightedKeywords: ModuleTranslator = (site) => {
  const mode = site.inputs['mode'];
  let inputs: JsonObject;
  if (mode === 'load') inputs = keywordLoad(site);
  else {
    inputs = { mode: 'save', keywords: site.input('weighted_keywords') };
    if (typeof inputs['keywords'] === 'string')
      site.untranslated(
        ['inputs', 'weighted_keywords'],
        'history.keywords takes strings or {keyword, weight, category}; the original stored items with more fields (e.g. source), which it refuses',
      );
    if (site.inputs['accumulate_weight'] === false)
      site.untranslated(
        ['inputs', 'accumulate_weight'],
        'history.keywords always adds the weight to the total',
      );
  }
  site.reportOtherInputs(
    ['mode', 'pipeline', 'weighted_keywords', 'accumulate_weight'],
    'history.keywords',
  );
  return {
    module_id: 'history.keywords',
    inputs,
    outputs_to_state: site.outputs({
      weighted_keywords: 'keywords',
      saved_count: 'saved',
      count: { none: 'history.keywords outputs the keywords only; count them in a template' },
    }),
  };
};

export const moduleTranslators: Readonly<Record<string, ModuleTranslator>> = {
  'user.select': translateSelect,
  'user.text_input': translateTextInput,
  'api.llm': translateLlm,
  'api.fetch': translateFetch,
  'transform.extract': translateExtract,
  'io.render_template': translateRenderTemplate,
  'io.save_json': translateSaveJson,
  'io.client_write': translateClientWrite,
  'io.weighted_keywords': translateWeightedKeywords,
};

/** Why an original module has no Stepwise equivalent (a generic reason for any other id). */
export const noEquivalentReasons: Readonly<Record<string, string>> = {
  'media.generate':
    'generates media through provider sub-actions while a person picks one; Stepwise has api.job (one job) and user.select, but no generate-and-pick module',
  'transform.query':
    'runs a MongoDB aggregation pipeline over in-memory data; Stepwise has no query module',
  'history.keyword_history':
    'its modes (load, save_generated, save_selected) and its keyword_history collection (dropped by the original m_9) have no equivalent; history.keywords is the weighted_keywords successor',
  'user.pause': 'Stepwise has no pause module (user.confirm asks a yes/no question)',
  'pipeline.execution_groups':
    'the original flattens execution groups when a workflow is uploaded; import the resolved version',
};
