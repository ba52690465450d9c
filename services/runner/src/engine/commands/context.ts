import type { RunCommandRecord, WorkflowPlan, WorkflowRunRecord } from '@stepwise/shared';
import type { AdvanceDependencies } from '../advance.js';
import type { Decision, DecisionSession } from '../decision.js';
import type { RunHistoryReader } from '../run-repository.js';

export interface EngineDependencies extends AdvanceDependencies {
  /**
   * The execution plan of a version of the user's (versions never change, so callers may cache).
   * A run's versions are its owner's: `workflow_versions` is sharded by owner.
   */
  loadPlan: (userId: string, versionId: string) => Promise<WorkflowPlan>;
  history: RunHistoryReader;
}

/** What every command handler decides on: the run as committed, its plan, a fresh session. */
export interface CommandContext {
  run: WorkflowRunRecord;
  command: RunCommandRecord;
  plan: WorkflowPlan;
  session: DecisionSession;
  deps: EngineDependencies;
}

export const finishedStatuses = new Set(['completed', 'cancelled']);

export function reject(code: string, message: string, details?: unknown): Decision {
  return {
    kind: 'reject',
    error: { code, message, ...(details === undefined ? {} : { details }) },
  };
}

export function runCreatedData(run: WorkflowRunRecord) {
  return {
    project_name: run.project_name,
    initial_state: run.initial_state,
    workflow_version_id: run.initial_version_id,
  };
}

/** Refuses a command that only makes sense on a run that has not finished. */
export function refuseIfFinished(run: WorkflowRunRecord): Decision | null {
  const status = run.snapshot.status;
  return finishedStatuses.has(status)
    ? reject('RUN_FINISHED', `the run is ${status}; branch from an earlier event instead`)
    : null;
}
