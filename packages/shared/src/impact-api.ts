import { z } from 'zod';
import { idSchema } from './ids.js';
import { queryInteger } from './query-params.js';
import { runStatusSchema } from './records.js';
import { behindPositionChangeSchema, resumeChoiceSchema } from './runs/version-change-view.js';
import { versionChangesSchema } from './runs/version-diff.js';

/**
 * The impact report (versions.md, "Impact report"): which unfinished runs of a template another
 * version touches, and how, run by run, in the words of `GET /runs/{id}/version-changes`.
 */

/** The statuses a run can have while it is unfinished: the only ones the report lists. */
export const unfinishedRunStatusSchema = runStatusSchema.exclude(['completed', 'cancelled']);
export type UnfinishedRunStatus = z.infer<typeof unfinishedRunStatusSchema>;

export const impactQuerySchema = z.strictObject({
  status: unfinishedRunStatusSchema.optional(),
  project_name: z.string().min(1).max(200).optional(),
  current_version_id: idSchema('version')
    .describe('Only the runs on this version (the target version itself lists nothing)')
    .optional(),
  limit: queryInteger(1, 100).default(20),
  cursor: z
    .string()
    .min(1)
    .max(200)
    .describe("Opaque: the previous page's next_cursor, and nothing else (anything else is 400)")
    .optional(),
});
export type ImpactQuery = z.infer<typeof impactQuerySchema>;

/** How many module changes lie before, at and after the run's position. */
export const impactCountsSchema = z.object({
  before: z.number().int().nonnegative(),
  at: z.number().int().nonnegative(),
  after: z.number().int().nonnegative(),
});

export const runImpactSchema = z
  .object({
    workflow_run_id: z.string(),
    status: unfinishedRunStatusSchema,
    project_name: z.string(),
    /** The version of the run's active branch. */
    current_version_id: z.string(),
    /** The module the run stands at (null before its first module). */
    position: z.object({ step_id: z.string(), module_name: z.string() }).nullable(),
    counts: impactCountsSchema,
    /** The changes placed against the position, with their text (as in VersionChangeView). */
    changes: versionChangesSchema,
    /** The changes `continue_with_new` would not apply because the run is past them. */
    behind_position: z.array(behindPositionChangeSchema),
    continue_without_restart: z
      .boolean()
      .describe(
        'True when continue_with_new applies every change: the position exists in the target version and no change lies behind it',
      ),
    /** The choices, in the order to offer them (the same as the run's own version-changes). */
    options: z.array(resumeChoiceSchema),
    /** The step to restart at to apply what lies behind the position (a step of the target). */
    suggested_restart_at: z.string().nullable(),
    warning: z.string().nullable(),
    pending_request_changes: z
      .boolean()
      .nullable()
      .describe(
        "Whether the pending interaction's request may change on the target version, judged from " +
          'definitions without rendering: true when the target defines the pending module differently ' +
          '(module_id, inputs or display), lacks it, or has another workflow config (which templates can ' +
          'read); false when all of these are the same, so the request would be rendered the same. ' +
          'Null when no interaction is pending.',
      ),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'RunImpact' });
export type RunImpact = z.infer<typeof runImpactSchema>;

export const impactReportSchema = z
  .object({
    workflow_template_name: z.string(),
    /** The version the runs are compared with. */
    version_id: z.string(),
    /** Newest run first, like `GET /v1/runs`. */
    items: z.array(runImpactSchema),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'ImpactReport' });
export type ImpactReport = z.infer<typeof impactReportSchema>;
