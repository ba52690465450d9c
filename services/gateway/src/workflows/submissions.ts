import type { QueueEvents } from 'bullmq';
import { mongo, type Connection } from 'mongoose';
import {
  INLINE_SUBMISSION_MAX_BYTES,
  StepwiseError,
  assertEntryPointApplies,
  detailsFromZodError,
  findUnstorableKey,
  workflowDefinitionSchema,
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
 * The checks of a JSON workflow that need no module catalog, done before anything is stored or
 * queued: malformed JSON (400), a key that cannot be stored or a document that is not a workflow
 * (422). So even `wait=false` refuses such a document at once instead of answering 202 with a job
 * that can only fail. The resolver runs the same checks (and the catalog's) on what gets through.
 */
function precheckJsonWorkflow(bytes: Buffer): void {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    const message = (error as Error).message;
    throw new StepwiseError('BAD_REQUEST', `the workflow is not valid JSON: ${message}`, [
      { path: 'body', message },
    ]);
  }
  const unstorable = findUnstorableKey(document, '');
  const errors = unstorable
    ? [unstorable]
    : (() => {
        const parsed = workflowDefinitionSchema.safeParse(document);
        return parsed.success ? [] : detailsFromZodError(parsed.error);
      })();
  if (errors.length > 0) {
    throw new StepwiseError(
      'WORKFLOW_INVALID',
      errors.map((e) => `${e.path}: ${e.message}`).join('; '),
      errors,
    );
  }
}

/**
 * Hands the raw bytes to the resolver and (within `waitMs`) returns the version. Small uploads
 * travel inside the job (durable with the queue; the resolver keeps the audit copy in GridFS under
 * the id chosen here if they make a version); larger ones are stored in GridFS first. Refusals
 * come back as StepwiseErrors with the resolver's code and details. If the job cannot be enqueued
 * stored bytes are deleted again, so a failed submission leaves nothing behind.
 */
export async function submitWorkflow(
  deps: SubmissionDependencies,
  input: SubmitWorkflowInput,
): Promise<SubmissionOutcome> {
  assertEntryPointApplies(input.sourceType, input.entryPoint);
  if (input.sourceType === 'json') precheckJsonWorkflow(input.bytes);
  const rawSha256 = sha256Hex(input.bytes);
  const inline = input.bytes.length <= INLINE_SUBMISSION_MAX_BYTES;
  const fileId = inline
    ? new mongo.ObjectId().toHexString()
    : await uploadToBucket(
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
        ...(inline ? { inline_bytes: input.bytes.toString('base64') } : {}),
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
    if (!inline) await deleteFromBucket(deps.mongo, 'submissions', fileId).catch(() => undefined);
    throw error;
  }
  const awaited = await awaitJob(deps.resolveQueue.queue, job, deps.resolveEvents, input.waitMs);
  if (!awaited.finished) return { state: 'pending', jobId };
  const result = resolveJobResultSchema.parse(awaited.value);
  if (!result.ok)
    throw new StepwiseError(result.error.code, result.error.message, result.error.details);
  return { state: 'resolved', version: result.version };
}
