import { advance } from '../advance.js';
import type { Decision } from '../decision.js';
import { failAttempt } from '../module-outcome.js';
import { ModuleFailure } from '../module-failure.js';
import type { CommandContext } from './context.js';
import { answeringContext, recordAnswer } from './respond.js';

/**
 * A question's deadline fired (people.md, "Notifications and deadlines"). It acts only if that
 * question is still pending with that very deadline: an answer, a cancel or a branch that came
 * first leaves nothing for it to do, and the command is applied with no event. Because commands
 * on a run apply one at a time, an answer and a deadline that arrive together cannot both win:
 * whichever is applied first closes the question, and the log shows which.
 */
export async function decideTimeout(
  { run, plan, session, deps }: CommandContext,
  payload: { interaction_id: string; due_at: string },
): Promise<Decision> {
  const snapshot = run.snapshot;
  const pending = snapshot.pending_interaction;
  const deadline = pending?.deadline;
  const nothingToDo: Decision = { kind: 'noop', wakeAt: null };
  if (
    snapshot.status !== 'awaiting_input' ||
    !pending ||
    !deadline ||
    pending.interaction_id !== payload.interaction_id ||
    deadline.due_at !== payload.due_at
  )
    return nothingToDo;
  // No clock check here: the timer only sent this command once its own clock said the deadline
  // had come (fireDeadline sets a timer again when it fires early). Refusing it because this
  // runner's clock is behind would spend the command's idempotency key on nothing, and no later
  // timer or sweep could time the question out (its command would be a repeat).
  const now = deps.now();
  const position = { step_id: pending.step_id, module_name: pending.module_name };

  if (deadline.on_timeout === 'remind') {
    const every = deadline.remind_every_ms ?? 3_600_000;
    session.emit('reminder_sent', position, {
      interaction_id: pending.interaction_id,
      reminder: (deadline.reminders_sent ?? 0) + 1,
      due_at: deadline.due_at,
      // From the deadline that passed if this runner's clock is behind it, so that reminders
      // never come faster than remind_every and each is due after the one before.
      next_due_at: new Date(
        Math.max(now.getTime(), Date.parse(deadline.due_at)) + every,
      ).toISOString(),
    });
    return session.toDecision();
  }

  // The question's module is looked up before anything is written: were it gone from the plan
  // (it cannot be while the question is pending, as resume re-plans from the position), timing
  // out would close the question with nothing to move the run on. It is left for a person.
  const planned = plan.find(pending.step_id, pending.module_name);
  if (!planned) return nothingToDo;
  const implementation = deps.registry.get(planned.module.module_id);
  session.emit('interaction_timed_out', position, {
    interaction_id: pending.interaction_id,
    on_timeout: deadline.on_timeout,
    due_at: deadline.due_at,
  });
  const fail = (code: string, message: string) =>
    failAttempt(session, planned, snapshot.attempt, new ModuleFailure(code, message, false), deps);

  if (deadline.on_timeout === 'fail' || !implementation?.interactive) {
    fail('INTERACTION_TIMED_OUT', `nobody answered by the deadline (${deadline.due_at})`);
    return session.toDecision();
  }
  // `default`: the module's declared answer, checked against the question as it was rendered.
  const response = planned.module.default_response;
  const checked =
    response === undefined
      ? {
          ok: false as const,
          errors: [{ path: '', message: 'the module has no default_response' }],
        }
      : await implementation.respond(
          pending.request,
          response,
          answeringContext(deps, run, plan, snapshot, planned),
        );
  if (!checked.ok) {
    const reasons = checked.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
    fail(
      'DEFAULT_RESPONSE_INVALID',
      `the deadline passed and default_response does not fit the question as asked: ${reasons.join('; ')}`,
    );
    return session.toDecision();
  }
  recordAnswer(
    session,
    planned,
    implementation,
    { interactionId: pending.interaction_id, response, timedOut: true },
    checked.outputs,
  );
  if (session.snapshot.status === 'running') await advance(session, run, plan, deps);
  return session.toDecision();
}
