import { advance } from '../advance.js';
import type { Decision } from '../decision.js';
import { refuseIfFinished, reject, type CommandContext } from './context.js';

/** Goes back to a module at or before the run's position and runs it again (with feedback). */
export async function decideRetry(
  { run, plan, session, deps }: CommandContext,
  payload: {
    step_id: string;
    module_name?: string | undefined;
    feedback?: string | undefined;
    reuse_answers?: boolean | undefined;
  },
): Promise<Decision> {
  const finished = refuseIfFinished(run);
  if (finished) return finished;
  const { step_id: stepId, module_name: moduleName } = payload;
  const target =
    moduleName === undefined ? plan.firstOfStep(stepId) : plan.find(stepId, moduleName);
  if (!target) {
    const where =
      moduleName === undefined ? `step '${stepId}'` : `module '${stepId}.${moduleName}'`;
    // Well formed, but not in this run's version (which resume may have changed): a conflict with
    // the run's state, as the other refusals of a position are.
    return reject('CONFLICT', `this version has no ${where}`, [
      {
        path: moduleName === undefined ? 'body.step_id' : 'body.module_name',
        message: 'not in the run’s version',
      },
    ]);
  }
  const cursor = run.snapshot.cursor;
  const current = cursor ? plan.indexOf(cursor.step_id, cursor.module_name) : -1;
  if (current < 0 || plan.indexOf(target.step.step_id, target.module.name) > current) {
    return reject(
      'CONFLICT',
      `${target.step.step_id}.${target.module.name} is after the run's current position`,
    );
  }
  session.emit('retry_requested', null, {
    target: { step_id: target.step.step_id, module_name: target.module.name },
    feedback: payload.feedback ?? null,
    ...(payload.reuse_answers === true ? { reuse_answers: true as const } : {}),
  });
  await advance(session, run, plan, deps);
  return session.toDecision();
}
