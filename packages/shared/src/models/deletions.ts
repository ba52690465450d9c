import { Schema, type Connection } from 'mongoose';
import type {
  DeletionCounts,
  DeletionStatus,
  DeletionTarget,
  RetentionPolicy,
  RetentionReport,
} from '../deletion-api.js';

/** One deletion asked for (docs/deletion-and-retention.md); kept as its receipt once done. */
export interface DeletionRecord {
  deletion_id: string;
  /**
   * Who may read it: the owner of a run or template deletion. A user deletion is the admin's
   * (null), so that the receipt is not itself something of the deleted user's.
   */
  user_id: string | null;
  /** The owner of what is deleted (the job's shard key): for a user deletion, that user. */
  owner_id: string;
  target: DeletionTarget;
  status: DeletionStatus;
  counts: DeletionCounts;
  runs_deleted: number;
  error: string | null;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** A user's own retention policy (without one, the deployment's RETENTION_* apply). */
export interface RetentionPolicyRecord extends RetentionPolicy {
  user_id: string;
  updated_at: Date;
}

export interface RetentionReportRecord extends Omit<RetentionReport, 'ran_at'> {
  user_id: string;
  ran_at: Date;
}

const deletionSchema = new Schema<DeletionRecord>(
  {
    deletion_id: { type: String, required: true },
    user_id: { type: String, default: null },
    owner_id: { type: String, required: true },
    target: { type: Schema.Types.Mixed, required: true },
    status: { type: String, required: true },
    counts: { type: Schema.Types.Mixed, default: {} },
    runs_deleted: { type: Number, default: 0 },
    error: { type: String, default: null },
    requested_at: { type: Date, required: true },
    started_at: { type: Date, default: null },
    finished_at: { type: Date, default: null },
  },
  { collection: 'deletions', versionKey: false, minimize: false },
);
deletionSchema.index({ deletion_id: 1 }, { unique: true });
// GET /v1/deletions: a user's own, newest first (deletion ids are time-ordered).
deletionSchema.index({ user_id: 1, requested_at: -1, deletion_id: -1 });
// Asking again for a target answers its deletion: found by the target's owner and id.
deletionSchema.index({ owner_id: 1, 'target.id': 1, requested_at: -1 });

const retentionPolicySchema = new Schema<RetentionPolicyRecord>(
  {
    user_id: { type: String, required: true },
    delete_finished_runs_after_days: { type: Number, default: null },
    export_before_delete: { type: Boolean, required: true },
    delete_artifacts_after_days: { type: Number, default: null },
    updated_at: { type: Date, required: true },
  },
  { collection: 'retention_policies', versionKey: false },
);
retentionPolicySchema.index({ user_id: 1 }, { unique: true });

const retentionReportSchema = new Schema<RetentionReportRecord>(
  {
    report_id: { type: String, required: true },
    user_id: { type: String, required: true },
    ran_at: { type: Date, required: true },
    policy: { type: Schema.Types.Mixed, required: true },
    policy_source: { type: String, required: true },
    runs_deleted: { type: [String], default: [] },
    artifacts_deleted: { type: Schema.Types.Mixed, default: [] },
    runs_exported: { type: Schema.Types.Mixed, default: [] },
    runs_skipped: { type: Schema.Types.Mixed, default: [] },
  },
  { collection: 'retention_reports', versionKey: false, minimize: false },
);
retentionReportSchema.index({ user_id: 1, report_id: 1 }, { unique: true });
retentionReportSchema.index({ user_id: 1, ran_at: -1, report_id: -1 });

export function createDeletionModels(connection: Connection) {
  return {
    deletions: connection.model<DeletionRecord>('Deletion', deletionSchema),
    retentionPolicies: connection.model<RetentionPolicyRecord>(
      'RetentionPolicy',
      retentionPolicySchema,
    ),
    retentionReports: connection.model<RetentionReportRecord>(
      'RetentionReport',
      retentionReportSchema,
    ),
  };
}
