import {
  type BranchSnapshot,
  type DisplayItem,
  type ModuleRunContext,
  type PlannedModule,
  type StepwiseModule,
  type WorkflowPlan,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { DecisionSession, ModuleExecution } from './decision.js';
import type { ModuleRegistry } from '../modules/registry.js';
import type { TemplateEngine } from './templating.js';
import { ModuleFailure } from './module-failure.js';
import { redactForLog } from './redaction.js';
import type { SecretReader } from './credentials.js';
import { renderDisplay } from './display.js';
import { asFailure, failAttempt } from './module-outcome.js';
import {
  isJobModule,
  jobBeingPolled,
  jobCheckDue,
  jobTimedOut,
  recordJobError,
} from './job-progress.js';

export { ModuleFailure };
export {
  asFailure,
  completeModule,
  failAttempt,
  recordExecution,
  stateChangesOf,
  type ExecutionResult,
} from './module-outcome.js';

export interface AdvanceDependencies {
  registry: ModuleRegistry;
  templates: TemplateEngine;
  now: () => Date;
  newInteractionId: () => string;
  /** Longest a non-interactive module may run before it counts as failed. */
  moduleTimeoutMs: number;
  /** The run owners' secrets, for modules' `credentials`; absent without SECRETS_MASTER_KEY. */
  secrets?: SecretReader | null;
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
    case 'retry_wait':
    case 'job_wait': {
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
        // resets the count to 0 before the module is ready again. A started attempt, or one
        // waiting on its outside job, goes on as the same attempt.
        attempt:
          cursor.phase === 'started' || cursor.phase === 'job_wait'
            ? Math.max(1, snapshot.attempt)
            : snapshot.attempt + 1,
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

export function moduleContext(
  deps: AdvanceDependencies,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  snapshot: BranchSnapshot,
  planned: PlannedModule,
  attempt: number,
  idempotencyKey: string,
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
      idempotency_key: idempotencyKey,
      feedback: feedbackFor(snapshot, planned),
    },
    config: plan.workflow.config,
    render: (template, extra = {}) => deps.templates.renderValue(template, { ...base, ...extra }),
    signal,
  };
}

/**
 * Moves the decision on from where the branch stands until a module must be executed
 * (`session.pending`), a person is needed, a module fails, or the workflow ends. Nothing here
 * runs a module: the drain's executor does, and `completeExecution` turns its result into events,
 * so a replay never runs a module again.
 */
export async function advance(
  session: DecisionSession,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  deps: AdvanceDependencies,
): Promise<void> {
  while (session.snapshot.status === 'running' && session.pending === null) {
    // A module waiting out its retry backoff goes on when its wake comes (holding nothing).
    const { cursor, retry_at: retryAt } = session.snapshot;
    if (cursor?.phase === 'retry_wait' && retryAt !== null && new Date(retryAt) > deps.now())
      return;
    // A module waiting on an outside job is checked when its timer fires (holding nothing).
    const jobDue = jobCheckDue(session.snapshot, run, session.wakeAt);
    if (jobDue !== null && jobDue > deps.now()) return;
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
    await prepareModule(session, run, plan, next.planned, next.attempt, deps);
  }
}

/**
 * Decides one module up to its execution: its step boundary, its `when`, its rendered inputs and
 * its `module_started` (with the attempt's idempotency key); then leaves it in `session.pending`.
 * An attempt whose `module_started` was committed without an end (its drain died or lost its
 * lease mid-module) is recorded as interrupted and handed out again with the same key.
 */
async function prepareModule(
  session: DecisionSession,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  planned: PlannedModule,
  attempt: number,
  deps: AdvanceDependencies,
): Promise<void> {
  const { step, module } = planned;
  const position = { step_id: step.step_id, module_name: module.name };
  const cursor = session.snapshot.cursor;
  if (jobBeingPolled(session.snapshot, planned)) {
    await prepareJobCheck(session, run, plan, planned, attempt, deps);
    return;
  }
  const interruptedKey =
    cursor?.phase === 'started' &&
    cursor.step_id === step.step_id &&
    cursor.module_name === module.name
      ? (session.snapshot.attempt_key ?? null)
      : null;
  if (interruptedKey === null) {
    const open = session.snapshot.open_step;
    if (open !== step.step_id) {
      if (open) session.emit('step_completed', { step_id: open });
      session.emit('step_started', { step_id: step.step_id });
    }
  }

  let inputs: Record<string, unknown>;
  let implementation: StepwiseModule;
  let display: DisplayItem[] | null;
  try {
    implementation = resolveImplementation(deps.registry, module.module_id);
    const context = templateContext(run, plan, session.snapshot, planned, deps.now());
    if (
      interruptedKey === null &&
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
    // Rendered with the inputs, from the same state: what the person sees beside the question.
    display =
      implementation.interactive && module.display !== undefined
        ? await renderDisplay(module.display, deps.templates, context)
        : null;
  } catch (error) {
    // The module never started: record the attempt so the log shows what was tried.
    if (interruptedKey === null)
      session.emit('module_started', position, {
        inputs: {},
        attempt,
        idempotency_key: `${run.workflow_run_id}:${session.nextSeq}`,
        effects: 'none',
      });
    failAttempt(session, planned, attempt, asFailure(error), deps);
    return;
  }

  const effects = implementation.interactive ? 'none' : implementation.effects;
  const recovered = interruptedKey !== null && effects === 'external';
  const idempotencyKey = recovered ? interruptedKey : `${run.workflow_run_id}:${session.nextSeq}`;
  if (recovered) {
    session.emit('module_interrupted', position, { attempt, idempotency_key: idempotencyKey });
  } else {
    session.emit('module_started', position, {
      inputs: redactForLog(inputs) as Record<string, unknown>,
      attempt,
      idempotency_key: idempotencyKey,
      effects,
      // The secrets' names only: their values are read at call time and never recorded.
      ...(module.credentials ? { credentials: module.credentials } : {}),
    });
  }
  session.pending = {
    planned,
    implementation,
    plan,
    attempt,
    inputs,
    display,
    idempotencyKey,
    effects,
    recovered,
    job: null,
  };
}

/**
 * The next check on the outside job an attempt submitted: the same attempt and key, inputs
 * rendered again from the same state, no new `module_started`. A job past its deadline fails the
 * attempt without another call.
 */
async function prepareJobCheck(
  session: DecisionSession,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  planned: PlannedModule,
  attempt: number,
  deps: AdvanceDependencies,
): Promise<void> {
  const snapshot = session.snapshot;
  const job = snapshot.job;
  const idempotencyKey = snapshot.attempt_key;
  const execution: ModuleExecution = {
    planned,
    implementation: resolveImplementation(deps.registry, planned.module.module_id),
    plan,
    attempt,
    inputs: {},
    display: null,
    idempotencyKey: idempotencyKey ?? '',
    effects: 'external',
    recovered: false,
    job: job ? { job_id: job.job_id, status: job.status, submitted_at: job.submitted_at } : null,
  };
  try {
    const timedOut = jobTimedOut(snapshot, deps.now());
    if (timedOut) throw timedOut;
    if (!job || !idempotencyKey || !isJobModule(execution.implementation))
      throw new ModuleFailure(
        'JOB_STATE_INVALID',
        `module ${planned.step.step_id}.${planned.module.name} waits on a job it cannot check`,
        false,
      );
    const context = templateContext(run, plan, snapshot, planned, deps.now());
    const rendered = await deps.templates.renderInputs(
      planned.module.inputs,
      context,
      execution.implementation.renderAs,
    );
    const parsed = execution.implementation.inputs.safeParse(rendered);
    if (!parsed.success) throw new ModuleFailure('INPUT_INVALID', parsed.error.message, false);
    session.pending = { ...execution, inputs: parsed.data as Record<string, unknown> };
  } catch (error) {
    const failure = asFailure(error);
    recordJobError(session, execution, failure);
    failAttempt(session, planned, attempt, failure, deps);
  }
}
