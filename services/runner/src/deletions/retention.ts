import { newId, type RetentionPolicy } from '@stepwise/shared';
import type { RetentionReportRecord } from '@stepwise/shared/node';
import { DeletionTally } from './deletion-tally.js';
import { deleteRunArtifacts, deleteRuns, type RunDeletionDependencies } from './run-deletion.js';

/**
 * Retention (docs/deletion-and-retention.md, "Retention"): each user's policy, or the deployment's
 * when they have none, applied at `now`. A finished run's finish time is its `updated_at`: a
 * finished run changes only by a command that starts it again (a retry, a branch), which makes it
 * unfinished, so its last change is when it finished.
 */

export const FINISHED_STATUSES = ['completed', 'error', 'cancelled'] as const;

/** Where an exported run went (C's run archive writes it; see main.ts for the wiring). */
export interface ExportedRun {
  path: string;
  sha256: string;
  bytes: number;
}

export type ExportRunToFile = (runId: string, userId: string) => Promise<ExportedRun>;

export interface RetentionDependencies extends RunDeletionDependencies {
  /** The deployment's policy (RETENTION_*): what applies to a user without one. */
  defaults: RetentionPolicy;
  exportRunToFile: ExportRunToFile;
  /** Most runs (and runs whose artifacts) one pass handles per user; the next pass goes on. */
  perUserLimit: number;
  /** Runs deleted together. */
  batchSize: number;
}

const DAY_MS = 24 * 3_600_000;

/** Reports kept per user (the newest); what older ones said is in the logs of their time. */
export const RETENTION_REPORTS_KEPT = 100;

async function forgetOldReports(deps: RetentionDependencies, userId: string): Promise<void> {
  const oldest = await deps.models.retentionReports
    .find({ user_id: userId })
    .select({ report_id: 1 })
    .sort({ ran_at: -1, report_id: -1 })
    .skip(RETENTION_REPORTS_KEPT)
    .limit(1)
    .lean<{ report_id: string }[]>();
  const last = oldest[0];
  if (last)
    await deps.models.retentionReports.collection.deleteMany({
      user_id: userId,
      report_id: { $lte: last.report_id },
    });
}

/** Applies every user's policy; answers the reports it wrote (one per user it did something for). */
export async function applyRetention(
  deps: RetentionDependencies,
  now: Date,
): Promise<RetentionReportRecord[]> {
  const reports: RetentionReportRecord[] = [];
  let after = '';
  for (;;) {
    // `users` is unsharded: paged by its unique id.
    const users = await deps.models.users
      .find({ user_id: { $gt: after } })
      .select({ user_id: 1 })
      .sort({ user_id: 1 })
      .limit(200)
      .lean<{ user_id: string }[]>();
    if (users.length === 0) return reports;
    for (const { user_id: userId } of users) {
      const report = await applyUserRetention(deps, userId, now);
      if (report) reports.push(report);
    }
    after = users.at(-1)?.user_id ?? after;
  }
}

async function policyOf(
  deps: RetentionDependencies,
  userId: string,
): Promise<{ policy: RetentionPolicy; source: 'user' | 'default' }> {
  const own = await deps.models.retentionPolicies.findOne({ user_id: userId }).lean();
  if (!own) return { policy: deps.defaults, source: 'default' };
  return {
    policy: {
      delete_finished_runs_after_days: own.delete_finished_runs_after_days ?? null,
      export_before_delete: own.export_before_delete,
      delete_artifacts_after_days: own.delete_artifacts_after_days ?? null,
    },
    source: 'user',
  };
}

/** Finished runs of the user that finished before `cutoff`, not already being deleted. */
async function finishedBefore(
  deps: RetentionDependencies,
  userId: string,
  cutoff: Date,
): Promise<string[]> {
  const runs = await deps.models.runs
    .find({
      user_id: userId,
      status: { $in: [...FINISHED_STATUSES] },
      updated_at: { $lt: cutoff },
      deletion_id: { $exists: false },
    })
    .select({ workflow_run_id: 1 })
    .sort({ updated_at: 1 })
    .limit(deps.perUserLimit)
    .lean<{ workflow_run_id: string }[]>();
  return runs.map((run) => run.workflow_run_id);
}

function inBatches<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let index = 0; index < items.length; index += size)
    batches.push(items.slice(index, index + size));
  return batches;
}

async function applyUserRetention(
  deps: RetentionDependencies,
  userId: string,
  now: Date,
): Promise<RetentionReportRecord | null> {
  const { policy, source } = await policyOf(deps, userId);
  if (
    policy.delete_finished_runs_after_days === null &&
    policy.delete_artifacts_after_days === null
  )
    return null;
  const reportId = newId('retentionReport');
  const report: RetentionReportRecord = {
    report_id: reportId,
    user_id: userId,
    ran_at: now,
    policy,
    policy_source: source,
    runs_deleted: [],
    artifacts_deleted: [],
    runs_exported: [],
    runs_skipped: [],
  };
  const tally = new DeletionTally();
  if (policy.delete_finished_runs_after_days !== null) {
    const cutoff = new Date(now.getTime() - policy.delete_finished_runs_after_days * DAY_MS);
    const deletable: string[] = [];
    for (const runId of await finishedBefore(deps, userId, cutoff)) {
      if (!policy.export_before_delete) {
        deletable.push(runId);
        continue;
      }
      try {
        const exported = await deps.exportRunToFile(runId, userId);
        report.runs_exported.push({ workflow_run_id: runId, ...exported });
        deletable.push(runId);
      } catch (error) {
        // Never deleted unexported: kept, and the next pass tries again.
        const reason = error instanceof Error ? error.message : String(error);
        report.runs_skipped.push({ workflow_run_id: runId, reason: `export failed: ${reason}` });
      }
    }
    for (const batch of inBatches(deletable, deps.batchSize)) {
      const before = tally.runsDeleted;
      await deleteRuns(deps, { userId, runIds: batch, deletionId: reportId }, tally);
      if (tally.runsDeleted - before === batch.length) report.runs_deleted.push(...batch);
      else {
        // Some were gone already (another deletion got there first): report those that went.
        const left = await deps.models.runs
          .find({ user_id: userId, workflow_run_id: { $in: batch } })
          .select({ workflow_run_id: 1 })
          .lean<{ workflow_run_id: string }[]>();
        const remaining = new Set(left.map((run) => run.workflow_run_id));
        report.runs_deleted.push(...batch.filter((runId) => !remaining.has(runId)));
      }
    }
  }
  if (policy.delete_artifacts_after_days !== null) {
    const cutoff = new Date(now.getTime() - policy.delete_artifacts_after_days * DAY_MS);
    const runIds = await finishedBefore(deps, userId, cutoff);
    for (const batch of inBatches(runIds, deps.batchSize))
      report.artifacts_deleted.push(
        ...(await deleteRunArtifacts(deps, { userId, runIds: batch }, tally)),
      );
  }
  const didSomething =
    report.runs_deleted.length +
      report.artifacts_deleted.length +
      report.runs_exported.length +
      report.runs_skipped.length >
    0;
  if (!didSomething) return null;
  await deps.models.retentionReports.collection.insertOne({ ...report });
  await forgetOldReports(deps, userId);
  return report;
}
