import { uuid7Hex } from './random.js';
import { imagePrompts, llmOutputs, llmUsage } from './module-content.js';
import type { RunRecorder } from './simulator-recorder.js';
import type { SimulatedEvent } from './simulator-types.js';

/**
 * A target_sub_action: a wf_sub_ child run with its own root branch and events (§2.1, §5.7),
 * whose LLM call is billed to the child run, and whose result the parent maps into its state.
 */
export function simulateRefineSubAction(
  recorder: RunRecorder,
  where: { step_id: string; module_name: string },
  interactionId: string,
): void {
  const { random, clock, run } = recorder;
  const startMs = clock.tick();
  const executionId = `refine_prompts_${uuid7Hex(random, startMs)}`;
  recorder.emit(
    'sub_action_started',
    where,
    {
      execution_id: executionId,
      sub_action_id: 'refine_prompts',
      interaction_id: interactionId,
      params: { feedback: 'sharper detail' },
    },
    startMs,
  );
  const childRunId = `wf_sub_${uuid7Hex(random, startMs)}`;
  const childBranch = `br_${uuid7Hex(random, startMs)}`;
  run.child_runs.push({
    run_id: childRunId,
    parent_run_id: run.run_id,
    execution_id: executionId,
    branch_id: childBranch,
    created_at: new Date(startMs),
  });
  run.child_branches.push({
    branch_id: childBranch,
    parent_branch_id: null,
    parent_event_id: null,
    lineage: [{ branch_id: childBranch, cutoff_event_id: null }],
    created_at: new Date(startMs),
  });
  const response = imagePrompts(random, 'refined');
  const usage = llmUsage(random);
  const model = 'gpt-5.2';
  const childWhere = { step_id: 'image_prompts', module_name: 'generate_image_prompts' };
  // Child events go to the child's own log, on its branch, with no version (§2.1).
  const childEvent = (type: string, data: Record<string, unknown>): SimulatedEvent => {
    const ms = clock.tick();
    const event: SimulatedEvent = {
      event_id: `evt_${uuid7Hex(random, ms)}`,
      branch_id: childBranch,
      event_type: type,
      ...childWhere,
      data,
      timestamp: new Date(ms),
      workflow_version_id: null,
    };
    return event;
  };
  const started = childEvent('module_started', { module_id: 'api.llm' });
  const outputs = llmOutputs(response, model, usage);
  const completed = childEvent('module_completed', {
    ...outputs,
    _state_mapped: { image_prompts: response },
  });
  run.child_events.push({ run_id: childRunId, events: [started, completed] });
  run.llm_calls.push({
    run_id: childRunId,
    branch_id: childBranch,
    ...childWhere,
    step_name: run.current_step_name ?? '',
    module_index: 0,
    provider: 'openai',
    model,
    ...usage,
    at: completed.timestamp,
    request: { model, input: 'Refine the prompts' },
    response,
  });
  recorder.emit('sub_action_completed', where, {
    execution_id: executionId,
    sub_action_id: 'refine_prompts',
    child_state: outputs,
    _state_mapped: { refined_image_prompts: response },
    child_workflow_id: childRunId,
  });
}
