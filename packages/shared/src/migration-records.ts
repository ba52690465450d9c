import { z } from 'zod';
import {
  migrationFilterSchema,
  migrationOutcomeKindSchema,
  migrationPolicySchema,
  migrationStatusSchema,
} from './migration-api.js';
import { actorSchema } from './records.js';

/** A batch migration as stored (collection `migrations`). */
export const migrationRecordSchema = z.object({
  migration_id: z.string(),
  user_id: z.string(),
  workflow_template_id: z.string(),
  workflow_template_name: z.string(),
  to_version_id: z.string(),
  policy: migrationPolicySchema,
  filter: migrationFilterSchema,
  reuse_answers: z.boolean(),
  status: migrationStatusSchema,
  matched: z.number().int().nonnegative(),
  correlation_id: z.string(),
  /** Who asked for the migration: the actor of each command it sends. */
  actor: actorSchema,
  created_at: z.date(),
  updated_at: z.date(),
  finished_at: z.date().nullable(),
});
export type MigrationRecord = z.infer<typeof migrationRecordSchema>;

/**
 * One run a migration took (collection `migration_runs`), written when the migration is created, so
 * that the runs it covers are fixed then; `outcome` stays null until the migration reaches the run.
 */
export const migrationRunRecordSchema = z.object({
  migration_id: z.string(),
  /** The run's place in the migration's order (0-based). */
  position: z.number().int().nonnegative(),
  workflow_run_id: z.string(),
  user_id: z.string(),
  from_version_id: z.string(),
  outcome: migrationOutcomeKindSchema.nullable(),
  restart_at: z.string().nullable(),
  reason: z.string().nullable(),
  error_code: z.string().nullable(),
  command_id: z.string().nullable(),
  settled_at: z.date().nullable(),
});
export type MigrationRunRecord = z.infer<typeof migrationRunRecordSchema>;
