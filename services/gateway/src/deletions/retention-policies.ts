import type { RetentionPolicy, RetentionReport } from '@stepwise/shared';
import type { Models, RetentionReportRecord } from '@stepwise/shared/node';
import { decodeTimeCursor, encodeTimeCursor } from '../http/page-cursor.js';

/**
 * A user's retention policy (docs/deletion-and-retention.md, "Retention"): their own once set,
 * the deployment's (RETENTION_*) until then. The runners' maintenance queue applies it and writes
 * what it did as reports.
 */

/** What applies when neither the user nor the deployment says otherwise: keep everything. */
export const keepEverything: RetentionPolicy = {
  delete_finished_runs_after_days: null,
  export_before_delete: false,
  delete_artifacts_after_days: null,
};

export async function readRetentionPolicy(
  models: Models,
  userId: string,
  defaults: RetentionPolicy,
): Promise<{ policy: RetentionPolicy; source: 'user' | 'default' }> {
  const own = await models.retentionPolicies.findOne({ user_id: userId }).lean();
  if (!own) return { policy: defaults, source: 'default' };
  return {
    policy: {
      delete_finished_runs_after_days: own.delete_finished_runs_after_days ?? null,
      export_before_delete: own.export_before_delete,
      delete_artifacts_after_days: own.delete_artifacts_after_days ?? null,
    },
    source: 'user',
  };
}

export async function writeRetentionPolicy(
  models: Models,
  userId: string,
  policy: RetentionPolicy,
  now = new Date(),
): Promise<{ policy: RetentionPolicy; source: 'user' }> {
  await models.retentionPolicies.collection.updateOne(
    { user_id: userId },
    { $set: { ...policy, user_id: userId, updated_at: now } },
    { upsert: true },
  );
  return { policy, source: 'user' };
}

function reportView(record: RetentionReportRecord): RetentionReport {
  return {
    report_id: record.report_id,
    ran_at: record.ran_at.toISOString(),
    policy: record.policy,
    policy_source: record.policy_source,
    runs_deleted: record.runs_deleted,
    artifacts_deleted: record.artifacts_deleted,
    runs_exported: record.runs_exported,
    runs_skipped: record.runs_skipped,
  };
}

/** The user's retention reports, newest first, a page at a time. */
export async function listRetentionReports(
  models: Models,
  userId: string,
  query: { limit: number; cursor?: string | undefined },
): Promise<{ items: RetentionReport[]; next_cursor: string | null }> {
  const filter: Record<string, unknown> = { user_id: userId };
  if (query.cursor) {
    const after = decodeTimeCursor(query.cursor, 'retentionReport');
    filter['$or'] = [
      { ran_at: { $lt: after.createdAt } },
      { ran_at: after.createdAt, report_id: { $lt: after.id } },
    ];
  }
  const records = await models.retentionReports
    .find(filter)
    .sort({ ran_at: -1, report_id: -1 })
    .limit(query.limit + 1)
    .lean<RetentionReportRecord[]>();
  const page = records.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(reportView),
    next_cursor:
      records.length > query.limit && last
        ? encodeTimeCursor({ createdAt: last.ran_at, id: last.report_id })
        : null,
  };
}
