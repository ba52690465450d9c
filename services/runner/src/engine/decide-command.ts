import type { RunCommandRecord, WorkflowRunRecord } from '@stepwise/shared';
import { DecisionSession, type Decision } from './decision.js';
import { decideBranch } from './commands/branch.js';
import { decideCancel } from './commands/cancel.js';
import type { CommandContext, EngineDependencies } from './commands/context.js';
import { decideContinue, driveRun } from './commands/continue.js';
import { decideRespond } from './commands/respond.js';
import { decideResume } from './commands/resume.js';
import { decideRetry } from './commands/retry.js';
import { decideStart } from './commands/start.js';
import { decideSwitchVersion } from './commands/switch-version.js';
import { decideTimeout } from './commands/timeout.js';
import { parseRunCommand } from './commands/payloads.js';

export type { EngineDependencies } from './commands/context.js';

/**
 * What one command does to a run: a function of the run as committed and the command, with no
 * queue and no database writes. It stops at the first module that must be executed
 * (`session.pending`); the drain executes it and goes on with `completeExecution`.
 */
export async function decideCommand(
  run: WorkflowRunRecord,
  command: RunCommandRecord,
  deps: EngineDependencies,
): Promise<Decision> {
  const parsed = parseRunCommand(command);
  if (!parsed.ok) return { kind: 'reject', error: parsed.error };
  const context: CommandContext = {
    run,
    command,
    plan: await deps.loadPlan(run.user_id, run.snapshot.version_id || run.current_version_id),
    session: new DecisionSession(run.snapshot, run.last_seq),
    deps,
  };
  const typed = parsed.command;
  switch (typed.type) {
    case 'start':
      return decideStart(context);
    case 'continue':
      return decideContinue(context, typed.payload);
    case 'cancel':
      return decideCancel(context, typed.payload);
    case 'respond':
      return decideRespond(context, typed.payload);
    case 'retry':
      return decideRetry(context, typed.payload);
    case 'branch':
      return decideBranch(context, typed.payload);
    case 'resume':
      return decideResume(context);
    case 'switch_version':
      return decideSwitchVersion(context, typed.payload);
    case 'timeout':
      return decideTimeout(context, typed.payload);
  }
}

/** Moves a running run on without a command (see driveRun), for recovery and module boundaries. */
export async function decideDrive(
  run: WorkflowRunRecord,
  deps: EngineDependencies,
): Promise<Decision> {
  const plan = await deps.loadPlan(run.user_id, run.snapshot.version_id || run.current_version_id);
  return driveRun(run, plan, new DecisionSession(run.snapshot, run.last_seq), deps);
}
