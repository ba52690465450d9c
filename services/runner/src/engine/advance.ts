import {
  type BranchSnapshot,
  type ModuleDefinition,
  type ModuleRunContext,
  type PlannedModule,
  type StepwiseModule,
  type WorkflowPlan,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { DecisionSession } from './decision.js';
import type { ModuleRegistry } from '../modules/registry.js';
import { TemplateError, type TemplateEngine } from './templating.js';
import { ModuleFailure, toModuleFailure } from './module-failure.js';
import { redactForLog } from './redaction.js';

export { ModuleFailure };

export interface AdvanceDependencies {
  registry: ModuleRegistry;
  templates: TemplateEngine;
  now: () => Date;
  newInteractionId: () => string;
  /** Longest a non-interactive module may run before it counts as failed. */
  moduleTimeoutMs: number;
}

type NextStep = { planned: PlannedModule; attempt: number } | 'end' | 'stop';

/** Where the branch goes from here, read off its cursor. */
export function nextModule(snapshot: BranchSnapshot, plan: WorkflowPlan): NextStep {
  const cursor = snapshot.cursor;
  if (cursor === null) {
    const first = plan.first();
    return first ? { planned: first, attempt: 1 } : 'end';
  }
  switch (cursor.phase) {
    case 'completed':
    case 'skipped': {
      const after = plan.after(cursor.step_id, cursor.module_name);
      if (after === undefined)
        throw new ModuleFailure(
          'POSITION_NOT_IN_VERSION',
          `module ${cursor.step_id}.${cursor.module_name} is not in this version`,
          false,
        );
      return after ? { planned: after, attempt: 1 } : 'end';
    }
    case 'ready':
    case 'started':
    case 'retry_wait': {
      const same = plan.find(cursor.step_id, cursor.module_name);
      if (!same)
        throw new ModuleFailure(
          'POSITION_NOT_IN_VERSION',
          `module ${cursor.step_id}.${cursor.module_name} is not in this version`,
          false,
        );
      return {
        planned: same,
        // Attempts count on across retries and resumes; a retry request or a version switch
        // resets the count to 0 before the module is ready again.
        attempt: cursor.phase === 'started' ? Math.max(1, snapshot.attempt) : snapshot.attempt + 1,
      };
    }
    case 'awaiting_input':
    case 'failed':
      return 'stop';
  }
}

export function templateContext(
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  snapshot: BranchSnapshot,
  planned: PlannedModule | null,
  now: Date,
) {
  return {
    state: snapshot.state,
    config: plan.workflow.config,
    run: {
      workflow_run_id: run.workflow_run_id,
      project_name: run.project_name,
      step_id: planned?.step.step_id ?? null,
      module_name: planned?.module.name ?? null,
      feedback: feedbackFor(snapshot, planned),
    },
    now: now.toISOString(),
  };
}

/** The retry feedback meant for this module, if any. */
export function feedbackFor(
  snapshot: BranchSnapshot,
  planned: PlannedModule | null,
): string | null {
  const feedback = snapshot.feedback;
  return feedback &&
    planned &&
    feedback.step_id === planned.step.step_id &&
    feedback.module_name === planned.module.name
    ? feedback.text
    : null;
}

function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part))
      return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** The state writes a module's `outputs_to_state` asks for. */
export function stateChangesOf(
  module: ModuleDefinition,
  outputs: Record<string, unknown>,
): Record<string, unknown> {
  const changes: [string, unknown][] = [];
  for (const [outputPath, stateKey] of Object.entries(module.outputs_to_state)) {
    const value = readPath(outputs, outputPath);
    if (value === undefined)
      throw new ModuleFailure(
        'OUTPUT_MISSING',
        `output '${outputPath}' (for state '${stateKey}') was not produced`,
        false,
      );
    changes.push([stateKey, value]);
  }
  return Object.fromEntries(changes);
}

function resolveImplementation(registry: ModuleRegistry, moduleId: string): StepwiseModule {
  const implementation = registry.get(moduleId);
  if (!implementation)
    throw new ModuleFailure(
      'MODULE_UNAVAILABLE',
      `module '${moduleId}' is not available on this runner`,
      false,
    );
  return implementation;
}

function asFailure(error: unknown): ModuleFailure {
  if (error instanceof TemplateError)
    return new ModuleFailure('TEMPLATE_ERROR', error.message, false);
  return toModuleFailure(error);
}

async function withTimeout<T>(
  work: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(
        new ModuleFailure('MODULE_TIMEOUT', `module did not finish within ${timeoutMs} ms`, true),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function moduleContext(
  deps: AdvanceDependencies,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  snapshot: BranchSnapshot,
  planned: PlannedModule,
  attempt: number,
  signal: AbortSignal,
): ModuleRunContext {
  const base = templateContext(run, plan, snapshot, planned, deps.now());
  return {
    run: {
      workflow_run_id: run.workflow_run_id,
      workflow_template_id: run.workflow_template_id,
      user_id: run.user_id,
      branch_id: snapshot.branch_id,
      base_seq: run.last_seq,
      project_name: run.project_name,
      step_id: planned.step.step_id,
      module_name: planned.module.name,
      attempt,
      feedback: feedbackFor(snapshot, planned),
    },
    config: plan.workflow.config,
    render: (template, extra = {}) => deps.templates.renderValue(template, { ...base, ...extra }),
    signal,
  };
}

/**
 * Runs modules from where the branch stands until a person is needed, a module fails, or the
 * workflow ends, emitting every event into the session. Non-interactive modules run here, once per
 * attempt; their results become events, so a replay never runs them again.
 */
export async function advance(
  session: DecisionSession,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  deps: AdvanceDependencies,
): Promise<void> {
  while (session.snapshot.status === 'running') {
    let next: NextStep;
    try {
      next = nextModule(session.snapshot, plan);
    } catch (error) {
      const failure = asFailure(error);
      session.emit('run_failed', null, { error: { code: failure.code, message: failure.message } });
      return;
    }
    if (next === 'stop') return;
    if (next === 'end') {
      const open = session.snapshot.open_step;
      if (open) session.emit('step_completed', { step_id: open });
      session.emit('run_completed', null, { state: session.snapshot.state });
      return;
    }
    await runModule(session, run, plan, next.planned, next.attempt, deps);
  }
}

async function runModule(
  session: DecisionSession,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  planned: PlannedModule,
  attempt: number,
  deps: AdvanceDependencies,
): Promise<void> {
  const { step, module } = planned;
  const position = { step_id: step.step_id, module_name: module.name };
  const open = session.snapshot.open_step;
  if (open !== step.step_id) {
    if (open) session.emit('step_completed', { step_id: open });
    session.emit('step_started', { step_id: step.step_id });
  }
  const fail = (failure: ModuleFailure) => {
    const maxAttempts = module.retry?.max_attempts ?? 1;
    const willRetry = failure.retryable && attempt < maxAttempts;
    const error = { code: failure.code, message: failure.message };
    if (willRetry) {
      const backoff = (module.retry?.backoff_ms ?? 500) * 2 ** (attempt - 1);
      const retryAt = new Date(deps.now().getTime() + backoff);
      session.emit('module_failed', position, {
        error,
        attempt,
        will_retry: true,
        retry_at: retryAt.toISOString(),
      });
      session.wakeAt = retryAt;
    } else {
      session.emit('module_failed', position, { error, attempt, will_retry: false });
      session.emit('run_failed', null, { error });
    }
  };

  let inputs: Record<string, unknown>;
  let implementation: StepwiseModule;
  try {
    implementation = resolveImplementation(deps.registry, module.module_id);
    const context = templateContext(run, plan, session.snapshot, planned, deps.now());
    if (
      module.when !== undefined &&
      !(await deps.templates.evaluateCondition(module.when, context))
    ) {
      session.emit('module_skipped', position, { when: module.when });
      if (planned.lastInStep) session.emit('step_completed', { step_id: step.step_id });
      return;
    }
    const rendered = await deps.templates.renderInputs(
      module.inputs,
      context,
      implementation.renderAs,
    );
    const parsed = implementation.inputs.safeParse(rendered);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${['inputs', ...i.path].join('.')}: ${i.message}`)
        .join('; ');
      throw new ModuleFailure('INPUT_INVALID', problems, false);
    }
    inputs = parsed.data as Record<string, unknown>;
  } catch (error) {
    // The module never started: record the attempt so the log shows what was tried.
    session.emit('module_started', position, { inputs: {}, attempt });
    fail(asFailure(error));
    return;
  }

  session.emit('module_started', position, { inputs: redactForLog(inputs), attempt });
  try {
    if (implementation.interactive) {
      const request = await withTimeout(
        (signal) =>
          implementation.request(
            inputs,
            moduleContext(deps, run, plan, session.snapshot, planned, attempt, signal),
          ),
        deps.moduleTimeoutMs,
      );
      session.emit('interaction_requested', position, {
        interaction_id: deps.newInteractionId(),
        module_id: module.module_id,
        request,
      });
      return;
    }
    const outputs = await withTimeout(
      (signal) =>
        implementation.execute(
          inputs,
          moduleContext(deps, run, plan, session.snapshot, planned, attempt, signal),
        ),
      deps.moduleTimeoutMs,
    );
    completeModule(session, planned, implementation, outputs);
  } catch (error) {
    fail(asFailure(error));
  }
}

/** Records a module's outputs and the state writes they make. */
export function completeModule(
  session: DecisionSession,
  planned: PlannedModule,
  implementation: StepwiseModule,
  outputs: Record<string, unknown>,
): void {
  if (implementation.outputs) {
    const checked = implementation.outputs.safeParse(outputs);
    if (!checked.success)
      throw new ModuleFailure(
        'OUTPUT_INVALID',
        `module '${implementation.id}' returned invalid outputs: ${checked.error.message}`,
        false,
      );
  }
  const position = { step_id: planned.step.step_id, module_name: planned.module.name };
  session.emit('module_completed', position, {
    outputs,
    state_changes: stateChangesOf(planned.module, outputs),
  });
  if (planned.lastInStep) session.emit('step_completed', { step_id: planned.step.step_id });
}
