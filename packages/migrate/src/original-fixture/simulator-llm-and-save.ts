import { uuid7Hex } from './random.js';
import {
  completedData,
  imagePrompts,
  llmOutputs,
  llmUsage,
  sceneConcepts,
  type Scene,
} from './module-content.js';
import type { RunRecorder } from './simulator-recorder.js';
import type { ModuleResult } from './simulator-types.js';
import type { OriginalModule, OriginalStep } from './workflow-definition.js';

/**
 * The modules that ask nobody: api.llm (its usage record, or the failure or in-flight call a plan
 * stops at) and io.save_json (a workflow_files record in the multi-user generation).
 */

export function simulateLlm(
  recorder: RunRecorder,
  step: OriginalStep,
  module: OriginalModule,
  stepIndex: number,
  moduleIndex: number,
): ModuleResult {
  const { random, clock, run, plan } = recorder;
  const where = { step_id: step.step_id, module_name: module.name };
  if (plan.stopAt === module.name && plan.outcome === 'processing') {
    return { kind: 'stop', status: 'processing', waiting: null };
  }
  if (plan.stopAt === module.name && plan.outcome === 'error') {
    const error = random.pick([
      'Rate limit exceeded (429)',
      'Request timed out after 120s',
      'Invalid JSON in structured output',
    ]);
    recorder.emit('module_error', where, { error: `LLM call failed: ${error}` });
    // workflow_error has no writer in the original (§4.2, §10.4): this payload is invented.
    recorder.emit(
      'workflow_error',
      {},
      { error: `LLM call failed: ${error}`, step_id: step.step_id, module_name: module.name },
    );
    return { kind: 'stop', status: 'error', waiting: null };
  }
  const state = recorder.flatState();
  const response: Record<string, unknown> =
    module.name === 'generate_scenes'
      ? sceneConcepts(random)
      : imagePrompts(random, String((state['selected_scene'] as Scene | null)?.title ?? 'a pet'));
  const model =
    plan.llmProvider === 'anthropic' ? 'claude-sonnet-4-20250514' : String(module.inputs['model']);
  const usage = llmUsage(random);
  const at = clock.wait();
  run.llm_calls.push({
    run_id: run.run_id,
    branch_id: run.current_branch_id,
    step_id: step.step_id,
    step_name: run.current_step_name ?? step.name,
    module_name: module.name,
    module_index: moduleIndex,
    provider: plan.llmProvider,
    model,
    ...usage,
    at: new Date(at),
    request: {
      model,
      system: module.inputs['system'],
      input: `${String(module.inputs['input'])} [step ${stepIndex + 1}]`,
    },
    response,
  });
  if (module.name === 'generate_scenes') {
    for (const scene of (response as { scenes: Scene[] }).scenes)
      for (const k of scene.scene_keywords)
        run.scene_keywords.push({
          keyword: k.keyword,
          category: k.category,
          source: 'generated',
          at: new Date(at),
        });
  }
  recorder.emit(
    'module_completed',
    where,
    completedData(module, llmOutputs(response, model, usage)),
  );
  return { kind: 'done' };
}

export function simulateSaveJson(
  recorder: RunRecorder,
  step: OriginalStep,
  module: OriginalModule,
): ModuleResult {
  const { random, clock, run } = recorder;
  const where = { step_id: step.step_id, module_name: module.name };
  const state = recorder.flatState();
  const content = {
    scene: state['selected_scene'] ?? null,
    pet: state['pet_type_selection'] ?? null,
    direction: state['user_direction'] ?? null,
  };
  const at = clock.tick();
  let outputs: Record<string, unknown>;
  if (recorder.multiUser) {
    const fileId = `wff_${uuid7Hex(random, at)}`;
    const target = random.chance(0.8) ? 'outputs' : 'root';
    run.saved_files.push({
      file_id: fileId,
      branch_id: run.current_branch_id,
      step_id: step.step_id,
      filename: String(module.inputs['file_path']),
      category: target === 'root' ? 'root' : 'outputs',
      group_id: null,
      content,
      target_path: target,
      at: new Date(at),
    });
    outputs = { file_id: fileId, file_path: String(module.inputs['file_path']), success: true };
  } else {
    // Single-user save_json wrote into the project folder (no workflow_files, §1.1): no file_id,
    // so `file_id → summary_file_id` maps to null (§5.1).
    outputs = {
      file_path: `${recorder.identity.project_path}/${String(module.inputs['file_path'])}`,
      success: true,
    };
  }
  recorder.emit('module_completed', where, completedData(module, outputs));
  // output_stored has no writer in the original (§4.2, §10.4): this payload is invented.
  recorder.emit('output_stored', where, {
    file_path: outputs['file_path'],
    file_id: outputs['file_id'] ?? null,
    content_type: 'json',
  });
  return { kind: 'done' };
}
