import type { QueueEvents } from 'bullmq';
import type { Connection } from 'mongoose';
import {
  StepwiseError,
  newId,
  resolveJobResultSchema,
  type SourceType,
  type VersionSummary,
} from '@stepwise/shared';
import { deleteFromBucket, sha256Hex, uploadToBucket, type JobQueue } from '@stepwise/shared/node';
import { awaitJob } from '../jobs/await-job.js';

export interface SubmissionDependencies {
  mongo: Connection;
  resolveQueue: JobQueue<'resolve'>;
  resolveEvents: QueueEvents;
}

export interface SubmitWorkflowInput {
  userId: string;
  bytes: Buffer;
  sourceType: SourceType;
  entryPoint?: string | undefined;
  /** Refuse (CONFLICT, storing nothing) a workflow of any other template. */
  expectedTemplateName?: string | undefined;
  correlationId: string;
  waitMs: number;
}

export type SubmissionOutcome =
  { state: 'resolved'; version: VersionSummary } | { state: 'pending'; jobId: string };

/**
 * Stores the raw bytes, hands them to the resolver, and (within `waitMs`) returns the version.
 * Refusals come back as StepwiseErrors with the resolver's code and details. If the job cannot be
 * enqueued the stored bytes are deleted again, so a failed submission leaves nothing behind.
 */
export async function submitWorkflow(
  deps: SubmissionDependencies,
  input: SubmitWorkflowInput,
): Promise<SubmissionOutcome> {
  if (input.sourceType === 'json' && input.entryPoint !== undefined) {
    throw new StepwiseError('BAD_REQUEST', 'entry_point applies to zip submissions only', [
      { path: 'query.entry_point', message: 'not allowed with application/json' },
    ]);
  }
  const rawSha256 = sha256Hex(input.bytes);
  const fileId = await uploadToBucket(
    deps.mongo,
    'submissions',
    `submission.${input.sourceType}`,
    input.bytes,
    { user_id: input.userId, source_type: input.sourceType, raw_sha256: rawSha256 },
  );
  const jobId = newId('job');
  let job;
  try {
    job = await deps.resolveQueue.enqueue(
      {
        user_id: input.userId,
        submission_file_id: fileId,
        source_type: input.sourceType,
        ...(input.entryPoint === undefined ? {} : { entry_point: input.entryPoint }),
        ...(input.expectedTemplateName === undefined
          ? {}
          : { expected_template_name: input.expectedTemplateName }),
        raw_sha256: rawSha256,
        size: input.bytes.length,
        correlation_id: input.correlationId,
      },
      { jobId },
    );
  } catch (error) {
    await deleteFromBucket(deps.mongo, 'submissions', fileId).catch(() => undefined);
    throw error;
  }
  const awaited = await awaitJob(deps.resolveQueue.queue, job, deps.resolveEvents, input.waitMs);
  if (!awaited.finished) return { state: 'pending', jobId };
  const result = resolveJobResultSchema.parse(awaited.value);
  if (!result.ok)
    throw new StepwiseError(result.error.code, result.error.message, result.error.details);
  return { state: 'resolved', version: result.version };
}
