import { z } from 'zod';
import { eventTypeSchema } from './runs/events.js';
import { resumeChoiceSchema } from './runs/version-change-view.js';
import { queryInteger } from './query-params.js';
import { documented, storableObject } from './schema-docs.js';
import { idSchema } from './ids.js';
import {
  actorSchema,
  pendingInteractionSchema,
  runErrorSchema,
  runStatusSchema,
  tokenCallStatusSchema,
} from './records.js';
import { entryPointSchema, waitMsSchema } from './workflow-api.js';
import { interactionAnswerSchema } from './workflow/interaction-answers.js';

/** Request and response bodies of the "Runs" routes (api.md). */

const templateName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name');
const jsonObject = z.record(z.string(), z.unknown());

export const createRunBodySchema = documented(
  z
    .strictObject({
      workflow_version_id: idSchema('version').optional(),
      workflow_template_name: templateName.optional(),
      // Trimmed; the pattern says in the document what the trim means: some character that is
      // not a space (\ufeff named too, as JSON Schema's regex dialects differ on it).
      project_name: z
        .string()
        .regex(/[^\s\ufeff]/, 'a project name needs a character that is not a space')
        .trim()
        .min(1)
        .max(200),
      initial_state: storableObject().optional(),
    })
    .refine(
      (body) =>
        (body.workflow_version_id === undefined) !== (body.workflow_template_name === undefined),
      { message: 'give exactly one of workflow_version_id and workflow_template_name' },
    ),
  (json) => {
    json['oneOf'] = [
      { required: ['workflow_version_id'] },
      { required: ['workflow_template_name'] },
    ];
  },
);
export type CreateRunBody = z.infer<typeof createRunBodySchema>;

/** Routes that change a run wait for the runner this long before answering 202. */
export const changeRunQuerySchema = z.strictObject({ wait_ms: waitMsSchema.default(5_000) });

export const getRunQuerySchema = z.strictObject({
  wait: z
    .enum(['true', 'false'])
    .transform((flag) => flag === 'true')
    .default(false),
  wait_ms: waitMsSchema.default(5_000),
});

export const listRunsQuerySchema = z.strictObject({
  status: runStatusSchema.optional(),
  template: templateName.optional(),
  project_name: z.string().min(1).max(200).optional(),
  limit: queryInteger(1, 100).default(20),
  cursor: z
    .string()
    .min(1)
    .max(200)
    .describe("Opaque: the previous page's next_cursor, and nothing else (anything else is 400)")
    .optional(),
});

export const runViewSchema = z
  .object({
    workflow_run_id: z.string(),
    workflow_template_id: z.string(),
    workflow_template_name: z.string(),
    user_id: z.string(),
    initial_version_id: z.string(),
    current_version_id: z.string(),
    project_name: z.string(),
    status: runStatusSchema,
    current_step: z.string().nullable(),
    current_module: z.string().nullable(),
    active_branch_id: z.string(),
    pending_interaction: pendingInteractionSchema.nullable(),
    error: runErrorSchema.nullable(),
    last_seq: z.number().int(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Run' });
export type RunView = z.infer<typeof runViewSchema>;

export const runListSchema = z.object({
  items: z.array(runViewSchema),
  next_cursor: z.string().nullable(),
});

export const runIdParamsSchema = z.strictObject({ id: idSchema('run') });

export const interactionParamsSchema = z.strictObject({
  id: idSchema('run'),
  interaction_id: idSchema('interaction'),
});

export const interactionBodySchema = z.strictObject({
  response: interactionAnswerSchema.describe(
    "The answer, shaped by the pending interaction's module_id (see its *Answer schema)",
  ),
});

export const eventViewSchema = z
  .object({
    event_id: z.string(),
    workflow_run_id: z.string(),
    workflow_version_id: z.string(),
    branch_id: z.string(),
    seq: z.number().int(),
    event_type: eventTypeSchema,
    step_id: z.string().nullable(),
    module_name: z.string().nullable(),
    data: jsonObject,
    timestamp: z.iso.datetime(),
    correlation_id: z.string(),
    /** The command that caused it, and who sent that (null: the runner's own, or an old event). */
    command_id: z.string().nullable(),
    actor: actorSchema.nullable(),
  })
  .meta({ id: 'Event' });
export type EventView = z.infer<typeof eventViewSchema>;

export const eventsQuerySchema = z.strictObject({
  branch_id: idSchema('branch').optional(),
  after_seq: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0),
  before_seq: queryInteger(1, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe(
      'Page backwards: the newest `limit` events with seq below this (and above after_seq), still oldest first; to open at the end of the log, any number above the last seq',
    ),
  limit: queryInteger(1, 1000).default(100),
});

export const eventPageSchema = z.object({
  items: z.array(eventViewSchema),
  next_after_seq: z.number().int().nullable(),
  /** Paging backwards: the `before_seq` of the page before this one, or null at the start. */
  next_before_seq: z.number().int().nullable(),
});

export const stateQuerySchema = z.strictObject({ branch_id: idSchema('branch').optional() });

export const stateViewSchema = z.object({
  state: jsonObject,
  branch_id: z.string(),
  as_of_seq: z.number().int(),
});

export const streamQuerySchema = z.strictObject({
  after_seq: queryInteger(0, Number.MAX_SAFE_INTEGER).optional(),
});

const slug = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a step or module name');

/** `reuse_answers` on a retry, restart or branch (versions.md, "Reusing answers"). */
export const reuseAnswersSchema = z
  .boolean()
  .optional()
  .describe(
    'true: a question asked exactly as one answered before on the run (same step and module, the same request apart from history’s last_used) is answered with that answer at once, and the log says so (interaction_responded.reused_from); only questions that changed are asked. Default: every question is asked again.',
  );

export const retryBodySchema = z.strictObject({
  step_id: slug,
  module_name: slug.optional(),
  feedback: z.string().max(20_000).optional(),
  reuse_answers: reuseAnswersSchema,
});

export const createBranchBodySchema = z.strictObject({
  from_event_id: idSchema('event'),
  workflow_version_id: idSchema('version')
    .optional()
    .describe(
      "A version of the run's template for the branch to go on with (the fork position must exist in it); by default the version in force at the fork point",
    ),
  reuse_answers: reuseAnswersSchema,
});

export const branchViewSchema = z
  .object({
    branch_id: z.string(),
    workflow_run_id: z.string(),
    parent_branch_id: z.string().nullable(),
    branch_point_event_id: z.string().nullable(),
    lineage: z.array(z.object({ branch_id: z.string(), until_seq: z.number().int() })),
    status: z.enum(['active', 'inactive']),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'Branch' });
export type BranchView = z.infer<typeof branchViewSchema>;

export const branchListSchema = z.object({ items: z.array(branchViewSchema) });

export const createBranchResponseSchema = z.object({
  branch: branchViewSchema.nullable(),
  run: runViewSchema,
});

export const resumeQuerySchema = z.strictObject({
  entry_point: entryPointSchema.optional(),
  wait_ms: waitMsSchema.default(10_000),
});

/**
 * `restart_at` goes with `continue_with_new` (optional) and the `restart_at` choice (defaulting to
 * the step of the earliest change behind the run's position): a union, so the document says so.
 */
export const confirmResumeBodySchema = z.discriminatedUnion('choice', [
  z.strictObject({
    choice: z.literal(resumeChoiceSchema.enum.continue_with_new),
    submitted_version_id: idSchema('version'),
    restart_at: slug.optional(),
    reuse_answers: reuseAnswersSchema,
  }),
  z.strictObject({
    choice: z.literal(resumeChoiceSchema.enum.restart_at),
    submitted_version_id: idSchema('version'),
    restart_at: slug
      .optional()
      .describe(
        "The step to go back to; by default the one holding the earliest change behind the run's position",
      ),
    reuse_answers: reuseAnswersSchema,
  }),
  z.strictObject({
    choice: resumeChoiceSchema.extract(['continue_with_original', 'start_fresh']),
    submitted_version_id: idSchema('version'),
  }),
]);

export const versionChangesQuerySchema = z.strictObject({
  version_id: idSchema('version').describe(
    "A version of the run's template to compare the run with",
  ),
});

/** One provider call a run made; `lost`: no answer came (it may have been billed). */
export const providerCallViewSchema = z.object({
  status: tokenCallStatusSchema,
  /** The attempt's key, as sent to the provider (null for calls recorded before keys). */
  idempotency_key: z.string().nullable(),
  call_index: z.number().int(),
  attempt: z.number().int().nullable(),
  step_id: z.string(),
  module_name: z.string(),
  branch_id: z.string(),
  provider: z.string(),
  model: z.string(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  total_cost: z.number(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
});

export const runUsageSchema = z.object({
  items: z.array(providerCallViewSchema),
  /** Over answered (`completed`) calls. */
  totals: z.object({
    calls: z.number().int(),
    input_tokens: z.number(),
    output_tokens: z.number(),
    total_cost: z.number(),
  }),
  /** Calls whose answer never came (and any still in flight). */
  lost: z.object({ calls: z.number().int() }),
  /** Calls the provider answered with an error. */
  failed: z.object({ calls: z.number().int() }),
});
export type RunUsage = z.infer<typeof runUsageSchema>;

/** A 202 for work handed to a worker that has not finished: poll `GET /v1/jobs/{job_id}`. */
export const jobAcceptedSchema = z
  .object({ job_id: z.string() })
  .meta({ id: 'JobAccepted', description: 'Accepted; poll GET /v1/jobs/{job_id} for the outcome' });
