import { z } from 'zod';
import { eventTypeSchema } from './runs/events.js';
import { interactionRequestSchema } from './workflow/interaction-requests.js';
import { interactionDeadlineSchema } from './workflow/deadlines.js';

/**
 * The documents Stepwise stores, one schema per collection of docs/architecture.md. Mongoose models
 * (`@stepwise/shared/node`) are typed against these, so a field cannot drift between the two.
 */

const timestamps = { created_at: z.date(), updated_at: z.date() };

export const userRecordSchema = z.object({
  user_id: z.string(),
  username: z.string(),
  email: z.string(),
  ...timestamps,
});
export type UserRecord = z.infer<typeof userRecordSchema>;

export const accessKeyRecordSchema = z.object({
  key_id: z.string(),
  user_id: z.string(),
  /** sha256 (hex) of the secret; the secret itself is never stored. */
  key_hash: z.string(),
  /** The first characters of the secret, so a person can tell keys apart. */
  prefix: z.string(),
  created_at: z.date(),
  last_used_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
});
export type AccessKeyRecord = z.infer<typeof accessKeyRecordSchema>;

export const workflowTemplateRecordSchema = z.object({
  workflow_template_id: z.string(),
  user_id: z.string(),
  workflow_template_name: z.string(),
  display_name: z.string().nullable(),
  ...timestamps,
});
export type WorkflowTemplateRecord = z.infer<typeof workflowTemplateRecordSchema>;

export const sourceTypeSchema = z.enum(['zip', 'json']);
export type SourceType = z.infer<typeof sourceTypeSchema>;

export const workflowVersionRecordSchema = z.object({
  workflow_version_id: z.string(),
  workflow_template_id: z.string(),
  user_id: z.string(),
  content_hash: z.string(),
  raw_sha256: z.string(),
  source_type: sourceTypeSchema,
  /** Inline when small enough; otherwise null and `resolved_workflow_ref` names a GridFS file. */
  resolved_workflow: z.record(z.string(), z.unknown()).nullable(),
  resolved_workflow_ref: z.string().nullable(),
  /** Bytes of the resolved workflow as JSON (what the inline limit is compared with). */
  size: z.number().int().nonnegative(),
  /** The GridFS file (bucket `submissions`) with the bytes as first submitted, kept for audit. */
  source_file_id: z.string().nullable(),
  created_at: z.date(),
});
export type WorkflowVersionRecord = z.infer<typeof workflowVersionRecordSchema>;

export const runStatusSchema = z.enum([
  'running',
  'awaiting_input',
  'completed',
  'error',
  'cancelled',
]);
export type RunStatus = z.infer<typeof runStatusSchema>;

export const pendingInteractionSchema = z.object({
  interaction_id: z.string(),
  module_id: z.string(),
  step_id: z.string(),
  module_name: z.string(),
  /** What the person sees: a built-in module's request by `module_id`, or a plugin's own. */
  request: interactionRequestSchema,
  /** When the question times out (or is next reminded of), and what happens then. */
  deadline: interactionDeadlineSchema.optional(),
});
export type PendingInteraction = z.infer<typeof pendingInteractionSchema>;

export const runErrorSchema = z.object({ code: z.string(), message: z.string() });
export type RunError = z.infer<typeof runErrorSchema>;

/** Where a branch stands: the module last touched and what happened to it. */
export const cursorPhaseSchema = z.enum([
  /** Run this module next (after a retry, a resume of a failed run, a version switch). */
  'ready',
  'started',
  'completed',
  'skipped',
  'awaiting_input',
  'retry_wait',
  /** Waiting for an outside job to finish (`api.job`): polled at `retry_at`, holding nothing. */
  'job_wait',
  'failed',
]);
export type CursorPhase = z.infer<typeof cursorPhaseSchema>;

export const branchCursorSchema = z.object({
  step_id: z.string(),
  module_name: z.string(),
  phase: cursorPhaseSchema,
});
export type BranchCursor = z.infer<typeof branchCursorSchema>;

/** An outside job being waited on: what polling it needs, all of it from the log. */
export const branchJobSchema = z.object({
  job_id: z.string(),
  status: z.string().nullable(),
  submitted_at: z.string(),
  deadline_at: z.string(),
});
export type BranchJob = z.infer<typeof branchJobSchema>;

/**
 * A branch's state folded from its visible events up to `as_of_seq`; a cache of the log that a
 * replay rebuilds exactly (see runs/reducer.ts).
 */
export const branchSnapshotSchema = z.object({
  branch_id: z.string(),
  /** The workflow version this branch runs under (a branch keeps the one in force at its fork). */
  version_id: z.string(),
  as_of_seq: z.number().int().nonnegative(),
  state: z.record(z.string(), z.unknown()),
  status: runStatusSchema,
  /** null until the first module starts. */
  cursor: branchCursorSchema.nullable(),
  /** Attempts made of the module at the cursor (for `retry`). */
  attempt: z.number().int().nonnegative(),
  /** When a module waiting out its retry backoff may run again (ISO time). */
  retry_at: z.string().nullable(),
  /** The step whose `step_started` has no `step_completed` yet. */
  open_step: z.string().nullable(),
  pending_interaction: pendingInteractionSchema.nullable(),
  error: runErrorSchema.nullable(),
  /** Feedback given with a retry, readable by the retried module as `run.feedback`. */
  feedback: z.object({ step_id: z.string(), module_name: z.string(), text: z.string() }).nullable(),
  /**
   * The idempotency key of the attempt at the cursor while its phase is `started` (null once it
   * ended, or when its log predates keys); absent in snapshots stored before keys existed.
   */
  attempt_key: z.string().nullable().optional(),
  /**
   * The outside job the attempt at the cursor waits on (`api.job`), from its `job_submitted` until
   * the module ends; absent otherwise (and in every snapshot stored before jobs existed).
   */
  job: branchJobSchema.optional(),
  /**
   * Set by a retry, restart or branch that asked to reuse answers (versions.md): a question asked
   * exactly as one answered before on the run's lineage is answered with that answer. Absent: ask.
   */
  reuse_answers: z.literal(true).optional(),
});
export type BranchSnapshot = z.infer<typeof branchSnapshotSchema>;

/**
 * Who caused an event or sent a command: the user, and the key (or, for people in a browser, the
 * session) they used.
 */
export const actorSchema = z.object({
  user_id: z.string(),
  key_id: z.string().nullable(),
  session_id: z.string().nullable().optional(),
});
export type Actor = z.infer<typeof actorSchema>;

export const eventRecordSchema = z.object({
  event_id: z.string(),
  workflow_run_id: z.string(),
  workflow_version_id: z.string(),
  branch_id: z.string(),
  seq: z.number().int().positive(),
  event_type: eventTypeSchema,
  step_id: z.string().nullable(),
  module_name: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  timestamp: z.date(),
  correlation_id: z.string(),
  /** The command whose application appended this event (null for events not caused by one). */
  command_id: z.string().nullable(),
  /** Who sent that command (absent in logs written before actors were recorded). */
  actor: actorSchema.nullable().optional(),
});
export type EventRecord = z.infer<typeof eventRecordSchema>;

export const workflowRunRecordSchema = z.object({
  workflow_run_id: z.string(),
  workflow_template_id: z.string(),
  workflow_template_name: z.string(),
  user_id: z.string(),
  initial_version_id: z.string(),
  current_version_id: z.string(),
  project_name: z.string(),
  /** The initial_state the run was started with (the workflow's, merged with the request's). */
  initial_state: z.record(z.string(), z.unknown()),
  status: runStatusSchema,
  current_step: z.string().nullable(),
  current_module: z.string().nullable(),
  pending_interaction: pendingInteractionSchema.nullable(),
  error: runErrorSchema.nullable(),
  active_branch_id: z.string(),
  /** The highest `seq` committed; the next event takes `last_seq + 1`. The compare-and-set token. */
  last_seq: z.number().int().nonnegative(),
  /** Commands accepted (`$inc` by whoever accepts one) and applied, in acceptance order. */
  command_seq: z.number().int().nonnegative(),
  applied_command_seq: z.number().int().nonnegative(),
  /**
   * When the latest command number was taken. A number above `applied_command_seq` whose command
   * is not stored yet is in flight while this is recent, and lost (its acceptor died) once it is
   * old; null for runs that never took one (migrated).
   */
  command_accepted_at: z.date().nullable().optional(),
  /** The latest command refused without events, kept until its command record says so. */
  last_rejection: z
    .object({
      command_seq: z.number().int(),
      error: runErrorSchema.extend({ details: z.unknown().optional() }),
    })
    .nullable(),
  /** The active branch's snapshot, committed in the same write as the events it folds. */
  snapshot: branchSnapshotSchema,
  /**
   * The events of the latest commit. A commit is one conditional write of this document; the
   * events collection is then filled from here (idempotently), so a batch is all or nothing.
   */
  outbox: z.array(eventRecordSchema),
  /**
   * The run's lease (effects.md, rule 1): the one drain that may apply commands and execute
   * modules. `lease_fence` grows with every new holder and every commit is conditional on it, so
   * a holder whose lease lapsed and was taken over can never commit. Absent on runs never drained
   * since leases were introduced.
   */
  lease_holder: z.string().nullable().optional(),
  lease_expires_at: z.date().nullable().optional(),
  /**
   * When a timer of the run's is due: a retry's backoff or an outside job's next poll (a poll that
   * finds the job unchanged records no event, so its next time lives here). The sweeper leaves a
   * run whose timer is ahead alone (effects.md, rule 8); absent until a timer was set.
   */
  wake_at: z.date().nullable().optional(),
  /** The `last_seq` the run stood at when `wake_at` was set: it counts only while they agree. */
  wake_seq: z.number().int().nullable().optional(),
  lease_fence: z.number().int().nonnegative().optional(),
  ...timestamps,
});
export type WorkflowRunRecord = z.infer<typeof workflowRunRecordSchema>;

export const branchRecordSchema = z.object({
  branch_id: z.string(),
  workflow_run_id: z.string(),
  parent_branch_id: z.string().nullable(),
  branch_point_event_id: z.string().nullable(),
  /** Ancestors from the root down, each with the last `seq` of theirs that this branch sees. */
  lineage: z.array(z.object({ branch_id: z.string(), until_seq: z.number().int() })),
  status: z.enum(['active', 'inactive']),
  created_at: z.date(),
});
export type BranchRecord = z.infer<typeof branchRecordSchema>;

export const keywordSourceSchema = z.enum(['generated', 'selected']);

export const keywordHistoryRecordSchema = z.object({
  workflow_template_id: z.string(),
  step_id: z.string(),
  module_name: z.string(),
  /** Lower-cased, so that keywords compare case-insensitively. */
  keyword: z.string(),
  total_weight: z.number(),
  last_used: z.date(),
  expires: z.date(),
  source: keywordSourceSchema,
  category: z.string().nullable(),
  /** Idempotency keys of the latest attempts that added weight (each counts once). */
  counted_keys: z.array(z.string()).optional(),
});
export type KeywordHistoryRecord = z.infer<typeof keywordHistoryRecordSchema>;

export const optionUsageRecordSchema = z.object({
  workflow_template_id: z.string(),
  step_id: z.string(),
  module_name: z.string(),
  option: z.string(),
  ...timestamps,
});
export type OptionUsageRecord = z.infer<typeof optionUsageRecordSchema>;

export const artifactRecordSchema = z.object({
  artifact_id: z.string(),
  workflow_run_id: z.string(),
  user_id: z.string(),
  branch_id: z.string(),
  event_id: z.string().nullable(),
  step_id: z.string(),
  module_name: z.string(),
  /** `upload`: a file a person uploaded for a `user.file_input` question (docs/media.md). */
  kind: z.enum(['deliverable', 'debug', 'state', 'upload']),
  name: z.string(),
  content_type: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string(),
  file_id: z.string(),
  /** The attempt that saved it; absent on artifacts saved before attempts had keys. */
  idempotency_key: z.string().nullable().optional(),
  /** An upload's question (the pending interaction it was sent to); absent on other kinds. */
  interaction_id: z.string().nullable().optional(),
  /**
   * The deletion of its run, set as the run is marked: from then on no route finds the artifact,
   * though its bytes go only when a runner gets to them (docs/deletion-and-retention.md).
   */
  deletion_id: z.string().optional(),
  created_at: z.date(),
});
export type ArtifactRecord = z.infer<typeof artifactRecordSchema>;

export const tokenCallStatusSchema = z.enum(['pending', 'completed', 'failed', 'lost']);
export type TokenCallStatus = z.infer<typeof tokenCallStatusSchema>;

/**
 * One provider call. Written `pending` before the call and completed with the usage when the
 * answer comes (`failed`: the provider answered an error). A call whose answer never came (the
 * process died, the attempt timed out) is `lost`: it may have been billed.
 */
export const tokenUsageRecordSchema = z.object({
  /** The attempt's idempotency key (sent to the provider); with call_index, unique. */
  idempotency_key: z.string(),
  call_index: z.number().int().nonnegative(),
  attempt: z.number().int().nonnegative(),
  status: tokenCallStatusSchema,
  workflow_run_id: z.string(),
  user_id: z.string(),
  branch_id: z.string(),
  step_id: z.string(),
  module_name: z.string(),
  provider: z.string(),
  model: z.string(),
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  total_cost: z.number().nonnegative(),
  created_at: z.date(),
  completed_at: z.date().nullable(),
});
export type TokenUsageRecord = z.infer<typeof tokenUsageRecordSchema>;

export const runCommandTypeSchema = z.enum([
  'start',
  'respond',
  'cancel',
  'continue',
  'retry',
  'branch',
  'resume',
  'switch_version',
  /** Sent by a question's deadline timer: acts only if that question is still pending. */
  'timeout',
]);
export type RunCommandType = z.infer<typeof runCommandTypeSchema>;

export const runCommandRecordSchema = z.object({
  command_id: z.string(),
  workflow_run_id: z.string(),
  user_id: z.string(),
  /** Acceptance order within the run. */
  seq: z.number().int().positive(),
  type: runCommandTypeSchema,
  payload: z.record(z.string(), z.unknown()),
  correlation_id: z.string(),
  /** Who sent it (absent on commands accepted before actors were recorded). */
  actor: actorSchema.nullable().optional(),
  /**
   * `<user id>:<the client's Idempotency-Key>`, unique: a repeat of the request gets this
   * command's outcome. Absent (not null) when no key was sent, so the index skips it.
   */
  client_request_key: z.string().optional(),
  status: z.enum(['pending', 'applied', 'rejected']),
  error: runErrorSchema.extend({ details: z.unknown().optional() }).nullable(),
  accepted_at: z.date(),
  finished_at: z.date().nullable(),
  /**
   * The run's last_seq once the events of this command's latest commit (and what mirrors them)
   * are in the log. A command applied over several commits (a chain of effectful modules) moves it
   * on with each; a drain that finds it behind the run writes the run's outbox again.
   */
  written_seq: z.number().int().nonnegative().optional(),
});
export type RunCommandRecord = z.infer<typeof runCommandRecordSchema>;
