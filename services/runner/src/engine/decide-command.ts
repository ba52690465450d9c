import {
  replayEvents,
  type RunCommandRecord,
  type WorkflowPlan,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { RunHistoryReader } from './run-repository.js';
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
  history: RunHistoryReader;
}

const finished = new Set(['completed', 'cancelled']);

function runCreatedData(run: WorkflowRunRecord) {
  return {
    project_name: run.project_name,
    initial_state: run.initial_state,
    workflow_version_id: run.initial_version_id,
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

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
  const plan = await deps.loadPlan(run.snapshot.version_id || run.current_version_id);
  const session = new DecisionSession(run.snapshot, run.last_seq);
  const snapshot = run.snapshot;
  const started = snapshot.as_of_seq > 0;

  switch (command.type) {
    case 'start': {
      if (started) return { kind: 'noop', wakeAt: null };
      session.emit('run_created', null, runCreatedData(run));
      await advance(session, run, plan, deps);
      return session.toDecision();
    }

    case 'continue': {
      if (command.payload['expected_last_seq'] !== run.last_seq)
        return { kind: 'noop', wakeAt: null };
      if (!started) {
        // The start command never arrived (its acceptance was interrupted): start now.
        session.emit('run_created', null, runCreatedData(run));
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

    case 'retry': {
      if (finished.has(snapshot.status))
        return reject(
          'RUN_FINISHED',
          `the run is ${snapshot.status}; branch from an earlier event instead`,
        );
      const stepId = text(command.payload['step_id']) ?? '';
      const moduleName = text(command.payload['module_name']);
      const target =
        moduleName === undefined ? plan.firstOfStep(stepId) : plan.find(stepId, moduleName);
      if (!target) {
        const where =
          moduleName === undefined ? `step '${stepId}'` : `module '${stepId}.${moduleName}'`;
        return reject('BAD_REQUEST', `this version has no ${where}`, [
          {
            path: moduleName === undefined ? 'body.step_id' : 'body.module_name',
            message: 'not in the run’s version',
          },
        ]);
      }
      const cursor = snapshot.cursor;
      const current = cursor ? plan.indexOf(cursor.step_id, cursor.module_name) : -1;
      if (current < 0 || plan.indexOf(target.step.step_id, target.module.name) > current) {
        return reject(
          'CONFLICT',
          `${target.step.step_id}.${target.module.name} is after the run's current position`,
        );
      }
      session.emit('retry_requested', null, {
        target: { step_id: target.step.step_id, module_name: target.module.name },
        feedback: text(command.payload['feedback']) ?? null,
      });
      await advance(session, run, plan, deps);
      return session.toDecision();
    }

    case 'branch': {
      const eventId = text(command.payload['from_event_id']) ?? '';
      const branchId = text(command.payload['branch_id']) ?? '';
      const event = await deps.history.findEvent(run.workflow_run_id, eventId);
      if (!event) return reject('NOT_FOUND', `event '${eventId}' not found in this run`);
      // The new branch forks off the branch the event belongs to, so two forks from one event
      // are siblings.
      const owner = await deps.history.readBranch(run.workflow_run_id, event.branch_id);
      if (!owner) throw new Error(`branch ${event.branch_id} of event ${eventId} is missing`);
      const past = await deps.history.visibleEvents(owner, event.seq);
      session.rebase(replayEvents(branchId, past, run.initial_version_id));
      session.emit('branch_created', null, {
        branch_id: branchId,
        parent_branch_id: owner.branch_id,
        branch_point_event_id: event.event_id,
        branch_point_seq: event.seq,
        lineage: [...owner.lineage, { branch_id: owner.branch_id, until_seq: event.seq }],
      });
      await advance(session, run, await deps.loadPlan(session.snapshot.version_id), deps);
      return session.toDecision();
    }

    case 'resume': {
      if (finished.has(snapshot.status))
        return reject(
          'RUN_FINISHED',
          `the run is ${snapshot.status}; branch from an earlier event instead`,
        );
      session.emit('run_resumed', null, {});
      const pending = snapshot.pending_interaction;
      if (snapshot.status === 'awaiting_input' && pending) {
        // The same interaction again, same id: a client that lost it finds it on the stream.
        session.emit(
          'interaction_requested',
          { step_id: pending.step_id, module_name: pending.module_name },
          {
            interaction_id: pending.interaction_id,
            module_id: pending.module_id,
            request: pending.request,
          },
        );
        return session.toDecision();
      }
      await advance(session, run, plan, deps);
      return session.toDecision();
    }

    case 'switch_version': {
      if (finished.has(snapshot.status))
        return reject(
          'RUN_FINISHED',
          `the run is ${snapshot.status}; branch from an earlier event instead`,
        );
      const toVersion = text(command.payload['to_version_id']) ?? '';
      const newPlan = await deps.loadPlan(toVersion);
      const restartStep = text(command.payload['restart_at']);
      let restartAt: { step_id: string; module_name: string } | null = null;
      if (restartStep !== undefined) {
        const first = newPlan.firstOfStep(restartStep);
        if (!first)
          return reject('BAD_REQUEST', `the new version has no step '${restartStep}'`, [
            { path: 'body.restart_at', message: 'not a step of the submitted version' },
          ]);
        restartAt = { step_id: first.step.step_id, module_name: first.module.name };
      } else {
        const cursor = snapshot.cursor;
        if (cursor && newPlan.indexOf(cursor.step_id, cursor.module_name) < 0) {
          return reject(
            'POSITION_NOT_IN_VERSION',
            `the run stands at ${cursor.step_id}.${cursor.module_name}, which the new version does not have; name a restart_at step`,
            {
              position: { step_id: cursor.step_id, module_name: cursor.module_name },
            },
          );
        }
      }
      session.emit('version_switched', null, {
        from_version_id: snapshot.version_id,
        to_version_id: toVersion,
        choice: 'continue_with_new',
        restart_at: restartAt,
      });
      await advance(session, run, newPlan, deps);
      return session.toDecision();
    }
  }
}
