import {
  moduleDeadlineOf,
  type InteractionRequest,
  type JobReport,
  type ModuleDefinition,
  type PlannedModule,
  type StepwiseModule,
} from '@stepwise/shared';
import type { DecisionSession, ModuleExecution } from './decision.js';
import { completeRequest } from './display.js';
import { isJobModule, recordJobError, recordJobReport } from './job-progress.js';
import { ModuleFailure, refuseUnstorable, toModuleFailure } from './module-failure.js';
import { TemplateError } from './templating.js';

/**
 * What an executed module comes to in the log: its outputs and state writes, its request, the
 * steps of its outside job, or a failed attempt (retried after a backoff while attempts remain).
 */

/** What recording needs of the engine's dependencies: its clock, and new interaction ids. */
interface Clock {
  now: () => Date;
}
interface RecordingDependencies extends Clock {
  newInteractionId: () => string;
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

export function asFailure(error: unknown): ModuleFailure {
  if (error instanceof TemplateError)
    return new ModuleFailure('TEMPLATE_ERROR', error.message, false);
  return toModuleFailure(error);
}

/** Records a failed attempt: a retry after backoff while attempts remain, else the run fails. */
export function failAttempt(
  session: DecisionSession,
  planned: PlannedModule,
  attempt: number,
  failure: ModuleFailure,
  deps: Clock,
): void {
  const { module } = planned;
  const position = { step_id: planned.step.step_id, module_name: module.name };
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
}

/** What executing a module came to: its outputs (or interaction request), or a failure. */
export type ExecutionResult = { ok: true; value: unknown } | { ok: false; failure: ModuleFailure };

/** Turns the executor's result for the module the decision stopped at into events. */
export function recordExecution(
  session: DecisionSession,
  execution: ModuleExecution,
  result: ExecutionResult,
  deps: RecordingDependencies,
): void {
  session.pending = null;
  const { planned, implementation, attempt } = execution;
  const position = { step_id: planned.step.step_id, module_name: planned.module.name };
  if (!result.ok) {
    if (isJobModule(implementation)) recordJobError(session, execution, result.failure);
    failAttempt(session, planned, attempt, result.failure, deps);
  } else if (isJobModule(implementation)) {
    const ended = recordJobReport(
      session,
      execution,
      implementation,
      result.value as JobReport,
      deps.now(),
    );
    if (ended === null) return;
    if ('failure' in ended) {
      failAttempt(session, planned, attempt, ended.failure, deps);
      return;
    }
    try {
      completeModule(session, planned, implementation, ended.outputs);
    } catch (error) {
      failAttempt(session, planned, attempt, asFailure(error), deps);
    }
  } else if (implementation.interactive) {
    // A plugin's request is stored in the log like an output: the same rule applies.
    let request: InteractionRequest;
    try {
      request = completeRequest(planned.module.module_id, result.value, execution.display);
      refuseUnstorable(request, 'request', unstorableOutput(implementation));
    } catch (error) {
      failAttempt(session, planned, attempt, asFailure(error), deps);
      return;
    }
    const deadline = moduleDeadlineOf(planned.module);
    session.emit('interaction_requested', position, {
      interaction_id: deps.newInteractionId(),
      module_id: planned.module.module_id,
      request,
      // The deadline is fixed when the question is asked, so a timer can be re-created from the
      // log alone (people.md, "Notifications and deadlines").
      ...(deadline
        ? {
            deadline: {
              asked_at: deps.now().toISOString(),
              due_at: new Date(deps.now().getTime() + deadline.timeoutMs).toISOString(),
              on_timeout: deadline.onTimeout,
              ...(deadline.remindEveryMs === null
                ? {}
                : { remind_every_ms: deadline.remindEveryMs }),
            },
          }
        : {}),
    });
  } else {
    try {
      completeModule(session, planned, implementation, result.value as Record<string, unknown>);
    } catch (error) {
      failAttempt(session, planned, attempt, asFailure(error), deps);
    }
  }
}

/** How a module whose result cannot be stored fails (another try would likely fail the same). */
function unstorableOutput(implementation: StepwiseModule) {
  return {
    code: 'OUTPUT_UNSTORABLE',
    subject: `what module '${implementation.id}' returned`,
    retryable: false,
  };
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
  // Every module's outputs, plugins' and answers' included, are stored: a value that cannot be
  // stored fails the module here rather than every later commit of the run.
  refuseUnstorable(outputs, 'outputs', unstorableOutput(implementation));
  const position = { step_id: planned.step.step_id, module_name: planned.module.name };
  session.emit('module_completed', position, {
    outputs,
    state_changes: stateChangesOf(planned.module, outputs),
  });
  if (planned.lastInStep) session.emit('step_completed', { step_id: planned.step.step_id });
}
