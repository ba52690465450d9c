import type { paths } from '@stepwise/client';
import { api, ApiError, apiError, csrfHeaders, unwrap } from '../api/client';

/*
 * Submitting a workflow file on the spot (`POST /v1/workflows`): its bytes as the body, typed
 * `application/zip` or `application/json` as the contract declares the upload. Sent with fetch
 * rather than `api`, whose JSON body would be the parsed workflow, not the file's bytes; being a
 * write, it carries the session's CSRF token as every write of `api` does.
 */

export type SubmittedVersion =
  paths['/v1/workflows']['post']['responses'][201]['content']['application/json'];

/** How long the gateway may hold the submission while the resolver stores it. */
const SUBMIT_WAIT_MS = 10_000;
/** Between two looks at a submission still being resolved (a 202). */
const JOB_POLL_MS = 1_000;
const JOB_POLLS = 30;

/** The content type the contract wants for a workflow file, from its name (else its type). */
export function workflowMediaType(file: Pick<File, 'name' | 'type'>): string | null {
  const name = file.name.toLowerCase();
  if (name.endsWith('.zip')) return 'application/zip';
  if (name.endsWith('.json')) return 'application/json';
  if (file.type === 'application/zip' || file.type === 'application/x-zip-compressed')
    return 'application/zip';
  if (file.type === 'application/json') return 'application/json';
  return null;
}

function isVersion(value: unknown): value is SubmittedVersion {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)['workflow_version_id'] === 'string'
  );
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
      },
      { once: true },
    );
  });

/**
 * The resolver was slower than the gateway's wait (202 with a job): its job is read until it
 * ends, and its result is the version (or the refusal the resolver made).
 */
async function awaitSubmission(jobId: string, signal?: AbortSignal): Promise<SubmittedVersion> {
  for (let poll = 0; poll < JOB_POLLS; poll += 1) {
    const job = unwrap(
      await api.GET('/v1/jobs/{job_id}', {
        params: { path: { job_id: jobId } },
        ...(signal ? { signal } : {}),
      }),
    );
    if (job.state === 'completed' || job.state === 'failed') {
      const result = job.result as { ok?: unknown; version?: unknown } | undefined;
      if (result?.ok === true && isVersion(result.version)) return result.version;
      const error = job.error;
      throw new ApiError(
        422,
        error?.code ?? 'WORKFLOW_INVALID',
        error?.message ?? 'The workflow could not be stored.',
        error?.details ?? null,
        null,
      );
    }
    await sleep(JOB_POLL_MS, signal);
  }
  throw new ApiError(
    0,
    'UNAVAILABLE',
    'The server is still reading the workflow. Try again in a moment.',
    null,
    null,
  );
}

/** Stores the file as a version (or finds the version it already is); rejects with an ApiError. */
export async function submitWorkflowFile(
  file: File,
  signal?: AbortSignal,
): Promise<SubmittedVersion> {
  const mediaType = workflowMediaType(file);
  if (mediaType === null) {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Choose a workflow as a .zip bundle or a .json file.',
      null,
      null,
    );
  }
  const query = new URLSearchParams({ wait: 'true', wait_ms: String(SUBMIT_WAIT_MS) });
  const response = await fetch(`/v1/workflows?${query.toString()}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': mediaType, Accept: 'application/json', ...csrfHeaders() },
    body: file,
    ...(signal ? { signal } : {}),
  });
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  if (!response.ok) throw apiError(response, body);
  if (response.status === 202) {
    const jobId = (body as { job_id?: unknown } | null)?.job_id;
    if (typeof jobId === 'string') return awaitSubmission(jobId, signal);
  }
  if (isVersion(body)) return body;
  throw new ApiError(
    response.status,
    'BAD_ANSWER',
    'The server’s answer was not understood.',
    null,
    null,
  );
}
