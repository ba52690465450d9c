import { uuid7Hex } from './random.js';
import { completedData, mediaRequest, responseData } from './module-content.js';
import { jumpBack } from './simulator-interactions.js';
import type { RunRecorder } from './simulator-recorder.js';
import { simulateRefineSubAction } from './simulator-refine-sub-action.js';
import type {
  ModuleResult,
  SimulatedContent,
  SimulatedMediaGeneration,
} from './simulator-types.js';
import type { OriginalModule, OriginalStep } from './workflow-definition.js';

/**
 * media.generate: its interaction, one or two generation rounds run as sub-actions (each leaving
 * a content_generation_metadata record and its files, §6.2), maybe a refine_prompts sub-action,
 * then the chosen content as the answer (§5.7).
 */

type MediaProvider = 'midjourney' | 'leonardo' | 'elevenlabs';

export function simulateMedia(
  recorder: RunRecorder,
  step: OriginalStep,
  module: OriginalModule,
  moduleIndex: number,
): ModuleResult {
  const { random, clock, run, plan, identity } = recorder;
  const where = { step_id: step.step_id, module_name: module.name };
  const state = recorder.flatState();
  const provider = String(module.inputs['provider']) as MediaProvider;
  const operation = String(module.inputs['action_type']);
  const prompts = (
    state['image_prompts'] as { prompts?: { prompt_key: string; prompt: string }[] } | null
  )?.prompts ?? [{ prompt_key: 'prompt_1', prompt: 'a pet' }];
  const sourceImage =
    operation === 'img2vid'
      ? ((state['selected_image_data'] as Record<string, unknown> | null) ?? null)
      : null;
  const requestMs = clock.tick();
  const interactionId = `media_${uuid7Hex(random, requestMs)}`;
  recorder.emit(
    'interaction_requested',
    where,
    mediaRequest(module, interactionId, { prompts }, sourceImage),
    requestMs,
  );

  const generations: Record<string, Record<string, unknown>[]> = {};
  const allContents: { content: SimulatedContent; metadata_id: string; prompt_key: string }[] = [];
  const subActionId = String(module.sub_actions?.[0]?.['id'] ?? 'generation');
  const rounds = random.int(1, 2);
  for (let round = 0; round < rounds; round++) {
    const prompt = random.pick(prompts);
    const startMs = clock.wait();
    const executionId = `${subActionId}_${uuid7Hex(random, startMs)}`;
    recorder.emit(
      'sub_action_started',
      where,
      {
        execution_id: executionId,
        sub_action_id: subActionId,
        interaction_id: interactionId,
        params: {
          provider,
          action_type: operation,
          prompt_id: prompt.prompt_key,
          params: { prompt: prompt.prompt, count: 2 },
        },
      },
      startMs,
    );
    const generation = recordGeneration(
      recorder,
      step,
      module,
      moduleIndex,
      provider,
      operation,
      interactionId,
      prompt,
    );
    const childState = {
      metadata_id: generation.metadata_id,
      content_ids: generation.contents
        .filter((c) => c.content_type !== 'video.preview')
        .map((c) => c.content_id),
      urls: generation.contents
        .filter((c) => c.content_type !== 'video.preview')
        .map((c) => `/workflow/${run.run_id}/media/${c.content_id}.${c.extension}`),
      prompt_id: prompt.prompt_key,
    };
    (generations[prompt.prompt_key] ??= []).push(childState);
    for (const c of generation.contents)
      if (c.content_type !== 'video.preview')
        allContents.push({
          content: c,
          metadata_id: generation.metadata_id,
          prompt_key: prompt.prompt_key,
        });
    recorder.emit(
      'sub_action_completed',
      where,
      {
        execution_id: executionId,
        sub_action_id: subActionId,
        child_state: childState,
        _state_mapped: {},
      },
      generation.completed_at.getTime(),
    );
  }
  const refine = module.sub_actions?.find((s) => s['id'] === 'refine_prompts');
  if (refine && random.chance(0.35)) simulateRefineSubAction(recorder, where, interactionId);

  if (recorder.shouldStopAt(module))
    return { kind: 'stop', status: 'awaiting_input', waiting: 'media' };
  if (module.name === identity.jump_site && plan.jumps > 0)
    return jumpBack(recorder, module, interactionId);
  const chosen = random.pick(allContents);
  const selected = {
    content_id: chosen.content.content_id,
    url: `/workflow/${run.run_id}/media/${chosen.content.content_id}.${chosen.content.extension}`,
    metadata_id: chosen.metadata_id,
    prompt_key: chosen.prompt_key,
    // §6.3: the selection carries the ABSOLUTE path, whatever m_11 did to generated_content.
    local_path: `${identity.media_base}/${chosen.content.folder}/${chosen.metadata_id}_${chosen.content.content_id}_${chosen.content.index}.${chosen.content.extension}`,
  };
  const outputs = {
    selected_content_id: selected.content_id,
    selected_content: selected,
    generations,
  };
  recorder.emit(
    'interaction_response',
    where,
    {
      interaction_id: interactionId,
      response: responseData(outputs),
      module_id: module.module_id,
    },
    clock.wait(),
  );
  recorder.emit('module_completed', where, completedData(module, outputs));
  return { kind: 'done' };
}

/** One provider call's metadata and contents (a leonardo video brings its preview image along). */
function recordGeneration(
  recorder: RunRecorder,
  step: OriginalStep,
  module: OriginalModule,
  moduleIndex: number,
  provider: MediaProvider,
  operation: string,
  interactionId: string,
  prompt: { prompt_key: string; prompt: string },
): SimulatedMediaGeneration {
  const { random, clock, run } = recorder;
  const createdMs = clock.ms;
  const metadataId = `cgm_${uuid7Hex(random, createdMs)}`;
  // Both content id widths occur in the original (full uuid7 hex and its first 24 chars, §9).
  const contentId = (ms: number) =>
    random.chance(0.5) ? `gc_${uuid7Hex(random, ms)}` : `gc_${uuid7Hex(random, ms).slice(0, 24)}`;
  const contents: SimulatedContent[] = [];
  const count = provider === 'midjourney' ? 2 : 1;
  for (let index = 0; index < count; index++) {
    const seed = random.int(1, 2_000_000_000);
    if (provider === 'midjourney')
      contents.push({
        content_id: contentId(createdMs),
        index,
        content_type: 'image',
        extension: 'png',
        folder: 'images',
        seed,
      });
    else if (provider === 'elevenlabs')
      contents.push({
        content_id: contentId(createdMs),
        index,
        content_type: 'audio',
        extension: 'mp3',
        folder: 'audio',
        seed,
      });
    else {
      const preview: SimulatedContent = {
        content_id: contentId(createdMs),
        index,
        content_type: 'video.preview',
        extension: 'png',
        folder: 'images',
        seed: -1,
      };
      contents.push(
        {
          content_id: contentId(createdMs),
          index,
          content_type: 'video',
          extension: 'mp4',
          folder: 'videos',
          seed,
          preview_content_id: preview.content_id,
        },
        preview,
      );
    }
  }
  const completedMs = clock.wait();
  const generation: SimulatedMediaGeneration = {
    run_id: run.run_id,
    step_id: step.step_id,
    step_name: run.current_step_name ?? step.name,
    module_name: module.name,
    module_index: moduleIndex,
    metadata_id: metadataId,
    task_id: `tq_${uuid7Hex(random, createdMs).slice(0, 24)}`,
    interaction_id: interactionId,
    provider,
    operation,
    prompt_id: prompt.prompt_key,
    prompt: prompt.prompt,
    created_at: new Date(createdMs),
    completed_at: new Date(completedMs),
    contents,
    total_cost: Math.round(random.int(2, 80) * 10) / 1000,
    credits: random.int(5, 60),
  };
  run.media.push(generation);
  return generation;
}
