import type { components, paths } from '@stepwise/client';
import { api, ApiError, apiError } from '../api/client';

/*
 * Submitting a workflow (`POST /v1/workflows`): the file's bytes are the body, typed by its
 * Content-Type (a zip bundle or a JSON document), as the contract declares the upload. The gateway
 * waits a while for the resolver; past that it answers 202 with a job to poll
 * (`GET /v1/jobs/{job_id}`), whose result is the same version summary or the same refusal.
 */

type Submit = paths['/v1/workflows']['post'];
export type SubmittedVersion = Submit['responses'][201]['content']['application/json'];
type Job = paths['/v1/jobs/{job_id}']['get']['responses'][200]['content']['application/json'];

export type SubmissionKind = 'zip' | 'json';
const contentTypes: Record<SubmissionKind, keyof Submit['requestBody']['content']> = {
  zip: 'application/zip',
  json: 'application/json',
};

/** How long the gateway may hold the request for the resolver before answering 202. */
const SUBMIT_WAIT_MS = 10_000;

/**
 * A zip or a JSON document, by the file's name or type, else by its first bytes (a zip starts
 * with "PK", a JSON workflow with "{" after any blank). Null for anything else.
 */
export async function kindOf(file: File): Promise<SubmissionKind | null> {
  const name = file.name.toLowerCase();
  if (name.endsWith('.zip') || /zip/.test(file.type)) return 'zip';
  if (name.endsWith('.json') || file.type === 'application/json') return 'json';
  const head = new Uint8Array(await file.slice(0, 64).arrayBuffer());
  if (head[0] === 0x50 && head[1] === 0x4b) return 'zip';
  const firstText = new TextDecoder().decode(head).trimStart();
  return firstText.startsWith('{') ? 'json' : null;
}

export type SubmissionOutcome =
  { state: 'stored'; version: SubmittedVersion } | { state: 'pending'; jobId: string };

/** Sends the file; resolves with the version or the job, rejects with the gateway's ApiError. */
export async function submitWorkflow(file: File, kind: SubmissionKind): Promise<SubmissionOutcome> {
  const { data, error, response } = await api.POST('/v1/workflows', {
    params: { query: { wait: 'true', wait_ms: SUBMIT_WAIT_MS } },
    headers: { 'Content-Type': contentTypes[kind] },
    body: file,
    // The bytes as they are: openapi-fetch would otherwise JSON-encode the body.
    bodySerializer: (body) => body,
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

export type JobOutcome =
  | { state: 'pending' }
  | { state: 'stored'; version: SubmittedVersion }
  | { state: 'refused'; error: ApiError };

/**
 * What a submission job amounts to. The contract types a job's `result` as unknown (jobs are
 * generic); a resolve job's result is the version summary, checked here before it is read.
 */
export function jobOutcome(job: Job): JobOutcome {
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

export async function readJob(jobId: string, signal: AbortSignal): Promise<Job> {
  const { data, error, response } = await api.GET('/v1/jobs/{job_id}', {
    params: { path: { job_id: jobId } },
    signal,
  });
  if (data === undefined) throw apiError(response, error ?? null);
  return data;
}
