import { z } from 'zod';
import { idSchema } from './ids.js';
import { sourceTypeSchema } from './records.js';
import { entryPointSchema } from './workflow-api.js';

/**
 * The job catalog: every queue, the jobs it carries, their payload schemas and delivery policy.
 * Producers and processors are both typed from here, and a processor parses its payload first.
 */

/**
 * Uploads up to this size travel inside the `resolve` job (`inline_bytes`) instead of GridFS: the
 * job in Redis is as durable as the queue that carries it, and it saves the gateway's two GridFS
 * writes and the resolver's two reads. Larger ones go to GridFS, so a job stays small in Redis.
 */
export const INLINE_SUBMISSION_MAX_BYTES = 256 * 1024;

export const resolveJobSchema = z.strictObject({
  user_id: idSchema('user'),
  /**
   * GridFS file (bucket `submissions`) for the raw bytes as uploaded. With `inline_bytes` it does
   * not exist yet: the resolver writes it only if the submission creates a version (audit copy).
   */
  submission_file_id: z.string().min(1),
  /**
   * The raw bytes (base64) of a submission of at most INLINE_SUBMISSION_MAX_BYTES. The resolver
   * removes them from the job once they are in GridFS or no longer needed, so completed jobs kept
   * for `GET /v1/jobs` do not hold uploads in Redis. Not checked as base64 here (a regex over
   * 340 KiB costs milliseconds at each parse): the resolver checks the decoded bytes' sha256.
   */
  inline_bytes: z
    .string()
    .max(Math.ceil(INLINE_SUBMISSION_MAX_BYTES / 3) * 4)
    .optional(),
  source_type: sourceTypeSchema,
  entry_point: entryPointSchema.optional(),
  raw_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  correlation_id: idSchema('correlation'),
  /**
   * The template the workflow must belong to (a resume submits the run's own workflow): another
   * one is refused with CONFLICT before anything is stored.
   */
  expected_template_name: z.string().min(1).max(64).optional(),
});
export type ResolveJob = z.infer<typeof resolveJobSchema>;

/**
 * A job on the `runs` queue. Commands themselves live in `run_commands` (the run's inbox, in
 * acceptance order); a job only says which run has work: `drain` applies its pending commands,
 * `wake` re-enters a run whose module waits out a retry backoff, if the run is still where it was;
 * `recover` looks at a run once the lease of a drain that may have died has expired.
 */
export const runJobSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('drain'),
    workflow_run_id: idSchema('run'),
    user_id: idSchema('user'),
    command_id: idSchema('command'),
    /**
     * The command's acceptance number, when the enqueuer knows it: the runner then reads the
     * command while it takes the run's lease. Absent in jobs queued before it existed.
     */
    command_seq: z.number().int().positive().optional(),
  }),
  z.strictObject({
    kind: z.literal('wake'),
    workflow_run_id: idSchema('run'),
    user_id: idSchema('user'),
    expected_last_seq: z.number().int().nonnegative(),
  }),
  z.strictObject({
    kind: z.literal('recover'),
    workflow_run_id: idSchema('run'),
    user_id: idSchema('user'),
  }),
  /**
   * A question's deadline (or next reminder) is due: if that question is still pending with that
   * deadline, a `timeout` command goes into the run's inbox. Keyed by interaction and due time.
   */
  z.strictObject({
    kind: z.literal('deadline'),
    workflow_run_id: idSchema('run'),
    user_id: idSchema('user'),
    interaction_id: idSchema('interaction'),
    due_at: z.iso.datetime(),
  }),
]);
export type RunJob = z.infer<typeof runJobSchema>;

/**
 * What a `drain` job answers about its command. `deferred`: another drain holds the run's lease and
 * will apply it; the command's settlement is then read from its record (see effects.md, rule 1).
 */
export const commandOutcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('applied') }),
  z.object({ status: z.literal('deferred') }),
  z.object({
    status: z.literal('rejected'),
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  }),
]);
export type CommandOutcome = z.infer<typeof commandOutcomeSchema>;

/** Housekeeping, run by a BullMQ job scheduler (one schedule however many runners start). */
export const maintenanceJobSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('expire_keywords') }),
  /** Removes artifacts of attempts that never committed, after a grace period. */
  z.strictObject({ kind: z.literal('sweep_artifacts') }),
  /** Applies every user's retention policy (docs/deletion-and-retention.md). */
  z.strictObject({ kind: z.literal('apply_retention') }),
]);
export type MaintenanceJob = z.infer<typeof maintenanceJobSchema>;

/**
 * A batch migration (versions.md): the job walks the migration's runs in order, each by the usual
 * per-run semantics. Its job id is the migration id, so a repeated enqueue is one job; a job handed
 * back after a crash goes on from the first run without an outcome.
 */
export const migrationJobSchema = z.strictObject({
  migration_id: idSchema('migration'),
  user_id: idSchema('user'),
});
export type MigrationJob = z.infer<typeof migrationJobSchema>;

/**
 * One webhook delivery (people.md, "Notifications and deadlines"): the job id is the delivery id,
 * so enqueueing it again (the dispatcher's sweep) is one job. Retries are the processor's own
 * (exponential, for up to 24 h), so the queue's attempts only cover a crashed worker.
 */
export const webhookDeliveryJobSchema = z.strictObject({
  delivery_id: idSchema('delivery'),
  user_id: idSchema('user'),
});
export type WebhookDeliveryJob = z.infer<typeof webhookDeliveryJobSchema>;

/**
 * A deletion (docs/deletion-and-retention.md): the job id is the deletion id, so a repeated
 * enqueue is one job; every step deletes what is still there, so a job handed back after a crash
 * (or asked for again after it failed) goes on where the last one stopped. `user_id` is the owner
 * of what is deleted (for a user deletion, that user).
 */
export const deletionJobSchema = z.strictObject({
  deletion_id: idSchema('deletion'),
  user_id: idSchema('user'),
});
export type DeletionJob = z.infer<typeof deletionJobSchema>;

export interface JobContract<Payload extends z.ZodType> {
  readonly queue: string;
  readonly jobName: string;
  readonly payload: Payload;
  readonly attempts: number;
  readonly backoffMs: number;
}

export const jobCatalog = {
  resolve: {
    queue: 'resolve',
    jobName: 'resolve',
    payload: resolveJobSchema,
    attempts: 5,
    backoffMs: 500,
  },
  runCommand: {
    queue: 'runs',
    jobName: 'run',
    payload: runJobSchema,
    attempts: 10,
    backoffMs: 250,
  },
  migration: {
    queue: 'migrations',
    jobName: 'migrate',
    payload: migrationJobSchema,
    attempts: 20,
    backoffMs: 1_000,
  },
  webhookDelivery: {
    queue: 'webhooks',
    jobName: 'deliver',
    payload: webhookDeliveryJobSchema,
    attempts: 5,
    backoffMs: 1_000,
  },
  deletion: {
    queue: 'deletions',
    jobName: 'delete',
    payload: deletionJobSchema,
    attempts: 10,
    backoffMs: 2_000,
  },
  maintenance: {
    queue: 'maintenance',
    jobName: 'maintenance',
    payload: maintenanceJobSchema,
    attempts: 3,
    backoffMs: 5_000,
  },
} as const satisfies Record<string, JobContract<z.ZodType>>;

export type JobKind = keyof typeof jobCatalog;
export type JobPayload<K extends JobKind> = z.infer<(typeof jobCatalog)[K]['payload']>;

export const queueNames = Object.values(jobCatalog).map((contract) => contract.queue);

/**
 * The namespace of every Redis key (`redis-keys.ts`), written `{stepwise}` or `stepwise`. The
 * braces are what earlier versions required (the whole namespace was one hash tag); each queue
 * and key family now gets a tag of its own inside the namespace, so braces inside are refused.
 */
export const queuePrefixSchema = z
  .string()
  .regex(
    /^(\{[A-Za-z0-9_.:-]{1,64}\}|[A-Za-z0-9_.:-]{1,64})$/,
    'must be a name such as stepwise or a hash tag such as {stepwise}',
  );
