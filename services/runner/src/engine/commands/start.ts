import { advance } from '../advance.js';
import type { Decision } from '../decision.js';
import { runCreatedData, type CommandContext } from './context.js';

/** Starts the run: `run_created`, then on to the first question, end or effectful module. */
export async function decideStart({ run, plan, session, deps }: CommandContext): Promise<Decision> {
  if (run.snapshot.as_of_seq > 0) return { kind: 'noop', wakeAt: null };
  session.emit('run_created', null, runCreatedData(run));
  await advance(session, run, plan, deps);
  return session.toDecision();
}
