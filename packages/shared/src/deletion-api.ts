import { z } from 'zod';
import { idSchema } from './ids.js';
import { queryInteger } from './query-params.js';

/**
 * Deletions and retention (docs/deletion-and-retention.md): what a user may ask to have deleted,
 * how a deletion is seen while it runs and after, and the retention policy with its reports.
 */

export const deletionStatusSchema = z
  .enum(['queued', 'running', 'done', 'failed'])
  .describe(
    'queued: waiting for a runner; running: being deleted (a crashed runner hands it on); done: nothing of the target is left; failed: gave up (the error says why; asking again resumes it)',
  );
export type DeletionStatus = z.infer<typeof deletionStatusSchema>;

export const deletionTargetSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('run'), id: idSchema('run') }),
    z.object({ kind: z.literal('template'), id: idSchema('template'), name: z.string() }),
    z.object({ kind: z.literal('user'), id: idSchema('user') }),
  ])
  .describe('What is deleted: a run, a template (its versions and every run of it), or a user');
export type DeletionTarget = z.infer<typeof deletionTargetSchema>;

/** Documents (and GridFS files, as `<bucket>.files`) deleted so far, by collection. */
export const deletionCountsSchema = z
  .record(z.string(), z.number().int().nonnegative())
  .describe('Documents deleted so far by collection; GridFS files as <bucket>.files');
export type DeletionCounts = z.infer<typeof deletionCountsSchema>;

export const deletionViewSchema = z
  .object({
    deletion_id: idSchema('deletion'),
    target: deletionTargetSchema,
    status: deletionStatusSchema,
    counts: deletionCountsSchema,
    /** Runs the deletion found and has deleted so far (a template's or a user's runs). */
    runs_deleted: z.number().int().nonnegative(),
    error: z.string().nullable(),
    requested_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    finished_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Deletion' });
export type DeletionView = z.infer<typeof deletionViewSchema>;

export const deletionAcceptedSchema = z.object({ deletion: deletionViewSchema });

const cursorSchema = z
  .string()
  .min(1)
  .max(200)
  .describe("Opaque: the previous page's next_cursor, and nothing else (anything else is 400)");

export const deletionsQuerySchema = z.strictObject({
  limit: queryInteger(1, 100).default(20),
  cursor: cursorSchema.optional(),
});

export const deletionListSchema = z.object({
  items: z.array(deletionViewSchema),
  next_cursor: z.string().nullable(),
});

export const templateDeletionQuerySchema = z.strictObject({
  confirm: z
    .string()
    .max(64)
    .describe(
      "The template's name again (a deletion takes its versions and runs): another value is refused with 400 once the template is known to be yours",
    ),
});

const days = z.number().int().min(1).max(36_500);

export const retentionPolicySchema = z
  .strictObject({
    delete_finished_runs_after_days: days
      .nullable()
      .describe(
        'Finished runs (completed, failed, cancelled) are deleted this many days after they finished; null keeps them',
      ),
    export_before_delete: z
      .boolean()
      .describe(
        'Export each run to a file before deleting it; a run that cannot be exported is kept',
      ),
    delete_artifacts_after_days: days
      .nullable()
      .describe(
        'Artifacts of finished runs are deleted this many days after the run finished (the run stays); null keeps them',
      ),
  })
  .meta({ id: 'RetentionPolicy' });
export type RetentionPolicy = z.infer<typeof retentionPolicySchema>;

export const retentionPolicyViewSchema = z.object({
  policy: retentionPolicySchema,
  /** `user`: the user's own; `default`: the deployment's (RETENTION_*), which applies until one is set. */
  source: z.enum(['user', 'default']),
});

export const retentionReportSchema = z
  .object({
    report_id: idSchema('retentionReport'),
    ran_at: z.iso.datetime(),
    policy: retentionPolicySchema,
    policy_source: z.enum(['user', 'default']),
    runs_deleted: z.array(idSchema('run')),
    artifacts_deleted: z.array(
      z.object({ workflow_run_id: idSchema('run'), artifact_id: z.string() }),
    ),
    runs_exported: z.array(
      z.object({
        workflow_run_id: idSchema('run'),
        path: z.string(),
        sha256: z.string(),
        bytes: z.number().int().nonnegative(),
      }),
    ),
    runs_skipped: z.array(z.object({ workflow_run_id: idSchema('run'), reason: z.string() })),
  })
  .meta({ id: 'RetentionReport' });
export type RetentionReport = z.infer<typeof retentionReportSchema>;

export const retentionReportsQuerySchema = z.strictObject({
  limit: queryInteger(1, 100).default(20),
  cursor: cursorSchema.optional(),
});

export const retentionReportListSchema = z.object({
  items: z.array(retentionReportSchema),
  next_cursor: z.string().nullable(),
});
