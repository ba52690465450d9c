import { UnrecoverableError } from 'bullmq';
import type { ResolveJob } from '@stepwise/shared';
import type { JobContext } from '@stepwise/shared/node';

/**
 * Turns an uploaded submission into a workflow version. Hashing, unzipping, `$ref` resolution and
 * the template/version upsert arrive with the submissions issue; until then a job is refused for
 * good rather than retried, so nothing waits on it.
 */
export async function resolveSubmission(job: ResolveJob, context: JobContext): Promise<never> {
  context.logger.warn(
    { submission_file_id: job.submission_file_id },
    'resolve not implemented yet',
  );
  throw new UnrecoverableError('resolving submissions is not implemented yet');
}
