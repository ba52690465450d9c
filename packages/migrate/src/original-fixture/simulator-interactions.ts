import { uuid7Hex } from './random.js';
import {
  completedData,
  petTypeOptions,
  responseData,
  selectRequest,
  textInputRequest,
  type Scene,
} from './module-content.js';
import type { RunRecorder } from './simulator-recorder.js';
import type { ModuleResult } from './simulator-types.js';
import {
  JUMP_TARGET,
  RETRY_TARGET,
  type OriginalModule,
  type OriginalStep,
} from './workflow-definition.js';

/**
 * The questions a run asks (user.select, user.text_input) and what their answers set off besides
 * the module's completion: a resume before the answer, a retry (§4.3), a jump back that forks
 * (§4.2, §4.4), and the crash that recovery A1 repairs with a fork (§4.4).
 */

type Where = { step_id: string; module_name: string };

/** The select whose "Regenerate" option retries RETRY_TARGET (§7.5). */
const RETRY_TARGET_SELECT = 'select_scene';

/** Before an answer: maybe a workflow_resumed (invented payload: the original never wrote one, §10.4). */
function maybeResume(recorder: RunRecorder, module: OriginalModule): void {
  const { plan, run, clock } = recorder;
  if (plan.resumeAt !== module.name) return;
  plan.resumeAt = null;
  clock.wait();
  const previousVersion = run.current_version_id;
  const nextVersion = plan.resumeToVersionId;
  if (nextVersion && nextVersion !== previousVersion) {
    run.current_version_id = nextVersion;
    run.version_history.push({
      workflow_version_id: nextVersion,
      at: new Date(clock.ms),
    });
  }
  recorder.emit(
    'workflow_resumed',
    {},
    {
      previous_status: 'awaiting_input',
      previous_workflow_version_id: previousVersion,
      workflow_version_id: run.current_version_id,
    },
  );
}

export function simulateSelect(
  recorder: RunRecorder,
  step: OriginalStep,
  module: OriginalModule,
): ModuleResult {
  const { random, clock, run, plan } = recorder;
  const where = { step_id: step.step_id, module_name: module.name };
  const state = recorder.flatState();
  const items: Record<string, unknown>[] =
    module.name === 'select_pet_type'
      ? petTypeOptions()
      : module.name === 'select_scene'
        ? ((state['scene_concepts'] as { scenes?: Scene[] } | null)?.scenes ?? []).map((s) => ({
            ...s,
          }))
        : ((state['image_prompts'] as { prompts?: Record<string, unknown>[] } | null)?.prompts ??
          []);
  const requestMs = clock.tick();
  const interactionId = `select_${uuid7Hex(random, requestMs)}`;
  recorder.emit(
    'interaction_requested',
    where,
    selectRequest(module, interactionId, items),
    requestMs,
  );
  if (recorder.shouldStopAt(module))
    return { kind: 'stop', status: 'awaiting_input', waiting: 'select' };
  maybeResume(recorder, module);

  if (module.name === RETRY_TARGET_SELECT && plan.retries > 0)
    return answerWithRetry(recorder, module, where, interactionId);
  if (module.name === recorder.identity.jump_site && plan.jumps > 0)
    return jumpBack(recorder, module, interactionId);

  const review = module.inputs['mode'] === 'review';
  const index = review ? -1 : random.int(0, Math.max(0, items.length - 1));
  const item = items[index] ?? null;
  const optionId = item ? String(item['id'] ?? index) : null;
  const response = responseData({
    selected_indices: item ? [index] : [],
    selected_options: item
      ? [
          {
            id: optionId,
            label: String(item['label'] ?? item['title'] ?? ''),
            description: '',
            metadata: { index },
          },
        ]
      : [],
  });
  recorder.emit(
    'interaction_response',
    where,
    { interaction_id: interactionId, response, module_id: module.module_id },
    clock.wait(),
  );
  if (optionId !== null)
    run.option_picks.push({
      step_id: step.step_id,
      module_name: module.name,
      option: optionId,
      at: new Date(clock.ms),
    });
  if (module.name === 'select_scene' && item) {
    for (const k of (item as unknown as Scene).scene_keywords)
      run.scene_keywords.push({
        keyword: k.keyword,
        category: k.category,
        source: 'selected',
        at: new Date(clock.ms),
      });
  }
  const outputs = {
    selected_indices: item ? [index] : [],
    selected_data: review ? items : item,
    retry_requested: false,
    retry_feedback: null,
    retry_groups: null,
    jump_back_requested: false,
    jump_back_target: null,
  };
  recorder.emit('module_completed', where, completedData(module, outputs));
  return { kind: 'done' };
}

/** §4.3: a retry answer is a selected "retry" option, or a custom_value with no selection. */
function answerWithRetry(
  recorder: RunRecorder,
  module: OriginalModule,
  where: Where,
  interactionId: string,
): ModuleResult {
  recorder.plan.retries--;
  const feedback = recorder.random.pick(['More snow please', 'Funnier', 'Less dramatic', '']);
  const response = responseData({
    selected_options: [{ id: 'retry', label: 'Regenerate', metadata: { is_retry: true } }],
    custom_value: feedback || null,
    retry_requested: true,
    retry_feedback: feedback || null,
  });
  recorder.emit(
    'interaction_response',
    where,
    { interaction_id: interactionId, response, module_id: module.module_id },
    recorder.clock.wait(),
  );
  const defaultMessage =
    module.retryable?.options.find((o) => o.mode === 'retry')?.feedback?.default_message ?? '';
  recorder.emit(
    'retry_requested',
    {},
    { target_module: RETRY_TARGET.module_name, feedback: feedback || defaultMessage },
  );
  return {
    kind: 'restart',
    step_id: RETRY_TARGET.step_id,
    module_name: RETRY_TARGET.module_name,
  };
}

/** §4.2/§4.4: the jump answer is stored, then the fork, then jump_requested on the new branch. */
export function jumpBack(
  recorder: RunRecorder,
  module: OriginalModule,
  interactionId: string,
): ModuleResult {
  recorder.plan.jumps--;
  const where = { step_id: recorder.run.current_step ?? '', module_name: module.name };
  const response = responseData({
    jump_back_requested: true,
    jump_back_target: JUMP_TARGET.module_name,
    action_id: 'back_to_scene',
  });
  recorder.emit(
    'interaction_response',
    where,
    { interaction_id: interactionId, response, module_id: module.module_id },
    recorder.clock.wait(),
  );
  const lineage = recorder.lineageEvents();
  const targetIndex = lineage.findIndex(
    (e) => e.step_id === JUMP_TARGET.step_id && e.module_name === JUMP_TARGET.module_name,
  );
  const forkEvent = targetIndex > 0 ? lineage[targetIndex - 1] : undefined;
  const { next } = recorder.fork(forkEvent?.event_id ?? null);
  recorder.emit(
    'jump_requested',
    {},
    {
      target_step: JUMP_TARGET.step_id,
      target_module: JUMP_TARGET.module_name,
      new_branch_id: next,
    },
  );
  return { kind: 'restart', step_id: JUMP_TARGET.step_id, module_name: JUMP_TARGET.module_name };
}

export function simulateTextInput(
  recorder: RunRecorder,
  step: OriginalStep,
  module: OriginalModule,
): ModuleResult {
  const { random, clock } = recorder;
  const where = { step_id: step.step_id, module_name: module.name };
  const requestMs = clock.tick();
  const interactionId = `text_input_${uuid7Hex(random, requestMs)}`;
  recorder.emit('interaction_requested', where, textInputRequest(module, interactionId), requestMs);
  if (recorder.shouldStopAt(module))
    return { kind: 'stop', status: 'awaiting_input', waiting: 'text_input' };
  maybeResume(recorder, module);
  const value = random.pick(['', 'rainy afternoon', 'make it slow motion', 'a birthday party']);
  recorder.emit(
    'interaction_response',
    where,
    {
      interaction_id: interactionId,
      response: responseData({ value }),
      module_id: module.module_id,
    },
    clock.wait(),
  );
  if (recorder.plan.recoverAtDirection) return recoverAfterCrash(recorder, step, module);
  const outputs = {
    value,
    retry_requested: false,
    retry_feedback: null,
    jump_back_requested: false,
    jump_back_target: null,
  };
  recorder.emit('module_completed', where, completedData(module, outputs));
  return { kind: 'done' };
}

/**
 * The server died before module_completed; status stayed awaiting_input with nothing pending:
 * recovery A1 forks at the last step/module completion and resumes there (§4.4).
 */
function recoverAfterCrash(
  recorder: RunRecorder,
  step: OriginalStep,
  module: OriginalModule,
): ModuleResult {
  recorder.plan.recoverAtDirection = false;
  const last = [...recorder.lineageEvents()]
    .reverse()
    .find((e) => e.event_type === 'step_completed' || e.event_type === 'module_completed');
  const cutoff = last?.event_id ?? null;
  recorder.clock.wait();
  const { previous, next } = recorder.fork(cutoff);
  recorder.emit(
    'workflow_recovered',
    {},
    {
      reason: 'A1: Status awaiting_input but no pending interaction',
      previous_branch_id: previous,
      new_branch_id: next,
      cutoff_event_id: cutoff,
    },
  );
  return { kind: 'restart', step_id: step.step_id, module_name: module.name };
}
