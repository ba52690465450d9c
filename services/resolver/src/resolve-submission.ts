import {
  StepwiseError,
  httpStatusOf,
  isStepwiseError,
  type ModuleCatalog,
  type ResolveJob,
  type ResolveJobResult,
} from '@stepwise/shared';
import {
  deleteFromBucket,
  downloadFromBucket,
  type JobContext,
  type Models,
} from '@stepwise/shared/node';
import { mongo, type Connection } from 'mongoose';
import type { BundleLimits } from './bundle/limits.js';
import { buildVersion } from './build-version.js';
import { storeVersion } from './store-version.js';
import { inlineBytesOf, keepSubmissionBytes, withoutInlineBytes } from './submission-source.js';

export interface ResolverDependencies {
  mongo: Connection;
  models: Models;
  limits: BundleLimits;
  inlineLimitBytes: number;
  catalog: ModuleCatalog;
}

/**
 * A failure of work on the submission's content alone (parsing, resolving, validating, encoding
 * it for MongoDB): no store or network took part, so another attempt would fail the same way.
 */
class ContentFailure extends Error {
  constructor(readonly failure: unknown) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

/** The error a job ends with at once, or null when the failure may pass and the queue retries. */
export function finalError(error: unknown): StepwiseError | null {
  if (isStepwiseError(error)) {
    // The caller's fault (4xx): WORKFLOW_INVALID, INVALID_ZIP, PAYLOAD_TOO_LARGE, CONFLICT, ….
    if (httpStatusOf(error.code) < 500)
      return new StepwiseError(error.code, error.message, error.details);
    return null;
  }
  // Ours, not the caller's, but no retry can mend it: answered at once as a 500.
  if (error instanceof ContentFailure || mongo.BSON.BSONError.isBSONError(error))
    return new StepwiseError('INTERNAL', 'the workflow could not be processed');
  return null;
}

/** `buildVersion` touches nothing but memory: whatever it throws besides a refusal is a ContentFailure. */
async function buildOrFail(...args: Parameters<typeof buildVersion>) {
  try {
    return await buildVersion(...args);
  } catch (error) {
    throw isStepwiseError(error) ? error : new ContentFailure(error);
  }
}

/**
 * The `resolve` job: submission bytes (in the job, or in GridFS) → a version. A failure that no
 * retry can change (a submission the user must fix, or one our code cannot process) completes the
 * job at once with `{ok: false, error}`; only a failing store throws, so the queue retries. The
 * raw bytes are kept (in GridFS) only for a version they created; bytes carried in the job are
 * dropped from it once the job no longer needs them there.
 */
export function createResolveHandler(deps: ResolverDependencies) {
  return async (job: ResolveJob, context: JobContext): Promise<ResolveJobResult> => {
    let inlineBytes: Buffer | null;
    try {
      inlineBytes = inlineBytesOf(job);
    } catch (error) {
      // A bug between gateway and resolver, not the submitter's: no retry changes the payload.
      context.logger.error({ err: error }, 'submission could not be processed');
      await context.replacePayload?.(withoutInlineBytes(job));
      return {
        ok: false,
        error: new StepwiseError('INTERNAL', 'the workflow could not be processed').toEnvelope()
          .error,
      };
    }
    // Inline bytes reach GridFS only with a version they created (`keepSource`), so without one
    // there is no file to discard.
    const discardSubmission = async () => {
      if (!inlineBytes) await deleteFromBucket(deps.mongo, 'submissions', job.submission_file_id);
    };
    /** The job's own copy of inline bytes, once GridFS holds them or nothing will need them. */
    const dropInlineBytes = async () => {
      if (inlineBytes) await context.replacePayload?.(withoutInlineBytes(job));
    };
    // After the last attempt failed. Inline bytes too: an attempt may have written part of
    // their audit copy.
    const giveUp = () =>
      Promise.all([
        deleteFromBucket(deps.mongo, 'submissions', job.submission_file_id),
        dropInlineBytes(),
      ]);
    try {
      const bytes =
        inlineBytes ??
        (await downloadFromBucket(deps.mongo, 'submissions', job.submission_file_id).catch(
          async (error: unknown) => {
            // Gone: an earlier delivery finished and kept it only if it created a version.
            const earlier = await deps.models.versions
              .findOne({ user_id: job.user_id, source_file_id: job.submission_file_id })
              .lean();
            if (!earlier) throw error;
            return null;
          },
        ));
      const built = bytes
        ? await buildOrFail(
            { bytes, sourceType: job.source_type, entryPoint: job.entry_point },
            deps.limits,
            deps.catalog,
          )
        : null;
      if (!built) {
        const version = await deps.models.versions
          .findOne({ user_id: job.user_id, source_file_id: job.submission_file_id })
          .lean();
        const template = await deps.models.templates
          .findOne({ user_id: job.user_id, workflow_template_id: version?.workflow_template_id })
          .lean();
        if (!version || !template) throw new Error('submission vanished without a version');
        return { ok: true, version: summary(template, version, true) };
      }
      const expected = job.expected_template_name;
      if (expected !== undefined && built.workflow.workflow_id !== expected) {
        throw new StepwiseError(
          'CONFLICT',
          `that workflow is template '${built.workflow.workflow_id}', not '${expected}'`,
          [{ path: 'workflow_id', message: `must be '${expected}'` }],
        );
      }
      const stored = await storeVersion(deps.mongo, deps.models, {
        userId: job.user_id,
        built,
        sourceFileId: job.submission_file_id,
        inlineLimitBytes: deps.inlineLimitBytes,
        ...(inlineBytes
          ? {
              keepSource: async (again: boolean) => {
                await keepSubmissionBytes(deps.mongo, job, inlineBytes, again);
                await dropInlineBytes();
              },
            }
          : {}),
      });
      if (!stored.created) await Promise.all([discardSubmission(), dropInlineBytes()]);
      context.logger.info(
        { workflow_version_id: stored.version.workflow_version_id, created: stored.created },
        'submission resolved',
      );
      return { ok: true, version: summary(stored.template, stored.version, stored.created) };
    } catch (error) {
      const final = finalError(error);
      if (final) {
        if (final.code === 'INTERNAL') {
          const cause = error instanceof ContentFailure ? error.failure : error;
          context.logger.error({ err: cause }, 'submission could not be processed');
        }
        await Promise.all([discardSubmission(), dropInlineBytes()]);
        return { ok: false, error: final.toEnvelope().error };
      }
      if (context.isFinalAttempt) await giveUp().catch(() => undefined);
      throw error;
    }
  };
}

function summary(
  template: { workflow_template_id: string; workflow_template_name: string },
  version: { workflow_version_id: string; content_hash: string; source_type: 'zip' | 'json' },
  created: boolean,
) {
  return {
    workflow_template_id: template.workflow_template_id,
    workflow_template_name: template.workflow_template_name,
    workflow_version_id: version.workflow_version_id,
    content_hash: version.content_hash,
    source_type: version.source_type,
    created,
  };
}
