import type { Models } from '@stepwise/shared/node';
import type { RunRef } from './event-log.js';

/** What never changes about a run: whose it is, its template and its project. */
export interface RunFacts {
  user_id: string;
  workflow_template_name: string;
  project_name: string;
}

const MAX_REMEMBERED = 10_000;

/**
 * A run's fixed facts, remembered for the runs this process touches (bounded), so that the
 * announcement, notifications and timers of a commit cost no read once the run is known (a miss
 * costs one lookup of the run, by its owner and id).
 */
export class RunFactsCache {
  private readonly known = new Map<string, RunFacts>();

  constructor(private readonly models: Models) {}

  async of(ref: RunRef): Promise<RunFacts | null> {
    const runId = ref.workflow_run_id;
    const known = this.known.get(runId);
    if (known) return known;
    const run = await this.models.runs
      .findOne({ workflow_run_id: runId, user_id: ref.user_id })
      .select({ _id: 0, user_id: 1, workflow_template_name: 1, project_name: 1 })
      .lean<RunFacts>();
    if (!run) return null;
    this.remember(runId, run);
    return run;
  }

  /**
   * Keeps the facts of a run read for another reason (the lease's read of the whole run), so that
   * the first commit of a run this process drains costs no lookup either.
   */
  remember(runId: string, run: RunFacts): void {
    if (this.known.has(runId)) return;
    if (this.known.size >= MAX_REMEMBERED)
      this.known.delete(this.known.keys().next().value ?? runId);
    this.known.set(runId, {
      user_id: run.user_id,
      workflow_template_name: run.workflow_template_name,
      project_name: run.project_name,
    });
  }
}
