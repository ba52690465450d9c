import { z } from 'zod';
import { idSchema } from './ids.js';
import { sourceTypeSchema } from './records.js';

/**
 * The job catalog: every queue, the jobs it carries, their payload schemas and delivery policy.
 * Producers and processors are both typed from here, and a processor parses its payload first.
 */

export const resolveJobSchema = z.strictObject({
  user_id: idSchema('user'),
  /** GridFS file (bucket `submissions`) holding the raw bytes as uploaded. */
  submission_file_id: z.string().min(1),
  source_type: sourceTypeSchema,
  entry_point: z.string().min(1).max(512).optional(),
  raw_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  correlation_id: idSchema('correlation'),
});
export type ResolveJob = z.infer<typeof resolveJobSchema>;

const commandBase = {
  command_id: idSchema('command'),
  workflow_run_id: idSchema('run'),
  user_id: idSchema('user'),
  correlation_id: idSchema('correlation'),
};

export const runCommandSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...commandBase,
    type: z.literal('start'),
  }),
  z.strictObject({
    ...commandBase,
    type: z.literal('respond'),
    interaction_id: z.string().min(1),
    response: z.unknown(),
  }),
  z.strictObject({
    ...commandBase,
    type: z.literal('cancel'),
  }),
]);
export type RunCommand = z.infer<typeof runCommandSchema>;

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
    jobName: 'run-command',
    payload: runCommandSchema,
    attempts: 10,
    backoffMs: 250,
  },
} as const satisfies Record<string, JobContract<z.ZodType>>;

export type JobKind = keyof typeof jobCatalog;
export type JobPayload<K extends JobKind> = z.infer<(typeof jobCatalog)[K]['payload']>;

export const queueNames = Object.values(jobCatalog).map((contract) => contract.queue);

/**
 * BullMQ keys are `<prefix>:<queue>:…`; a prefix in braces is a Redis Cluster hash tag, so all of
 * a queue's keys land in one slot and its Lua scripts work on a cluster.
 */
export const queuePrefixSchema = z
  .string()
  .regex(/^\{[A-Za-z0-9_.:-]{1,64}\}$/, 'must be a hash tag such as {stepwise}');
