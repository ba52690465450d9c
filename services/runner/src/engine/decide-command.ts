import type { RunCommandRecord, WorkflowPlan, WorkflowRunRecord } from '@stepwise/shared';
import {
  advance,
  completeModule,
  moduleContext,
  ModuleFailure,
  type AdvanceDependencies,
} from './advance.js';
import { DecisionSession, type Decision } from './decision.js';

export interface EngineDependencies extends AdvanceDependencies {
  /** The execution plan of a version (versions never change, so callers may cache). */
  loadPlan: (versionId: string) => Promise<WorkflowPlan>;
}

const finished = new Set(['completed', 'cancelled']);

function reject(code: string, message: string, details?: unknown): Decision {
  return {
    kind: 'reject',
    error: { code, message, ...(details === undefined ? {} : { details }) },
  };
}

/**
 * What one command does to a run: a plain function of the run as committed and the command
 * (module execution aside), with no queue and no database. The caller commits the result with a
 * compare-and-set and calls again on a lost race.
 */
export async function decideCommand(
  run: WorkflowRunRecord,
  command: RunCommandRecord,
  deps: EngineDependencies,
): Promise<Decision> {
  const plan = await deps.loadPlan(run.current_version_id);
  const session = new DecisionSession(run.snapshot, run.last_seq);
  const snapshot = run.snapshot;
  const started = snapshot.as_of_seq > 0;

  switch (command.type) {
    case 'start': {
      if (started) return { kind: 'noop', wakeAt: null };
      session.emit('run_created', null, {
        project_name: run.project_name,
        initial_state: run.initial_state,
      });
      await advance(session, run, plan, deps);
      return session.toDecision();
    }

    case 'continue': {
      if (command.payload['expected_last_seq'] !== run.last_seq)
        return { kind: 'noop', wakeAt: null };
      if (!started) {
        // The start command never arrived (its acceptance was interrupted): start now.
        session.emit('run_created', null, {
          project_name: run.project_name,
          initial_state: run.initial_state,
        });
      } else if (snapshot.status !== 'running') {
        return { kind: 'noop', wakeAt: null };
      } else if (snapshot.cursor?.phase === 'retry_wait' && snapshot.retry_at !== null) {
        const retryAt = new Date(snapshot.retry_at);
        if (retryAt > deps.now()) return { kind: 'noop', wakeAt: retryAt };
      }
      await advance(session, run, plan, deps);
      return session.toDecision();
    }

    case 'cancel': {
      if (finished.has(snapshot.status))
        return reject('RUN_FINISHED', `the run is already ${snapshot.status}`);
      session.emit('run_cancelled', null, { reason: command.payload['reason'] ?? null });
      return session.toDecision();
    }

    case 'respond': {
      const interactionId = String(command.payload['interaction_id']);
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
      const context = moduleContext(
        deps,
        run,
        plan,
        snapshot,
        planned,
        snapshot.attempt,
        new AbortController().signal,
      );
      const response = command.payload['response'];
      const checked = await implementation.respond(pending.request, response, context);
      if (!checked.ok) {
        const summary = checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
        return reject('INTERACTION_INVALID', summary, checked.errors);
      }
      const position = { step_id: pending.step_id, module_name: pending.module_name };
      session.emit('interaction_responded', position, { interaction_id: interactionId, response });
      try {
        completeModule(session, planned, implementation, checked.outputs);
      } catch (error) {
        const failure =
          error instanceof ModuleFailure
            ? error
            : new ModuleFailure('MODULE_ERROR', String(error), false);
        session.emit('module_failed', position, {
          error: { code: failure.code, message: failure.message },
          attempt: snapshot.attempt,
          will_retry: false,
        });
        session.emit('run_failed', null, {
          error: { code: failure.code, message: failure.message },
        });
        return session.toDecision();
      }
      await advance(session, run, plan, deps);
      return session.toDecision();
    }
  }
}
