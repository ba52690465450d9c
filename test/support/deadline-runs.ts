import { vi } from 'vitest';
import type { EventView, RunView } from '@stepwise/shared';
import type { RunsClient } from './runs.js';

/** Reading runs that wait on a question with a deadline (deadlines*.test.ts). */

export const interactionOf = (run: RunView) => run.pending_interaction?.interaction_id ?? '';
export const dueAtOf = (run: RunView) => run.pending_interaction?.deadline?.due_at ?? '';
export const ofType = (events: readonly EventView[], type: string) =>
  events.filter((event) => event.event_type === type);

/** A function giving the run once `done` holds for it, polled through `client` within `wait`. */
export function runWaiter(client: RunsClient, wait: { timeout: number; interval: number }) {
  return (runId: string, done: (run: RunView) => boolean): Promise<RunView> =>
    vi.waitFor(async () => {
      const run = await client.get(runId);
      if (!done(run)) throw new Error(`run ${runId} still ${run.status} at ${run.current_step}`);
      return run;
    }, wait);
}
