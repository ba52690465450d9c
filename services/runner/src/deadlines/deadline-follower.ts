import type { EventRecord } from '@stepwise/shared';
import type { OutboxFollower, RunRef } from '../engine/event-log.js';
import type { RunFactsCache } from '../engine/run-facts.js';
import type { DeadlineTimers } from './deadline-timers.js';

/**
 * Sets the timer of every deadline a commit starts: a question asked with a deadline, and the next
 * reminder after each reminder. Written again with the outbox, setting a timer again is one job.
 */
export class DeadlineFollower implements OutboxFollower {
  constructor(
    private readonly timers: DeadlineTimers,
    private readonly facts: RunFactsCache,
  ) {}

  async afterWrite(run: RunRef, events: readonly EventRecord[]): Promise<void> {
    for (const event of events) {
      const due = dueOf(event);
      if (!due) continue;
      const facts = await this.facts.of(run);
      if (!facts) return;
      await this.timers.schedule({
        runId: run.workflow_run_id,
        userId: facts.user_id,
        interactionId: due.interactionId,
        dueAt: due.dueAt,
      });
    }
  }
}

function dueOf(event: EventRecord): { interactionId: string; dueAt: string } | null {
  const interactionId = event.data['interaction_id'];
  if (typeof interactionId !== 'string') return null;
  if (event.event_type === 'interaction_requested') {
    const deadline = event.data['deadline'] as { due_at?: unknown } | undefined;
    return typeof deadline?.due_at === 'string' ? { interactionId, dueAt: deadline.due_at } : null;
  }
  if (event.event_type === 'reminder_sent') {
    const next = event.data['next_due_at'];
    return typeof next === 'string' ? { interactionId, dueAt: next } : null;
  }
  return null;
}
