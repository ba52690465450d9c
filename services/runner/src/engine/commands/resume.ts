import { advance } from '../advance.js';
import type { Decision } from '../decision.js';
import { refuseIfFinished, type CommandContext } from './context.js';

/** Resumes the run where it stands; a pending question is asked again under the same id. */
export async function decideResume({
  run,
  plan,
  session,
  deps,
}: CommandContext): Promise<Decision> {
  const finished = refuseIfFinished(run);
  if (finished) return finished;
  const snapshot = run.snapshot;
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
