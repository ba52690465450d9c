/**
 * Compile-time proofs that the generated client is usable as documented (docs/client.md). The
 * build compiles this file and nothing calls it: a contract change that breaks a usage below
 * breaks `npm run build`. No `as` anywhere: each check must hold on the generated types alone.
 * Each `@ts-expect-error` line is a use that must NOT compile; if it ever does, the directive
 * itself becomes the error.
 */
import {
  createStepwiseClient,
  withStatus,
  type AnswerBody,
  type StepwiseClient,
  type StatusAnswer,
} from './index.js';
import type { paths } from './schema.js';

/** A JSON workflow submission's body, as the generated types take it. */
type WorkflowJson = paths['/v1/workflows']['post']['requestBody']['content']['application/json'];

/** Both types are the same type (not just assignable one way). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const client: StepwiseClient = createStepwiseClient({
  baseUrl: 'http://127.0.0.1:8080',
  apiKey: 'sk_example',
});

/** A JSON upload is typed as the workflow definition: its fields, not any object. */
export async function jsonWorkflowUpload(): Promise<void> {
  const workflow = {
    workflow_id: 'pet_clips',
    name: 'Pet clips',
    initial_state: { topic: 'cats' },
    steps: [
      {
        step_id: 'ideas',
        modules: [
          {
            module_id: 'user_input',
            name: 'pick_idea',
            inputs: { prompt: 'Which idea?' },
            outputs_to_state: { response: 'idea' },
          },
        ],
      },
    ],
  };
  await client.POST('/v1/workflows', {
    body: workflow,
    headers: { 'content-type': 'application/json' },
    params: { query: { wait: 'false' } },
  });

  // The definition's fields have their types: a reader gets strings and arrays, not `unknown`.
  const read = (definition: WorkflowJson): string[] => [
    definition.workflow_id,
    ...definition.steps.map((step) => step.step_id),
  ];
  read(workflow);

  await client.POST('/v1/workflows', {
    // @ts-expect-error a workflow needs `steps`: a JSON body is a workflow definition, not any object
    body: { workflow_id: 'pet_clips' },
  });
  await client.POST('/v1/workflows', {
    // @ts-expect-error `workflow_id` is a string
    body: { workflow_id: 42, steps: [] },
  });
}

/** A zip upload from bytes in memory compiles as-is: no cast, no conversion. */
export async function zipUploads(bytes: Uint8Array, file: Blob): Promise<void> {
  await client.POST('/v1/workflows', { body: bytes });
  await client.POST('/v1/workflows', {
    body: file,
    headers: { 'content-type': 'application/x-zip-compressed' },
    params: { query: { entry_point: 'workflow.json' } },
  });
  // Resuming a run with the workflow changed takes the same kinds of body, or none.
  await client.POST('/v1/runs/{id}/resume', { params: { path: { id: 'run_1' } }, body: bytes });
  await client.POST('/v1/runs/{id}/resume', { params: { path: { id: 'run_1' } } });

  // @ts-expect-error a zip is bytes, not text
  await client.POST('/v1/workflows', { body: 'PK\u0003\u0004' });
}

/** POST /v1/workflows: 201 a new version, 200 the version it already was, 202 `{job_id}`. */
export async function submissionStatuses(bytes: Uint8Array): Promise<string> {
  const answer = await client.POST('/v1/workflows', { body: bytes });

  // openapi-fetch's `data` is the union of the success bodies: it cannot be read as a version
  // without looking at the status first.
  if (answer.data) {
    // @ts-expect-error `data` may be a 202 `{job_id}`, which has no version
    void answer.data.workflow_version_id;
  }

  const outcome = withStatus(answer);
  switch (outcome.status) {
    case 201:
    case 200: {
      const created: boolean = outcome.body.created;
      return `${outcome.body.workflow_version_id} ${created}`;
    }
    case 202: {
      // @ts-expect-error a pending submission's answer is `{job_id}`, not a version summary
      void outcome.body.workflow_version_id;
      return outcome.body.job_id;
    }
    default: {
      // Every other documented status is an error envelope with a stable code.
      return outcome.body.error.code;
    }
  }
}

/** Command routes answer their run: 200 once applied, 202 accepted but not applied yet. */
export async function commandStatuses(): Promise<string> {
  const outcome = withStatus(
    await client.POST('/v1/runs/{id}/cancel', {
      params: { path: { id: 'run_1' }, query: { wait_ms: 2000 } },
      headers: { 'idempotency-key': 'cancel-run_1' },
    }),
  );
  switch (outcome.status) {
    case 200:
      return outcome.body.status;
    case 202: {
      // @ts-expect-error a command's 202 is the run as accepted, not a job
      void outcome.body.job_id;
      return outcome.body.workflow_run_id;
    }
    default:
      return outcome.body.error.code;
  }
}

/**
 * POST /v1/runs/{id}/resume: 200 the run, 202 either `{job_id}` (the submitted workflow is still
 * being resolved) or the run as accepted; 409 VERSION_MISMATCH when the workflow differs.
 */
export async function resumeStatuses(bytes: Uint8Array): Promise<string> {
  const outcome = withStatus(
    await client.POST('/v1/runs/{id}/resume', { params: { path: { id: 'run_1' } }, body: bytes }),
  );
  switch (outcome.status) {
    case 200:
      return outcome.body.workflow_run_id;
    case 202: {
      // @ts-expect-error a 202 may be the run as accepted: look for `job_id` first
      void outcome.body.job_id;
      if ('job_id' in outcome.body) return outcome.body.job_id;
      return outcome.body.workflow_run_id;
    }
    case 409:
      return outcome.body.error.code;
    default:
      return outcome.body.error.message;
  }
}

/** POST /v1/runs: 201 the new run once its first command applied, 202 the run as accepted. */
export async function startRunStatuses(): Promise<string> {
  const outcome = withStatus(
    await client.POST('/v1/runs', {
      body: { workflow_template_name: 'pet_clips', project_name: 'cats' },
    }),
  );
  switch (outcome.status) {
    case 201:
    case 202:
      return outcome.body.workflow_run_id;
    default:
      return outcome.body.error.code;
  }
}

/** POST /v1/runs/{id}/resume/confirm: 200 the run, 201 a new run (start_fresh), 202 accepted. */
export async function confirmStatuses(): Promise<string> {
  const outcome = withStatus(
    await client.POST('/v1/runs/{id}/resume/confirm', {
      params: { path: { id: 'run_1' } },
      body: { choice: 'start_fresh', submitted_version_id: 'ver_2' },
    }),
  );
  switch (outcome.status) {
    case 200:
    case 201:
    case 202:
      return outcome.body.workflow_run_id;
    default:
      return outcome.body.error.code;
  }
}

/** A 204 has no body; the other statuses of a route are not confused with it. */
export async function revokeKey(): Promise<boolean> {
  const outcome = withStatus(
    await client.DELETE('/v1/me/keys/{key_id}', { params: { path: { key_id: 'key_1' } } }),
  );
  if (outcome.status === 204) {
    const nothing: undefined = outcome.body;
    return nothing === undefined;
  }
  return outcome.body.error.code === 'NOT_FOUND';
}

/** Statuses a route does not document do not compile, and bodies are named by status. */
export function namedBodies(
  pending: AnswerBody<'/v1/workflows', 'post', 202>,
  existing: AnswerBody<'/v1/workflows', 'post', 200>,
): string[] {
  // @ts-expect-error GET /v1/me answers 200, never 201
  const _never: AnswerBody<'/v1/me', 'get', 201> = undefined;
  const sameShape: Same<
    AnswerBody<'/v1/workflows', 'post', 200>,
    AnswerBody<'/v1/workflows', 'post', 201>
  > = true;
  // @ts-expect-error `{job_id}` is not a version summary
  const _wrong: AnswerBody<'/v1/workflows', 'post', 201> = pending;
  return [pending.job_id, existing.workflow_version_id, String(sameShape)];
}

/** The success statuses of the routes above, exactly (a missing or extra one fails here). */
type SuccessOf<Operation> = Extract<StatusAnswer<Operation>['status'], 200 | 201 | 202 | 204>;
export const successStatuses: {
  submit: Same<SuccessOf<paths['/v1/workflows']['post']>, 200 | 201 | 202>;
  start: Same<SuccessOf<paths['/v1/runs']['post']>, 201 | 202>;
  cancel: Same<SuccessOf<paths['/v1/runs/{id}/cancel']['post']>, 200 | 202>;
  retry: Same<SuccessOf<paths['/v1/runs/{id}/retry']['post']>, 200 | 202>;
  answer: Same<SuccessOf<paths['/v1/runs/{id}/interactions/{interaction_id}']['post']>, 200 | 202>;
  branch: Same<SuccessOf<paths['/v1/runs/{id}/branches']['post']>, 201 | 202>;
  resume: Same<SuccessOf<paths['/v1/runs/{id}/resume']['post']>, 200 | 202>;
  confirm: Same<SuccessOf<paths['/v1/runs/{id}/resume/confirm']['post']>, 200 | 201 | 202>;
  revoke: Same<SuccessOf<paths['/v1/me/keys/{key_id}']['delete']>, 204>;
} = {
  submit: true,
  start: true,
  cancel: true,
  retry: true,
  answer: true,
  branch: true,
  resume: true,
  confirm: true,
  revoke: true,
};
