import type { WorkflowPlan, WorkflowRunRecord } from '@stepwise/shared';
import { advance } from '../advance.js';
import { jobCheckDue } from '../job-progress.js';
import type { Decision, DecisionSession } from '../decision.js';
import { runCreatedData, type CommandContext, type EngineDependencies } from './context.js';

/**
 * Moves a running run on from where it stands: after a retry's backoff, when an outside job is
 * due for a check, after a chain stopped at
 * a module boundary to let a newer command in, or after a drain died mid-chain (an unfinished
 * attempt is recorded as interrupted and run again with its key). A run still waiting out a
 * backoff answers when it may go on.
 */
export async function driveRun(
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  session: DecisionSession,
  deps: EngineDependencies,
): Promise<Decision> {
  const snapshot = run.snapshot;
  if (snapshot.as_of_seq === 0) {
    // The start command never arrived (its acceptance was interrupted): start now.
    session.emit('run_created', null, runCreatedData(run));
  } else if (snapshot.status !== 'running') {
    return { kind: 'noop', wakeAt: null };
  } else if (snapshot.cursor?.phase === 'retry_wait' && snapshot.retry_at !== null) {
    const retryAt = new Date(snapshot.retry_at);
    if (retryAt > deps.now()) return { kind: 'noop', wakeAt: retryAt };
  } else {
    // An outside job is checked when its timer fires; an early wake only sets that timer again.
    const jobDue = jobCheckDue(snapshot, run);
    if (jobDue !== null && jobDue > deps.now()) return { kind: 'noop', wakeAt: jobDue };
  }
  await advance(session, run, plan, deps);
  return session.toDecision();
}

/** True when a run is running and nothing but the engine is needed to move it on now. */
export function needsDriving(run: WorkflowRunRecord, now: Date): boolean {
  const snapshot = run.snapshot;
  if (snapshot.status !== 'running') return false;
  if (snapshot.cursor?.phase === 'retry_wait' && snapshot.retry_at !== null)
    return new Date(snapshot.retry_at) <= now;
  const jobDue = jobCheckDue(snapshot, run);
  if (jobDue !== null) return jobDue <= now;
  return true;
}

/** `continue`: a wake that still finds the run where it was scheduled drives it on. */
export async function decideContinue(
  { run, plan, session, deps }: CommandContext,
  payload: { expected_last_seq: number },
): Promise<Decision> {
  if (payload.expected_last_seq !== run.last_seq) return { kind: 'noop', wakeAt: null };
  return driveRun(run, plan, session, deps);
}
