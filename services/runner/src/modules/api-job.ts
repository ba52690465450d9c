import { z } from 'zod';
import {
  builtInModuleDeclarations,
  type JobModule,
  type JobReport,
  type ModuleRunContext,
} from '@stepwise/shared';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { ModuleFailure, refuseUnstorable } from '../engine/module-failure.js';
import type { DestinationPolicy } from '@stepwise/shared/node';
import { sendOutbound, type OutboundResponse } from '../outbound/http-client.js';
import { createJobResults, outboundFailure, storedArtifactSchema } from './job-results.js';
import { asText, selectOne } from './json-path.js';

export interface JobSettings {
  /** The outbound rules of `api.fetch`: the same allow-list and address checks. */
  policy: DestinationPolicy;
  /** Largest answer read from a submission or a status check. */
  maxResponseBytes: number;
  /** Largest result file stored (each is one artifact). */
  maxResultBytes: number;
  defaultTimeoutMs: number;
  artifacts: ArtifactStore;
}

type JobInputs = z.output<(typeof builtInModuleDeclarations)['api.job']['inputs']>;
type JobCall = JobInputs['submit'];

/** The provider's own words about a failure: a string, an object's `message`, or its JSON. */
function providerMessage(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string')
    return (value as { message: string }).message;
  return JSON.stringify(value).slice(0, 500);
}

function parseJson(response: OutboundResponse, what: string): unknown {
  try {
    return JSON.parse(response.body.toString('utf8')) as unknown;
  } catch {
    throw new ModuleFailure('JOB_ANSWER_INVALID', `${what} did not answer JSON`, false);
  }
}

async function call(
  settings: JobSettings,
  inputs: JobInputs,
  request: JobCall,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  maxResponseBytes = settings.maxResponseBytes,
): Promise<OutboundResponse> {
  const body = request.body;
  let payload: string | undefined;
  if (body !== undefined && body !== null) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (typeof body !== 'string' && !hasHeader(headers, 'content-type'))
      headers['content-type'] = 'application/json';
  }
  return sendOutbound(settings.policy, {
    url,
    method: request.method ?? (payload === undefined ? 'GET' : 'POST'),
    headers,
    ...(payload === undefined ? {} : { body: payload }),
    timeoutMs: inputs.request_timeout_ms ?? settings.defaultTimeoutMs,
    maxResponseBytes,
    signal,
  });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((header) => header.toLowerCase() === name);
}

/** A refusal by the provider (4xx): its message, and no retry (it would say the same). */
function refusal(
  code: string,
  what: string,
  response: OutboundResponse,
  inputs: JobInputs,
): ModuleFailure {
  let said: string | null = null;
  try {
    said = providerMessage(selectOne(inputs.error_path, parseJson(response, what)));
  } catch {
    said = response.body.toString('utf8').slice(0, 300) || null;
  }
  const retryable = response.status >= 500 || response.status === 429;
  return new ModuleFailure(
    retryable ? 'HTTP_ERROR' : code,
    `${what} answered ${response.status}${said ? `: ${said}` : ''}`,
    retryable,
  );
}

/**
 * `api.job` (media.md, "Providers that take their time"): submits once per attempt with the
 * attempt's idempotency key, reads the job id, and reports; the engine records `job_submitted` and
 * checks again at each durable timer. When the job succeeds its result files (URLs or base64) are
 * downloaded under the same outbound rules, checked by their bytes against `accept`, and stored as
 * artifacts. A provider that answers with the files at once (no `job_id_path`) is the same case
 * with no polling.
 */
export function createApiJob(settings: JobSettings): JobModule {
  const declaration = builtInModuleDeclarations['api.job'];
  const parse = (inputs: Record<string, unknown>): JobInputs => declaration.inputs.parse(inputs);
  const { storeFile, storeResults } = createJobResults(settings);

  /** Where an answer (the submission's or a status check's) says the job stands. */
  async function evaluate(
    inputs: JobInputs,
    answer: unknown,
    jobId: string | null,
    context: ModuleRunContext,
    synchronous: boolean,
  ): Promise<JobReport> {
    const status = asText(selectOne(inputs.status_path, answer)) ?? null;
    if (status !== null && inputs.failure_values.includes(status)) {
      const said = providerMessage(selectOne(inputs.error_path, answer));
      return {
        state: 'failed',
        job_id: jobId,
        status,
        error: {
          code: 'JOB_FAILED',
          message: `the provider reports job ${jobId ?? '(synchronous)'} as ${status}${said ? `: ${said}` : ''}`,
        },
      };
    }
    const done = synchronous || (status !== null && inputs.success_values.includes(status));
    if (!done) return { state: 'running', job_id: jobId ?? '', status };
    const stored = await storeResults(inputs, answer, context);
    const outputs = { job_id: jobId, status, ...stored, result: answer };
    refuseUnstorable(outputs, '', {
      code: 'JOB_ANSWER_UNSTORABLE',
      subject: 'the job’s final answer',
      retryable: false,
    });
    return {
      state: 'succeeded',
      job_id: jobId,
      status,
      outputs,
      artifact_ids: stored.artifact_ids,
    };
  }

  return {
    id: 'api.job',
    ...declaration,
    interactive: false,
    job: true,
    outputs: z.object({
      job_id: z.string().nullable(),
      status: z.string().nullable(),
      artifact_ids: z.array(z.string()),
      artifacts: z.array(storedArtifactSchema),
      result: z.unknown(),
    }),
    schedule(raw) {
      const inputs = parse(raw);
      const { initial_ms: initial, max_ms: max, factor } = inputs.poll;
      return {
        // From the submission time alone, so a runner that starts cold backs off the same way:
        // checks fall at initial, initial·factor, initial·factor², … up to max apart.
        nextPollDelayMs: (since) =>
          Math.round(Math.min(max, Math.max(initial, since * (factor - 1)))),
        timeoutMs: inputs.timeout_ms,
      };
    },
    async submit(raw, context) {
      const inputs = parse(raw);
      const headers = { ...(inputs.submit.headers ?? {}) };
      // A submission repeated after a crash (before `job_submitted` was committed) carries the
      // same key, so a provider that honours keys starts one job (effects.md, rule 3).
      if (inputs.idempotency_key !== false && !hasHeader(headers, 'idempotency-key'))
        headers['idempotency-key'] = context.run.idempotency_key;
      let response: OutboundResponse;
      try {
        response = await call(
          settings,
          inputs,
          { ...inputs.submit, method: inputs.submit.method ?? 'POST' },
          inputs.submit.url,
          headers,
          context.signal,
          // A synchronous provider answers with the files themselves.
          inputs.job_id_path ? settings.maxResponseBytes : settings.maxResultBytes,
        );
      } catch (error) {
        throw outboundFailure(error, 'submitting the job');
      }
      if (response.status < 200 || response.status > 299)
        throw refusal('JOB_SUBMIT_REFUSED', 'submitting the job', response, inputs);
      // A synchronous provider may answer with the file itself rather than JSON about it.
      if (
        !inputs.job_id_path &&
        !/\bjson\b/i.test(String(response.headers['content-type'] ?? ''))
      ) {
        const stored = await storeFile(inputs, response.body, 0, context);
        const files = { artifact_ids: [stored.artifact_id], artifacts: [stored] };
        return {
          state: 'succeeded',
          job_id: null,
          status: null,
          outputs: { job_id: null, status: null, ...files, result: null },
          artifact_ids: files.artifact_ids,
        };
      }
      const answer = parseJson(response, 'submitting the job');
      if (!inputs.job_id_path) return evaluate(inputs, answer, null, context, true);
      const jobId = asText(selectOne(inputs.job_id_path, answer));
      if (!jobId)
        throw new ModuleFailure(
          'JOB_ANSWER_INVALID',
          `the submission's answer has no job id at '${inputs.job_id_path}'`,
          false,
        );
      return evaluate(inputs, answer, jobId, context, false);
    },
    async poll(raw, context, job) {
      const inputs = parse(raw);
      if (!inputs.status)
        throw new ModuleFailure(
          'INPUT_INVALID',
          'inputs.status: a job with a job_id_path needs a status call to check it',
          false,
        );
      const url = inputs.status.url.replaceAll('{job_id}', encodeURIComponent(job.job_id));
      let response: OutboundResponse;
      try {
        response = await call(
          settings,
          inputs,
          { ...inputs.status, method: inputs.status.method ?? 'GET' },
          url,
          { ...(inputs.status.headers ?? {}) },
          context.signal,
        );
      } catch (error) {
        const failure = outboundFailure(error, `checking job ${job.job_id}`);
        // The network or the provider having a bad moment: check again at the next poll.
        if (failure instanceof ModuleFailure && failure.retryable)
          return { state: 'running', job_id: job.job_id, status: job.status };
        throw failure;
      }
      if (response.status >= 500 || response.status === 429)
        return { state: 'running', job_id: job.job_id, status: job.status };
      if (response.status < 200 || response.status > 299)
        throw refusal('JOB_STATUS_REFUSED', `checking job ${job.job_id}`, response, inputs);
      return evaluate(
        inputs,
        parseJson(response, `checking job ${job.job_id}`),
        job.job_id,
        context,
        false,
      );
    },
  };
}
