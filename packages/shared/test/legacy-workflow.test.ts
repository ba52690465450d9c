import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Liquid } from 'liquidjs';
import { describe, expect, it } from 'vitest';
import {
  convertJinjaTemplate,
  createModuleCatalog,
  interactionRequestSchema,
  originalWorkflowTranslationSchema,
  translateOriginalInteractionRequest,
  translateOriginalWorkflow,
  validateWorkflow,
  workflowDefinitionSchema,
} from '../src/index.js';

/**
 * The importer of the original system's workflows (legacy.md, "Workflow definitions"), on
 * documents resolved here by a small test-only $ref inliner (the CLI's resolver is tested in
 * test/import-workflow.test.ts).
 */
const fixtures = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/original-workflows',
);

function inline(file: string): unknown {
  const node = (value: unknown, folder: string): unknown => {
    if (Array.isArray(value)) return value.map((item) => node(item, folder));
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    if (typeof record['$ref'] === 'string') {
      const ref = record['$ref'];
      const target = ref.startsWith('/')
        ? join(fixtures, 'variants/simple', ref)
        : join(folder, ref);
      return record['type'] === 'json' ? inline(target) : readFileSync(target, 'utf8');
    }
    return Object.fromEntries(
      Object.entries(record).map(([key, item]) => [key, node(item, folder)]),
    );
  };
  return node(JSON.parse(readFileSync(file, 'utf8')) as unknown, dirname(file));
}

const liquid = new Liquid({ strictVariables: true, strictFilters: true });

describe('convertJinjaTemplate', () => {
  it('converts paths, blocks, loop variables and same-meaning filters to Liquid that parses', () => {
    const source =
      '{{ state.a[state.b[0]] }} {% for x in state.items %}{{ x.name | upper }}{% if not loop.last %}, {% endif %}{% endfor %}' +
      '{% if state.c and state.d | length > 0 %}{{ state.d | join(", ") }}{% elif state.e %}e{% else %}f{% endif %}{{ step.step_id }}';
    const { text, problems } = convertJinjaTemplate(source);
    expect(problems).toEqual([]);
    expect(text).toContain('{% unless forloop.last %}');
    expect(text).toContain('{% endunless %}');
    expect(text).toContain('{{ state.d | join: ", " }}');
    expect(text).toContain('{% elsif state.e %}');
    expect(text).toContain('{{ run.step_id }}');
    expect(() => liquid.parse(text)).not.toThrow();
  });

  it('reports Jinja-only constructs and leaves the text as it was', () => {
    for (const source of [
      "{{ now().strftime('%Y') }}",
      '{% set kws = [] %}',
      '{{ state.a ~ state.b }}',
      '{{ state.x | tojson | wordcount }}',
      '{{ current_step_name }}',
      '{% for k, v in state.d.items() %}{% endfor %}',
    ]) {
      const { text, problems } = convertJinjaTemplate(source);
      expect(problems.length, source).toBeGreaterThan(0);
      expect(text).toBe(source);
    }
  });
});

describe('translateOriginalWorkflow', () => {
  it('translates a small workflow completely into a document the module catalog accepts', () => {
    const translation = translateOriginalWorkflow(
      inline(join(fixtures, 'variants/simple/workflow.json')),
    );
    expect(translation.untranslated).toEqual([]);
    expect(translation.runnable).toBe(true);
    expect(originalWorkflowTranslationSchema.parse(translation)).toBeTruthy();
    const checked = validateWorkflow(translation.workflow, createModuleCatalog());
    expect(checked.ok, JSON.stringify(checked)).toBe(true);
    const [pick, summary] = translation.workflow['steps'] as {
      modules: { module_id: string; inputs: Record<string, unknown>; outputs_to_state: unknown }[];
    }[];
    expect(pick?.modules[0]).toMatchObject({
      module_id: 'user.select',
      outputs_to_state: { selected_indices: 'pet_indices', selected: 'pet_selection' },
    });
    expect(pick?.modules[1]?.inputs).toEqual({
      prompt: 'A name for the {{ state.pet_selection.label }}?',
    });
    expect(summary?.modules.map((module) => module.module_id)).toEqual([
      'transform.set',
      'transform.template',
      'artifact.save',
    ]);
    expect(summary?.modules[0]?.outputs_to_state).toEqual({ 'value.pet': 'chosen_pet' });
    expect(summary?.modules[2]).toMatchObject({
      inputs: { name: 'pet.json', encoding: 'json' },
      outputs_to_state: { artifact_id: 'summary_file_id' },
    });
    expect(() => liquid.parse(String(summary?.modules[1]?.inputs['template']))).not.toThrow();
  });

  it('lists by path what has no equivalent, and leaves untranslatable modules out', () => {
    const original = inline(join(fixtures, 'variants/untranslatable/workflow.json'));
    const translation = translateOriginalWorkflow(original);
    const paths = translation.untranslated.map((item) => item.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'workflow_id',
        'status_display',
        'steps[0].modules[0].inputs.provider',
        'steps[0].modules[0].inputs.ai_config.reasoning_effort',
        'steps[0].modules[0].inputs.input',
        'steps[0].modules[0].outputs_to_state.token_usage',
        'steps[0].modules[1].name',
        'steps[0].modules[1].inputs.schema',
        'steps[0].modules[1].outputs_to_state.selected_indices',
        'steps[0].modules[1].addons',
        'steps[0].modules[1].retryable.options[1]',
        'steps[1].modules[0]',
        'steps[1].modules[0].sub_actions[0]',
        'steps[1].modules[1]',
        'steps[1]',
      ]),
    );
    expect(translation.runnable).toBe(false);
    expect(workflowDefinitionSchema.safeParse(translation.workflow).success).toBe(true);
    expect(translation.workflow['workflow_id']).toBe('pet_clips_v2');
    const steps = translation.workflow['steps'] as {
      step_id: string;
      modules: { name: string; inputs: Record<string, unknown> }[];
    }[];
    expect(steps.map((step) => step.step_id)).toEqual(['ideas']);
    expect(steps[0]?.modules[1]?.name).toBe('pick_idea');
    expect(steps[0]?.modules[1]?.inputs['options']).toBe('{{ state.ideas.ideas }}');
  });

  it('keeps untranslatable modules by name with keepUntranslated, in a document the schema accepts', () => {
    const original = inline(join(fixtures, 'variants/untranslatable/workflow.json'));
    const translation = translateOriginalWorkflow(original, { keepUntranslated: true });
    const media = (
      translation.workflow['steps'] as { modules: { module_id: string; name: string }[] }[]
    )[1];
    expect(media?.modules.map((module) => [module.module_id, module.name])).toEqual([
      ['media.generate', 'generate_images'],
      ['transform.query', 'flatten'],
    ]);
    expect(workflowDefinitionSchema.safeParse(translation.workflow).success).toBe(true);
    expect(translation.untranslated.map((item) => item.path)).toContain('steps[1].modules[0]');
  });

  it('reports anything that is not a workflow instead of throwing', () => {
    expect(translateOriginalWorkflow(null)).toMatchObject({
      runnable: false,
      untranslated: [{ path: '' }],
    });
    const unresolved = translateOriginalWorkflow({
      workflow_id: 'x',
      steps: [{ $ref: 'steps/a.json' }],
    });
    expect(unresolved.untranslated[0]).toMatchObject({ path: 'steps[0]' });
  });
});

describe('translateOriginalInteractionRequest', () => {
  const selectEvent = {
    interaction_id: 'select_0190',
    interaction_type: 'select_from_structured',
    title: 'What type of pet is this video for?',
    options: [],
    min_selections: 1,
    max_selections: 1,
    module_id: 'user.select',
    _resolved_inputs: {
      prompt: 'What type of pet is this video for?',
      data: [
        { id: 'cat', label: 'Cat', description: 'Feline friends' },
        { id: 'dog', label: 'Dog', description: 'Canine companions' },
      ],
      multi_select: false,
      mode: 'select',
    },
  };

  it('rebuilds a select request from the resolved inputs', () => {
    const translated = translateOriginalInteractionRequest('user.select', selectEvent);
    expect(translated?.module_id).toBe('user.select');
    expect(interactionRequestSchema.safeParse(translated?.request).success).toBe(true);
    expect(translated?.request).toMatchObject({
      prompt: 'What type of pet is this video for?',
      multi: false,
      min: 1,
      max: 1,
      options: [
        {
          index: 0,
          value: { id: 'cat' },
          key: null,
          last_used: null,
          description: 'Feline friends',
        },
        { index: 1, value: { id: 'dog' } },
      ],
    });
  });

  it('rebuilds text input and review requests, and has none for media', () => {
    const text = translateOriginalInteractionRequest('user.text_input', {
      interaction_type: 'text_input',
      title: 'Any direction?',
      default_value: '',
      allow_empty: true,
      _resolved_inputs: { prompt: 'Any direction?', allow_empty: true },
    });
    expect(text).toEqual({
      module_id: 'user.text_input',
      request: {
        prompt: 'Any direction?',
        default: null,
        pattern: null,
        min_length: null,
        max_length: null,
      },
    });
    const review = translateOriginalInteractionRequest('user.select', {
      interaction_type: 'review_grouped',
      title: 'Review prompts',
      _resolved_inputs: { data: { track_title: 'Purr' }, mode: 'review' },
    });
    expect(review?.module_id).toBe('user.confirm');
    expect(interactionRequestSchema.safeParse(review?.request).success).toBe(true);
    expect(translateOriginalInteractionRequest('media.generate', { title: 'x' })).toBeNull();
  });
});
