import type { SeededRandom } from './random.js';
import { completedData, type Scene } from './module-content.js';
import { simulateSelect, simulateTextInput } from './simulator-interactions.js';
import { simulateLlm, simulateSaveJson } from './simulator-llm-and-save.js';
import { simulateMedia } from './simulator-media.js';
import { RunRecorder } from './simulator-recorder.js';
import type { ModuleResult, RunIdentity, RunPlan, SimulatedRun } from './simulator-types.js';
import type { OriginalModule, OriginalStep, OriginalWorkflow } from './workflow-definition.js';

/**
 * Simulates the original engine over an original-format workflow and records the events it would
 * have written (research §4.2 event data, §4.3 retries, §4.4 forks, §5.1 state mapping), plus the
 * usage, files and media each module leaves behind. This file walks the steps and hands each
 * module to its simulation (simulator-llm-and-save, -interactions, -media); the run's state and
 * the engine's shared moves (events, lineage, forks) live in simulator-recorder.
 */

export class RunSimulator {
  private readonly recorder: RunRecorder;

  constructor(
    random: SeededRandom,
    private readonly workflow: OriginalWorkflow,
    private readonly identity: RunIdentity,
    private readonly plan: RunPlan,
    private readonly multiUser: boolean,
  ) {
    this.recorder = new RunRecorder(random, identity, plan, multiUser);
  }

  simulate(): SimulatedRun {
    const { plan, recorder } = this;
    const { run, clock } = recorder;
    if (plan.forceNewReset) {
      // force_new deleted the earlier log and reset the run in place (§4.2); only the reset remains.
      clock.wait();
      run.version_history.push({
        workflow_version_id: run.current_version_id,
        at: new Date(clock.ms),
      });
    }
    recorder.emit('workflow_created', {}, this.createdData());
    if (plan.outcome === 'created') return recorder.finish('created', null);

    let position: { stepIndex: number; moduleIndex: number; stepStarted: boolean } = {
      stepIndex: 0,
      moduleIndex: 0,
      stepStarted: false,
    };
    while (position.stepIndex < this.workflow.steps.length) {
      const step = this.stepAt(position.stepIndex);
      run.current_step = step.step_id;
      run.current_step_name = step.name.replace('{step_number}', String(position.stepIndex + 1));
      if (!position.stepStarted) recorder.emit('step_started', { step_id: step.step_id }, {});
      let restart: { step_id: string; module_name: string } | null = null;
      for (let m = position.moduleIndex; m < step.modules.length && !restart; m++) {
        const module = step.modules[m];
        if (!module) break;
        run.current_module = module.name;
        const result = this.runModule(step, module, position.stepIndex, m);
        if (result.kind === 'stop') return recorder.finish(result.status, result.waiting);
        if (result.kind === 'restart') restart = result;
      }
      if (restart) {
        const target = restart;
        const stepIndex = this.workflow.steps.findIndex((s) => s.step_id === target.step_id);
        const moduleIndex = this.stepAt(stepIndex).modules.findIndex(
          (mod) => mod.name === target.module_name,
        );
        position = { stepIndex, moduleIndex, stepStarted: true };
        continue;
      }
      recorder.emit('step_completed', { step_id: step.step_id }, {});
      position = { stepIndex: position.stepIndex + 1, moduleIndex: 0, stepStarted: false };
    }
    recorder.emit('workflow_completed', {}, {});
    run.completed_at = new Date(clock.ms);
    return recorder.finish('completed', null);
  }

  private createdData(): Record<string, unknown> {
    const id = this.identity;
    // §4.2 (multi-user). The single-user payload is not in the research; these fields are plausible.
    const data: Record<string, unknown> = this.multiUser
      ? {
          project_name: id.project_name,
          workflow_template_name: id.workflow_template_name,
          workflow_template_id: id.workflow_template_id,
          version_id: this.recorder.run.current_version_id,
        }
      : {
          project_path: id.project_path,
          workflow_path: id.workflow_path,
          workflow_template_id: id.workflow_template_id,
        };
    if (this.plan.forceNewReset) data['reset'] = true;
    return data;
  }

  private stepAt(index: number): OriginalStep {
    const step = this.workflow.steps[index];
    if (!step) throw new Error(`no step at ${index}`);
    return step;
  }

  private runModule(
    step: OriginalStep,
    module: OriginalModule,
    stepIndex: number,
    moduleIndex: number,
  ): ModuleResult {
    const recorder = this.recorder;
    const where = { step_id: step.step_id, module_name: module.name };
    recorder.emit('module_started', where, { module_id: module.module_id });
    switch (module.module_id) {
      case 'api.llm':
        return simulateLlm(recorder, step, module, stepIndex, moduleIndex);
      case 'user.select':
        return simulateSelect(recorder, step, module);
      case 'user.text_input':
        return simulateTextInput(recorder, step, module);
      case 'transform.extract': {
        const state = recorder.flatState();
        const scenes = (state['scene_concepts'] as { scenes?: Scene[] } | null)?.scenes ?? [];
        const indices = (state['selected_scene_indices'] as number[] | null) ?? [];
        const scene = scenes[indices[0] ?? 0] ?? null;
        recorder.emit('module_completed', where, completedData(module, { scene }));
        return { kind: 'done' };
      }
      case 'media.generate':
        return simulateMedia(recorder, step, module, moduleIndex);
      case 'io.save_json':
        return simulateSaveJson(recorder, step, module);
      default:
        throw new Error(`fixture workflow uses unknown module ${module.module_id}`);
    }
  }
}
