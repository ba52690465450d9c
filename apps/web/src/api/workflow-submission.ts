import type { components, paths } from '@stepwise/client';
import { api, ApiError, apiError } from './client';

/*
 * Submitting a workflow file (`POST /v1/workflows`), for the Templates page and the Versions page
 * alike: the file's bytes are the body, typed by its Content-Type (a zip bundle or a JSON
 * document), as the contract declares the upload. The gateway waits a while for the resolver; past
 * that it answers 202 with a job to poll (`GET /v1/jobs/{job_id}`), whose result is the same
 * version summary, or which fails with the same refusal.
 */

type Submit = paths['/v1/workflows']['post'];
export type SubmittedVersion = Submit['responses'][201]['content']['application/json'];
type Job = paths['/v1/jobs/{job_id}']['get']['responses'][200]['content']['application/json'];

type WorkflowFileKind = 'zip' | 'json';
const contentTypes: Record<WorkflowFileKind, keyof Submit['requestBody']['content']> = {
  zip: 'application/zip',
  json: 'application/json',
};

/** How long the gateway may hold the request for the resolver before answering 202. */
const SUBMIT_WAIT_MS = 10_000;
/** Between two looks at a submission still being resolved. */
const JOB_POLL_MS = 1_000;
/** Looks at the job before the person is told to try again, rather than waiting for ever. */
const JOB_POLLS = 30;

/**
 * A zip or a JSON document, by the file's name or type, else by its first bytes (a zip starts
 * with "PK", a JSON workflow with "{" after any blank). Null for anything else.
 */
async function kindOf(file: File): Promise<WorkflowFileKind | null> {
  const name = file.name.toLowerCase();
  if (name.endsWith('.zip') || /zip/.test(file.type)) return 'zip';
  if (name.endsWith('.json') || file.type === 'application/json') return 'json';
  const head = new Uint8Array(await file.slice(0, 64).arrayBuffer());
  if (head[0] === 0x50 && head[1] === 0x4b) return 'zip';
  const firstText = new TextDecoder().decode(head).trimStart();
  return firstText.startsWith('{') ? 'json' : null;
}

type PostOutcome =
  { state: 'stored'; version: SubmittedVersion } | { state: 'pending'; jobId: string };

async function postWorkflow(
  file: File,
  kind: WorkflowFileKind,
  signal: AbortSignal | undefined,
  template: string | undefined,
): Promise<PostOutcome> {
  const { data, error, response } = await api.POST('/v1/workflows', {
    params: {
      query: {
        wait: 'true',
        wait_ms: SUBMIT_WAIT_MS,
        ...(template === undefined ? {} : { template }),
      },
    },
    headers: { 'Content-Type': contentTypes[kind] },
    body: file,
    // The bytes as they are: openapi-fetch would otherwise JSON-encode the body.
    bodySerializer: (body) => body,
    ...(signal ? { signal } : {}),
  });
  if (!response.ok || data === undefined) throw apiError(response, error ?? null);
  if ('job_id' in data) return { state: 'pending', jobId: data.job_id };
  return { state: 'stored', version: data };
}

function isSubmittedVersion(value: unknown): value is SubmittedVersion {
  if (typeof value !== 'object' || value === null) return false;
  const { workflow_version_id, workflow_template_name, content_hash, created } = value as Record<
    string,
    unknown
  >;
  return (
    typeof workflow_version_id === 'string' &&
    typeof workflow_template_name === 'string' &&
    typeof content_hash === 'string' &&
    typeof created === 'boolean'
  );
}

type JobOutcome =
  | { state: 'pending' }
  | { state: 'stored'; version: SubmittedVersion }
  | { state: 'refused'; error: ApiError };

/**
 * What a submission job amounts to. The contract types a job's `result` as unknown (jobs are
 * generic); a resolve job's result is the version summary, checked here before it is read.
 */
function jobOutcome(job: Job): JobOutcome {
  if (job.state === 'failed') {
    const error: Partial<components['schemas']['ErrorEnvelope']['error']> = job.error ?? {};
    return {
      state: 'refused',
      error: new ApiError(
        422,
        error.code ?? 'UNAVAILABLE',
        error.message ?? 'The workflow could not be stored.',
        error.details ?? null,
        null,
      ),
    };
  }
  if (job.state !== 'completed') return { state: 'pending' };
  if (isSubmittedVersion(job.result)) return { state: 'stored', version: job.result };
  return {
    state: 'refused',
    error: new ApiError(500, 'INTERNAL', 'The server answered with no version.', null, null),
  };
}

async function readJob(jobId: string, signal: AbortSignal | undefined): Promise<Job> {
  const { data, error, response } = await api.GET('/v1/jobs/{job_id}', {
    params: { path: { job_id: jobId } },
    ...(signal ? { signal } : {}),
  });
  if (data === undefined) throw apiError(response, error ?? null);
  return data;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export interface SubmissionOptions {
  /** Stops the submission (or the wait for its job) when a newer one starts or the page goes. */
  signal?: AbortSignal;
  /** Called when the gateway stops waiting and the job is followed instead (a 202). */
  onResolving?: () => void;
  /** Store it only as a version of this template (else 409, nothing stored). */
  template?: string;
}

/**
 * Stores the file as a version (or finds the version it already is), following the job when the
 * resolver is slower than the gateway's wait. Rejects with the gateway's ApiError (a refusal names
 * each problem in its `details`), or with the signal's reason once aborted.
 */
export async function submitWorkflowFile(
  file: File,
  { signal, onResolving, template }: SubmissionOptions = {},
): Promise<SubmittedVersion> {
  const kind = await kindOf(file);
  if (kind === null) {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Choose a .zip bundle or a .json workflow file.',
      null,
      null,
    );
  }
  const posted = await postWorkflow(file, kind, signal, template);
  if (posted.state === 'stored') return posted.version;
  onResolving?.();
  for (let poll = 0; poll < JOB_POLLS; poll += 1) {
    const outcome = jobOutcome(await readJob(posted.jobId, signal));
    if (outcome.state === 'stored') return outcome.version;
    if (outcome.state === 'refused') throw outcome.error;
    await pause(JOB_POLL_MS, signal);
  }
  throw new ApiError(
    504,
    'STILL_RESOLVING',
    'The server is still reading the workflow. Try again in a moment.',
    null,
    null,
  );
}
