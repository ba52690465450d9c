import type { CommandOutcome } from '@stepwise/shared';
import type { RunRepository } from './run-repository.js';
import { decideCommand, type EngineDependencies } from './decide-command.js';

export interface DrainDependencies extends EngineDependencies {
  repository: RunRepository;
  /** Counts committed events for the metrics (best effort, never waited for). */
  countCommitted?: (events: number) => void;
  /** Asks for a `wake` of the run at `at`, if it still stands at `expectedLastSeq` then. */
  scheduleWake: (runId: string, userId: string, expectedLastSeq: number, at: Date) => Promise<void>;
}

/** Consecutive lost races after which the drain gives up and lets the queue retry it. */
const MAX_CONFLICTS = 50;

/**
 * Applies a run's pending commands one by one, in acceptance order, each in one committed batch.
 * Any number of drains may run for one run at once: each commit is conditional on the run being
 * as the drain read it, and the loser of a race reads again. Returns when no command is pending,
 * with the outcome of each command this drain applied or refused (by command id).
 */
export async function drainRun(
  runId: string,
  deps: DrainDependencies,
): Promise<Map<string, CommandOutcome>> {
  const outcomes = new Map<string, CommandOutcome>();
  let conflicts = 0;
  let caughtUp = false;
  for (;;) {
    const loaded = await deps.repository.load(runId);
    if (!loaded) return outcomes;
    const { run, applied, next: command } = loaded;
    await deps.repository.settleCommands(run, applied);
    if (!command) return outcomes;

    const decision = await decideCommand(run, command, deps);
    let won: boolean;
    if (decision.kind === 'commit') {
      const outcome = await deps.repository.commit(run, command, decision, deps.now());
      won = outcome !== null;
      if (outcome) {
        await deps.repository.writeEvents(outcome.events);
        await deps.repository.finishCommand(command, 'applied', null);
        deps.countCommitted?.(outcome.events.length);
        outcomes.set(command.command_id, { status: 'applied' });
        // Nothing was accepted after this command, so another read would find nothing to do. A
        // command accepted from here on brings its own job (acceptance enqueues after it stores).
        caughtUp = outcome.acceptedCommandSeq <= command.seq;
      }
    } else if (decision.kind === 'reject') {
      won = await deps.repository.reject(run, command, decision.error);
      if (won) {
        await deps.repository.finishCommand(command, 'rejected', decision.error);
        outcomes.set(command.command_id, { status: 'rejected', error: decision.error });
      }
    } else {
      won = await deps.repository.acknowledge(run, command);
      if (won) {
        await deps.repository.finishCommand(command, 'applied', null);
        outcomes.set(command.command_id, { status: 'applied' });
      }
    }
    if (!won) {
      if (++conflicts > MAX_CONFLICTS)
        throw new Error(`run ${runId}: gave up after ${MAX_CONFLICTS} lost races`);
      continue;
    }
    conflicts = 0;
    if (decision.kind !== 'reject' && decision.wakeAt) {
      const lastSeq = run.last_seq + (decision.kind === 'commit' ? decision.events.length : 0);
      await deps.scheduleWake(run.workflow_run_id, run.user_id, lastSeq, decision.wakeAt);
    }
    if (caughtUp) return outcomes;
  }
}
