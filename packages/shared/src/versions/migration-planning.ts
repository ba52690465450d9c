import type { Connection } from 'mongoose';
import {
  MAX_RUNS_PER_MIGRATION,
  type MigrationFilter,
  type MigrationOutcomeKind,
  type MigrationPolicy,
} from '../migration-api.js';
import { unfinishedRunStatusSchema } from '../impact-api.js';
import type { Models } from '../models/index.js';
import type { RunStatus } from '../records.js';
import { decideMigration, type MigrationDecision } from '../runs/migration-decision.js';
import { VersionChangeViews, positionOf, type RunPlacement } from './version-change-views.js';

/**
 * What a migration reads of a run to decide about it: no snapshot, outbox or rendered request.
 * Shared by the dry run, the migration's creation and its job, so that all three see runs alike.
 */
export interface MigrationCandidate extends RunPlacement {
  workflow_run_id: string;
  status: RunStatus;
  created_at: Date;
}

export const migrationCandidateProjection = {
  _id: 0,
  workflow_run_id: 1,
  status: 1,
  current_version_id: 1,
  current_step: 1,
  current_module: 1,
  created_at: 1,
} as const;

const finishedStatuses: readonly RunStatus[] = ['completed', 'cancelled'];

/**
 * The runs a migration takes, in its order (newest first, as the impact report lists them): the
 * user's unfinished runs of the template that match the filter and are not on the target. At most
 * MAX_RUNS_PER_MIGRATION + 1 are read, so the caller can tell that the filter matches too many.
 */
export function findMigrationCandidates(
  models: Models,
  scope: { userId: string; templateId: string; toVersionId: string; filter: MigrationFilter },
): Promise<MigrationCandidate[]> {
  const { filter } = scope;
  const query: Record<string, unknown> = {
    user_id: scope.userId,
    workflow_template_id: scope.templateId,
    status: filter.status ?? { $in: unfinishedRunStatusSchema.options },
    current_version_id:
      filter.current_version_id === undefined
        ? { $ne: scope.toVersionId }
        : filter.current_version_id === scope.toVersionId
          ? { $in: [] }
          : filter.current_version_id,
  };
  if (filter.project_name !== undefined) query['project_name'] = filter.project_name;
  if (filter.run_ids !== undefined) query['workflow_run_id'] = { $in: filter.run_ids };
  return models.runs
    .find(query)
    .select(migrationCandidateProjection)
    .sort({ created_at: -1, workflow_run_id: -1 })
    .limit(MAX_RUNS_PER_MIGRATION + 1)
    .lean<MigrationCandidate[]>();
}

/** A decision as the outcome it leads to when carried out without a hitch. */
export interface PlannedOutcome {
  outcome: MigrationOutcomeKind;
  restart_at: string | null;
  reason: string | null;
  error_code: string | null;
}

export function plannedOutcome(decision: MigrationDecision): PlannedOutcome {
  switch (decision.kind) {
    case 'switch':
      return decision.restartAt === null
        ? { outcome: 'switched', restart_at: null, reason: null, error_code: null }
        : {
            outcome: 'restarted_at',
            restart_at: decision.restartAt,
            reason: null,
            error_code: null,
          };
    case 'skip':
      return { outcome: 'skipped', restart_at: null, reason: decision.reason, error_code: null };
    case 'fail':
      return {
        outcome: 'failed',
        restart_at: null,
        reason: decision.reason,
        error_code: decision.code,
      };
  }
}

/**
 * Decides about runs as they stand, against one target version and policy. Versions are read as
 * runs need them, each once.
 */
export class MigrationPlanner {
  private readonly views: VersionChangeViews;

  constructor(
    deps: { mongo: Connection; models: Models },
    userId: string,
    toVersionId: string,
    private readonly policy: MigrationPolicy,
  ) {
    this.views = new VersionChangeViews(deps, userId, toVersionId);
  }

  async decide(runs: readonly MigrationCandidate[]): Promise<MigrationDecision[]> {
    await this.views.load(runs.map((run) => run.current_version_id));
    return runs.map((run) => {
      if (finishedStatuses.includes(run.status)) {
        return { kind: 'skip', reason: `the run is ${run.status}` };
      }
      return decideMigration(this.views.viewFor(run), this.policy, positionOf(run));
    });
  }
}
