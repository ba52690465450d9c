import { z } from 'zod';
import { idSchema } from './ids.js';
import { unfinishedRunStatusSchema } from './impact-api.js';
import { queryInteger } from './query-params.js';
import { reuseAnswersSchema } from './run-api.js';

/**
 * Batch migration (versions.md, "Batch migration"): many unfinished runs of a template moved onto
 * one version with one request, each by the usual per-run semantics, each with a recorded outcome.
 */

/** The most runs one migration may take: past it, narrow the filter (or run several). */
export const MAX_RUNS_PER_MIGRATION = 10_000;

export const migrationPolicySchema = z
  .enum(['continue_with_new', 'restart_at_earliest_change', 'skip_if_behind'])
  .describe(
    'continue_with_new: every run goes on where it stands (changes behind its position are not run; a run whose position the version lacks fails). ' +
      'restart_at_earliest_change: a run with a change behind its position (or a position the version lacks) restarts at the step holding the earliest such change; the others go on where they stand. ' +
      'skip_if_behind: a run with a change behind its position (or a position the version lacks) is left as it is; the others go on where they stand.',
  );
export type MigrationPolicy = z.infer<typeof migrationPolicySchema>;

export const migrationFilterSchema = z
  .strictObject({
    status: unfinishedRunStatusSchema.optional(),
    project_name: z.string().min(1).max(200).optional(),
    current_version_id: idSchema('version').optional(),
    run_ids: z
      .array(idSchema('run'))
      .min(1)
      .max(MAX_RUNS_PER_MIGRATION)
      .describe('Only these runs (each must also match the rest of the filter)')
      .optional(),
  })
  .describe(
    "Which of your unfinished runs of the template to move; runs already on the target are never matched (the impact report's filter, plus run_ids)",
  );
export type MigrationFilter = z.infer<typeof migrationFilterSchema>;

export const createMigrationBodySchema = z.strictObject({
  to_version_id: idSchema('version'),
  filter: migrationFilterSchema.default({}),
  policy: migrationPolicySchema,
  dry_run: z
    .boolean()
    .default(false)
    .describe('true: nothing is written; the answer says what a migration would do to each run'),
  reuse_answers: reuseAnswersSchema,
});
export type CreateMigrationBody = z.infer<typeof createMigrationBodySchema>;

export const migrationOutcomeKindSchema = z.enum(['switched', 'restarted_at', 'skipped', 'failed']);
export type MigrationOutcomeKind = z.infer<typeof migrationOutcomeKindSchema>;

/** What the migration did (or, in a dry run, would do) to one run. */
export const migrationRunOutcomeSchema = z
  .object({
    workflow_run_id: z.string(),
    /** The run's version when the migration looked at it. */
    from_version_id: z.string(),
    /** Null while the migration has not reached the run. */
    outcome: migrationOutcomeKindSchema.nullable(),
    /** The step the run restarted at (outcome `restarted_at`). */
    restart_at: z.string().nullable(),
    /** Why a run was skipped or failed, in plain words (null otherwise). */
    reason: z.string().nullable(),
    /** The error code of a failure (e.g. POSITION_NOT_IN_VERSION), null otherwise. */
    error_code: z.string().nullable(),
    /** The command that moved the run (null in a dry run, and for skipped runs). */
    command_id: z.string().nullable(),
  })
  .meta({ id: 'MigrationRunOutcome' });
export type MigrationRunOutcome = z.infer<typeof migrationRunOutcomeSchema>;

export const migrationCountsSchema = z.object({
  matched: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  switched: z.number().int().nonnegative(),
  restarted_at: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});
export type MigrationCounts = z.infer<typeof migrationCountsSchema>;

export const migrationStatusSchema = z.enum(['queued', 'running', 'completed']);
export type MigrationStatus = z.infer<typeof migrationStatusSchema>;

export const migrationViewSchema = z
  .object({
    migration_id: z.string(),
    workflow_template_name: z.string(),
    to_version_id: z.string(),
    policy: migrationPolicySchema,
    filter: migrationFilterSchema,
    /** Whether restarted runs reuse earlier answers to questions asked the same way. */
    reuse_answers: z.boolean(),
    status: migrationStatusSchema,
    counts: migrationCountsSchema,
    /** A page of the per-run outcomes, in the order the migration takes the runs. */
    outcomes: z.array(migrationRunOutcomeSchema),
    next_cursor: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    finished_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Migration' });
export type MigrationView = z.infer<typeof migrationViewSchema>;

/** A dry run's answer: every matched run with what would happen to it. Nothing is stored. */
export const migrationDryRunSchema = z
  .object({
    dry_run: z.literal(true),
    workflow_template_name: z.string(),
    to_version_id: z.string(),
    policy: migrationPolicySchema,
    filter: migrationFilterSchema,
    counts: migrationCountsSchema,
    outcomes: z.array(migrationRunOutcomeSchema),
  })
  .meta({ id: 'MigrationDryRun' });
export type MigrationDryRun = z.infer<typeof migrationDryRunSchema>;

export const migrationQuerySchema = z.strictObject({
  limit: queryInteger(1, 1000).default(100),
  cursor: z
    .string()
    .min(1)
    .max(200)
    .describe("Opaque: the previous page's next_cursor, and nothing else (anything else is 400)")
    .optional(),
});
export type MigrationQuery = z.infer<typeof migrationQuerySchema>;
