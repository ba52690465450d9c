import {
  comparableRequest,
  type EventRecord,
  type PendingInteraction,
  type WorkflowPlan,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import { answeringContext, recordAnswer } from './commands/respond.js';
import type { EngineDependencies } from './commands/context.js';
import type { DecisionSession } from './decision.js';

/**
 * Reusing answers (versions.md): after a retry, restart or branch that asked for it, a question
 * asked exactly as one answered before (same module position, same request once history's
 * decorations are set aside) is answered with that earlier answer at once, and the log says which
 * (`reused_from`). The earlier answer must still be one the module accepts; if not, the person is
 * asked. "Before" means on the run's lineage: the branch and the branches it descends from, the
 * ancestors' answers after the fork point included (a branch made to change one answer should not
 * ask again the questions after it that come out the same).
 */

/** The branch the session is on and its ancestors, the nearest first. */
async function lineageOf(
  deps: EngineDependencies,
  run: WorkflowRunRecord,
  session: DecisionSession,
): Promise<string[]> {
  const branchId = session.snapshot.branch_id;
  // A branch made in this decision has no record yet: its branch_created carries the lineage.
  const created = session.events.find(
    (event) => event.event_type === 'branch_created' && event.data['branch_id'] === branchId,
  );
  const lineage = created
    ? (created.data['lineage'] as { branch_id: string }[] | undefined)
    : (await deps.history.readBranch(run.workflow_run_id, branchId))?.lineage;
  return [branchId, ...(lineage ?? []).map((ancestor) => ancestor.branch_id).reverse()];
}

/** The newest earlier answer to the same question, with the id of the event that gave it. */
function earlierAnswer(
  events: readonly EventRecord[],
  pending: PendingInteraction,
): { eventId: string; response: unknown } | null {
  const asked = comparableRequest(pending.request);
  const requests = new Map<string, EventRecord>();
  for (const event of events) {
    if (event.event_type === 'interaction_requested') {
      requests.set(String(event.data['interaction_id']), event);
    }
  }
  // Newest first: the latest answer to the question is the one to reuse.
  for (const event of events) {
    if (event.event_type !== 'interaction_responded') continue;
    const request = requests.get(String(event.data['interaction_id']));
    if (
      request &&
      request.step_id === pending.step_id &&
      request.module_name === pending.module_name &&
      comparableRequest(request.data['request']) === asked
    ) {
      return { eventId: event.event_id, response: event.data['response'] };
    }
  }
  return null;
}

/** Answers the pending question from an earlier answer, when the run asks to and one fits. */
export async function reuseEarlierAnswer(
  session: DecisionSession,
  run: WorkflowRunRecord,
  plan: WorkflowPlan,
  deps: EngineDependencies,
): Promise<boolean> {
  const snapshot = session.snapshot;
  const pending = snapshot.pending_interaction;
  if (snapshot.reuse_answers !== true || snapshot.status !== 'awaiting_input' || !pending)
    return false;
  const planned = plan.find(pending.step_id, pending.module_name);
  const implementation = planned ? deps.registry.get(planned.module.module_id) : undefined;
  if (!planned || !implementation?.interactive) return false;
  const events = await deps.history.interactionEvents(
    run.workflow_run_id,
    await lineageOf(deps, run, session),
  );
  const earlier = earlierAnswer(events, pending);
  if (!earlier) return false;
  const context = answeringContext(deps, run, plan, snapshot, planned);
  const checked = await implementation.respond(pending.request, earlier.response, context);
  if (!checked.ok) return false;
  recordAnswer(
    session,
    planned,
    implementation,
    {
      interactionId: pending.interaction_id,
      response: earlier.response,
      reusedFrom: earlier.eventId,
    },
    checked.outputs,
  );
  return true;
}
