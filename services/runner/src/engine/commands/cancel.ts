import type { Decision } from '../decision.js';
import { finishedStatuses, reject, type CommandContext } from './context.js';

/** Cancels the run; a chain in flight stops at its next module boundary (the drain sees to it). */
export function decideCancel(
  { run, session }: CommandContext,
  payload: { reason?: string | null | undefined },
): Decision {
  const status = run.snapshot.status;
  if (finishedStatuses.has(status)) return reject('RUN_FINISHED', `the run is already ${status}`);
  session.emit('run_cancelled', null, { reason: payload.reason ?? null });
  return session.toDecision();
}
