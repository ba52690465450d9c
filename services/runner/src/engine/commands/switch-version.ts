import { advance } from '../advance.js';
import type { Decision } from '../decision.js';
import { refuseIfFinished, reject, type CommandContext } from './context.js';

/** Moves the run onto another version of its template, where it stands or at a named step. */
export async function decideSwitchVersion(
  { run, session, deps }: CommandContext,
  payload: {
    to_version_id: string;
    restart_at?: string | undefined;
    reuse_answers?: boolean | undefined;
  },
): Promise<Decision> {
  const finished = refuseIfFinished(run);
  if (finished) return finished;
  const snapshot = run.snapshot;
  const newPlan = await deps.loadPlan(run.user_id, payload.to_version_id);
  const restartStep = payload.restart_at;
  let restartAt: { step_id: string; module_name: string } | null = null;
  if (restartStep !== undefined) {
    const first = newPlan.firstOfStep(restartStep);
    if (!first)
      return reject('CONFLICT', `the new version has no step '${restartStep}'`, [
        { path: 'body.restart_at', message: 'not a step of the submitted version' },
      ]);
    restartAt = { step_id: first.step.step_id, module_name: first.module.name };
  } else {
    const cursor = snapshot.cursor;
    if (cursor && newPlan.indexOf(cursor.step_id, cursor.module_name) < 0) {
      return reject(
        'POSITION_NOT_IN_VERSION',
        `the run stands at ${cursor.step_id}.${cursor.module_name}, which the new version does not have; name a restart_at step`,
        { position: { step_id: cursor.step_id, module_name: cursor.module_name } },
      );
    }
  }
  session.emit('version_switched', null, {
    from_version_id: snapshot.version_id,
    to_version_id: payload.to_version_id,
    choice: 'continue_with_new',
    restart_at: restartAt,
    ...(payload.reuse_answers === true ? { reuse_answers: true as const } : {}),
  });
  await advance(session, run, newPlan, deps);
  return session.toDecision();
}
