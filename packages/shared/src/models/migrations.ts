import { Schema, type Connection } from 'mongoose';
import type { MigrationRecord, MigrationRunRecord } from '../migration-records.js';

const migrationSchema = new Schema<MigrationRecord>(
  {
    migration_id: { type: String, required: true },
    user_id: { type: String, required: true },
    workflow_template_id: { type: String, required: true },
    workflow_template_name: { type: String, required: true },
    to_version_id: { type: String, required: true },
    policy: { type: String, required: true },
    filter: { type: Schema.Types.Mixed, default: {} },
    reuse_answers: { type: Boolean, default: false },
    status: { type: String, required: true },
    matched: { type: Number, required: true },
    correlation_id: { type: String, required: true },
    actor: { type: Schema.Types.Mixed, required: true },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    finished_at: { type: Date, default: null },
  },
  { collection: 'migrations', versionKey: false, minimize: false },
);
migrationSchema.index({ user_id: 1, migration_id: 1 }, { unique: true });
migrationSchema.index({ user_id: 1, workflow_template_id: 1, created_at: -1 });

const migrationRunSchema = new Schema<MigrationRunRecord>(
  {
    migration_id: { type: String, required: true },
    position: { type: Number, required: true },
    workflow_run_id: { type: String, required: true },
    user_id: { type: String, required: true },
    from_version_id: { type: String, required: true },
    outcome: { type: String, default: null },
    restart_at: { type: String, default: null },
    reason: { type: String, default: null },
    error_code: { type: String, default: null },
    command_id: { type: String, default: null },
    settled_at: { type: Date, default: null },
  },
  { collection: 'migration_runs', versionKey: false },
);
// The migration's order, and the page cursor of GET …/migrations/{id}.
migrationRunSchema.index({ user_id: 1, migration_id: 1, position: 1 }, { unique: true });
migrationRunSchema.index({ user_id: 1, migration_id: 1, outcome: 1 });

export function createMigrationModels(connection: Connection) {
  return {
    migrations: connection.model<MigrationRecord>('Migration', migrationSchema),
    migrationRuns: connection.model<MigrationRunRecord>('MigrationRun', migrationRunSchema),
  };
}
