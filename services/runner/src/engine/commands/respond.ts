import {
  completeModule,
  moduleContext,
  advance,
  asFailure,
  type AdvanceDependencies,
} from '../advance.js';
import type {
  BranchSnapshot,
  ModuleRunContext,
  PlannedModule,
  StepwiseModule,
  WorkflowPlan,
  WorkflowRunRecord,
} from '@stepwise/shared';
import type { Decision, DecisionSession } from '../decision.js';
import { reject, type CommandContext } from './context.js';

/** An answer to the pending interaction: checked by its module, recorded, and the run moves on. */
export async function decideRespond(
  { run, plan, session, deps }: CommandContext,
  payload: { interaction_id: string; response?: unknown },
): Promise<Decision> {
  const snapshot = run.snapshot;
  const interactionId = payload.interaction_id;
  const pending = snapshot.pending_interaction;
  if (snapshot.status !== 'awaiting_input' || pending?.interaction_id !== interactionId) {
    return reject('INTERACTION_NOT_PENDING', `interaction '${interactionId}' is not pending`);
  }
  const planned = plan.find(pending.step_id, pending.module_name);
  const implementation = planned ? deps.registry.get(planned.module.module_id) : undefined;
  if (!planned || !implementation?.interactive) {
    return reject(
      'INTERACTION_NOT_PENDING',
      `interaction '${interactionId}' cannot be answered by this version`,
    );
  }
  const context = answeringContext(deps, run, plan, snapshot, planned);
  const response = payload.response;
  const checked = await implementation.respond(pending.request, response, context);
  if (!checked.ok) {
    const summary = checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    return reject('INTERACTION_INVALID', summary, checked.errors);
  }
  recordAnswer(session, planned, implementation, { interactionId, response }, checked.outputs);
  if (session.snapshot.status === 'running') await advance(session, run, plan, deps);
  return session.toDecision();
}

/** What a module checks an answer with: the pending attempt's context. */
export function answeringContext(
  deps: AdvanceDependencies,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  snapshot: BranchSnapshot,
  planned: PlannedModule,
): ModuleRunContext {
  return moduleContext(
    deps,
    run,
    plan,
    snapshot,
    planned,
    snapshot.attempt,
    snapshot.attempt_key ?? `${run.workflow_run_id}:${snapshot.as_of_seq}`,
    new AbortController().signal,
  );
}

/**
 * Records an answer the module accepted and completes the module with its outputs; outputs that
 * cannot be stored fail the run (as any module's would).
 */
export function recordAnswer(
  session: DecisionSession,
  planned: PlannedModule,
  implementation: StepwiseModule,
  answer: { interactionId: string; response: unknown; reusedFrom?: string; timedOut?: boolean },
  outputs: Record<string, unknown>,
): void {
  const position = { step_id: planned.step.step_id, module_name: planned.module.name };
  session.emit('interaction_responded', position, {
    interaction_id: answer.interactionId,
    response: answer.response,
    ...(answer.reusedFrom === undefined ? {} : { reused_from: answer.reusedFrom }),
    ...(answer.timedOut ? { timed_out: true as const } : {}),
  });
  try {
    completeModule(session, planned, implementation, outputs);
  } catch (error) {
    const failure = asFailure(error);
    const failed = { code: failure.code, message: failure.message };
    session.emit('module_failed', position, {
      error: failed,
      attempt: session.snapshot.attempt,
      will_retry: false,
    });
    session.emit('run_failed', null, { error: failed });
  }
}
