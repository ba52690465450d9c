/**
 * A resolved workflow in the original's own format (research §7.2–§7.6), modeled on the real
 * Cuddle Crew workflow, trimmed to the module kinds a migration has to understand. It is what the
 * fixture stores in `workflow_versions.resolved_workflow` and what its engine simulation walks.
 */

export type OriginalGeneration = 'single-user' | 'multi-user';

export interface RetryableOption {
  id: string;
  mode: 'continue' | 'retry' | 'jump';
  label: string;
  target_module?: string;
  target_step?: string;
  feedback?: { enabled: boolean; prompt: string; default_message: string };
}

export interface OriginalModule {
  module_id: string;
  name: string;
  inputs: Record<string, unknown>;
  outputs_to_state: Record<string, string>;
  retryable?: { default_option: string; options: RetryableOption[] };
  sub_actions?: Record<string, unknown>[];
}

export interface OriginalStep {
  step_id: string;
  name: string;
  description: string;
  modules: OriginalModule[];
}

export interface OriginalWorkflow {
  workflow_id: string;
  name: string;
  description: string;
  version: string;
  initial_state: Record<string, unknown>;
  config: Record<string, unknown>;
  status_display: Record<string, unknown>;
  steps: OriginalStep[];
}

/** Where a jump from a media/review step goes back to (§7.5: jump→scene_generation/select_scene). */
export const JUMP_TARGET = { step_id: 'scene_generation', module_name: 'select_scene' } as const;
/** The module a select_scene retry re-runs (§7.5 @ 2953d4d7: retry→generate_scenes). */
export const RETRY_TARGET = {
  step_id: 'scene_generation',
  module_name: 'generate_scenes',
} as const;

const selectResolverSchema = {
  type: 'object',
  properties: { data: { resolver: 'server' }, schema: { resolver: 'client' } },
};

function llmModule(
  name: string,
  promptText: string,
  stateKey: string,
  model: string,
): OriginalModule {
  return {
    module_id: 'api.llm',
    name,
    inputs: {
      resolver_schema: { type: 'object', properties: { input: { resolver: 'server' } } },
      provider: 'openai',
      model,
      system: 'You are a creative director for short pet videos.',
      input: promptText,
      output_schema: { type: 'object' },
      metadata: { step: name },
    },
    // §7.5: api.llm maps its parsed `response` into the state.
    outputs_to_state: { response: stateKey },
  };
}

function mediaModule(
  name: string,
  subActionId: string,
  provider: string,
  actionType: string,
  stateKeys: { id: string; data: string; generations: string },
  extraSubActions: Record<string, unknown>[],
): OriginalModule {
  return {
    module_id: 'media.generate',
    name,
    inputs: {
      resolver_schema: { type: 'object', properties: { prompts: { resolver: 'server' } } },
      prompts: `{{ state.image_prompts }}`,
      provider,
      action_type: actionType,
      title: 'Generate and pick one',
    },
    // §7.5 @ 05aa10fc: selected_content_id/selected_content/generations into the state.
    outputs_to_state: {
      selected_content_id: stateKeys.id,
      selected_content: stateKeys.data,
      generations: stateKeys.generations,
    },
    retryable: {
      default_option: 'continue',
      options: [
        { id: 'continue', mode: 'continue', label: 'Continue' },
        {
          id: 'back_to_scene',
          mode: 'jump',
          label: 'Pick another scene',
          target_step: JUMP_TARGET.step_id,
          target_module: JUMP_TARGET.module_name,
        },
      ],
    },
    sub_actions: [
      {
        id: subActionId,
        label: 'Generate',
        loading_label: 'Generating…',
        actions: [{ type: 'self_sub_action' }],
      },
      ...extraSubActions,
    ],
  };
}

/**
 * The workflow of one version. `revision` changes texts only (so versions hash differently);
 * the step and module layout is the same for every version of a generation. The single-user
 * generation had no media collections (§1.1), so its third step is a review select instead of
 * media.generate, and it has no video/music steps.
 */
export function originalWorkflow(
  generation: OriginalGeneration,
  revision: number,
): OriginalWorkflow {
  const model = revision % 2 === 0 ? 'gpt-5.1' : 'gpt-5.2';
  const userInput: OriginalStep = {
    step_id: 'user_input',
    name: 'Step {step_number}: User Input',
    description: 'Pick a pet and say what the video should be about',
    modules: [
      {
        module_id: 'user.select',
        name: 'select_pet_type',
        inputs: {
          resolver_schema: selectResolverSchema,
          title: 'Which pet?',
          data: [
            { id: 'cat', label: 'Cat' },
            { id: 'dog', label: 'Dog' },
            { id: 'both', label: 'Cat and dog' },
          ],
          schema: { type: 'array', items: { type: 'object', display: { label: 'label' } } },
          multi_select: false,
        },
        outputs_to_state: {
          selected_indices: 'pet_type_indices',
          selected_data: 'pet_type_selection',
        },
      },
      {
        module_id: 'user.text_input',
        name: 'get_user_direction',
        inputs: {
          prompt: 'Any direction for the video? (optional)',
          placeholder: 'e.g. rainy afternoon',
          allow_empty: true,
          multiline: true,
        },
        outputs_to_state: { value: 'user_direction' },
      },
    ],
  };
  const sceneGeneration: OriginalStep = {
    step_id: 'scene_generation',
    name: 'Step {step_number}: Scene Generation',
    description: `Scene concepts (rev ${revision})`,
    modules: [
      llmModule(
        'generate_scenes',
        `Write three scene concepts for {{ state.pet_type_selection.label }}. {{ state.user_direction }} (rev ${revision})`,
        'scene_concepts',
        model,
      ),
      {
        module_id: 'user.select',
        name: 'select_scene',
        inputs: {
          resolver_schema: selectResolverSchema,
          title: 'Pick a scene',
          data: '{{ state.scene_concepts.scenes }}',
          schema: { type: 'array', items: { type: 'object', display: { label: 'title' } } },
          multi_select: false,
        },
        outputs_to_state: {
          selected_indices: 'selected_scene_indices',
          selected_data: 'selected_scene',
        },
        retryable: {
          default_option: 'continue',
          options: [
            { id: 'continue', mode: 'continue', label: 'Continue' },
            {
              id: 'retry',
              mode: 'retry',
              label: 'Regenerate',
              target_module: RETRY_TARGET.module_name,
              feedback: {
                enabled: true,
                prompt: 'What should change?',
                default_message: 'Try again',
              },
            },
          ],
        },
      },
      {
        module_id: 'transform.extract',
        name: 'store_selected_scene',
        inputs: {
          resolver_schema: { type: 'object', properties: { scene: { resolver: 'server' } } },
          scene: '{{ state.scene_concepts.scenes[state.selected_scene_indices[0]] }}',
        },
        // `scene.mood` is absent from some scenes: §5.1 then maps an explicit null.
        outputs_to_state: { scene: 'selected_scene', 'scene.mood': 'scene_mood' },
      },
    ],
  };
  const saveOutputs: OriginalStep = {
    step_id: 'save_outputs',
    name: 'Step {step_number}: Save',
    description: 'Store a summary of the choices',
    modules: [
      {
        module_id: 'io.save_json',
        name: 'save_summary',
        inputs: {
          resolver_schema: { type: 'object', properties: { data: { resolver: 'server' } } },
          data: { scene: '{{ state.selected_scene }}', pet: '{{ state.pet_type_selection }}' },
          file_path: 'summary.json',
          target_path: 'outputs',
        },
        outputs_to_state: { file_id: 'summary_file_id' },
      },
    ],
  };

  const steps: OriginalStep[] =
    generation === 'single-user'
      ? [
          userInput,
          sceneGeneration,
          {
            step_id: 'image_prompts',
            name: 'Step {step_number}: Image Prompts',
            description: 'Prompts for the images',
            modules: [
              llmModule(
                'generate_image_prompts',
                'Write image prompts for {{ state.selected_scene.title }}',
                'image_prompts',
                model,
              ),
              {
                module_id: 'user.select',
                name: 'review_image_prompts',
                inputs: {
                  resolver_schema: selectResolverSchema,
                  title: 'Review the prompts',
                  data: '{{ state.image_prompts.prompts }}',
                  schema: { type: 'array', display: { mode: 'review' } },
                  mode: 'review',
                },
                // §7.5 @ 2953d4d7: a review select maps nothing.
                outputs_to_state: {},
                retryable: {
                  default_option: 'continue',
                  options: [
                    { id: 'continue', mode: 'continue', label: 'Continue' },
                    {
                      id: 'back_to_scene',
                      mode: 'jump',
                      label: 'Pick another scene',
                      target_step: JUMP_TARGET.step_id,
                      target_module: JUMP_TARGET.module_name,
                    },
                  ],
                },
              },
            ],
          },
          saveOutputs,
        ]
      : [
          userInput,
          sceneGeneration,
          {
            step_id: 'image_prompts',
            name: 'Step {step_number}: Images',
            description: 'Prompts, then images',
            modules: [
              llmModule(
                'generate_image_prompts',
                'Write image prompts for {{ state.selected_scene.title }}',
                'image_prompts',
                model,
              ),
              mediaModule(
                'generate_and_select_images',
                'image_generation',
                'midjourney',
                'txt2img',
                {
                  id: 'selected_image_id',
                  data: 'selected_image_data',
                  generations: 'image_generations',
                },
                [
                  // A target_sub_action with result_mapping, so some sub_action_completed events
                  // carry a non-empty _state_mapped (§5.7).
                  {
                    id: 'refine_prompts',
                    label: 'Refine prompts',
                    loading_label: 'Refining…',
                    actions: [
                      {
                        type: 'target_sub_action',
                        ref: { step_id: 'image_prompts', module_name: 'generate_image_prompts' },
                        module_id: 'api.llm',
                      },
                    ],
                    result_mapping: [
                      { source: 'response', target: 'refined_image_prompts', mode: 'replace' },
                    ],
                  },
                ],
              ),
            ],
          },
          {
            step_id: 'video_generation',
            name: 'Step {step_number}: Video',
            description: 'Animate the chosen image',
            modules: [
              mediaModule(
                'generate_and_select_videos',
                'video_generation',
                'leonardo',
                'img2vid',
                {
                  id: 'selected_video_id',
                  data: 'selected_video_data',
                  generations: 'video_generations',
                },
                [],
              ),
            ],
          },
          {
            step_id: 'music',
            name: 'Step {step_number}: Music',
            description: 'A sound track',
            modules: [
              mediaModule(
                'generate_and_select_music',
                'audio_generation',
                'elevenlabs',
                'music',
                {
                  id: 'selected_audio_id',
                  data: 'selected_audio_data',
                  generations: 'audio_generations',
                },
                [],
              ),
            ],
          },
          saveOutputs,
        ];

  return {
    workflow_id: 'cuddle_crew',
    name: 'Cuddle Crew - Pet Video Generator',
    description: `Fixture modeled on workflows/cc/workflow_v3.json (revision ${revision})`,
    version: `1.${revision}`,
    initial_state: { workflow_name: 'Cuddle Crew' },
    config: {
      llm_providers: {
        default: 'openai',
        providers: {
          openai: { default_model: 'gpt-5.2', models_config: 'providers/openai/models.json' },
          anthropic: {
            default_model: 'claude-sonnet-4-20250514',
            models_config: 'providers/anthropic/models.json',
          },
        },
      },
    },
    status_display: {
      fields: [
        { id: 'pet_type', label: 'Pet', value: '{{ state.pet_type_selection.label }}' },
        {
          id: 'scene',
          label: 'Scene',
          value: '{% if state.selected_scene %}{{ state.selected_scene.title }}{% endif %}',
        },
        { id: 'step', label: 'Step', value: '{{ current_step_name }}' },
      ],
      layout: [['pet_type'], ['scene'], ['step']],
    },
    steps,
  };
}

/**
 * The unresolved form (§2.5: it holds a `pipeline.execution_groups` meta-module and is not
 * runnable). The group's exact schema is not in the research; this shape is a plausible stand-in.
 */
export function unresolvedWorkflow(revision: number): Record<string, unknown> {
  const resolved = originalWorkflow('multi-user', revision);
  const [first, ...rest] = resolved.steps;
  if (!first) throw new Error('workflow without steps');
  return {
    ...resolved,
    steps: [
      {
        ...first,
        modules: [
          {
            module_id: 'pipeline.execution_groups',
            name: 'pet_input_group',
            groups: [
              {
                group_id: 'pet_input',
                paths: [
                  {
                    path_id: 'tui',
                    requires: [{ capability: 'tui', priority: 1 }],
                    modules: first.modules,
                  },
                  {
                    path_id: 'webui',
                    requires: [{ capability: 'webui', priority: 2 }],
                    modules: first.modules,
                  },
                ],
              },
            ],
          },
        ],
      },
      ...rest,
    ],
  };
}

export function stepOf(workflow: OriginalWorkflow, stepId: string): OriginalStep {
  const step = workflow.steps.find((s) => s.step_id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  return step;
}
